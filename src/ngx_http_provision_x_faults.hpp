/*
 * Fault injection, for the test build only (make test-faults compiles the
 * module with -DNGX_HTTP_PROVISION_X_FAULTS=1; every other build has no
 * trace of it).  A process reads PROVISION_X_FAULT (a worker's is set with
 * nginx's "env" directive) at its first fault point: a comma-separated
 * list of points that then fail on every pass, so t/090-faults.t can prove that
 * each failure inside the gateway answers 5xx and marks nothing seen.
 */

#ifndef NGX_HTTP_PROVISION_X_FAULTS_HPP
#define NGX_HTTP_PROVISION_X_FAULTS_HPP

#include "ngx_http_provision_x.hpp"

#if (NGX_HTTP_PROVISION_X_FAULTS)

bool ngx_http_provision_x_fault(const char *point) noexcept;

#define NGX_HTTP_PROVISION_X_FAULT(point) ngx_http_provision_x_fault(point)

#else

#define NGX_HTTP_PROVISION_X_FAULT(point) false

#endif

#endif /* NGX_HTTP_PROVISION_X_FAULTS_HPP */
