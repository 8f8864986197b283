/*
 * Fault injection, for the test build only (make test-faults compiles the
 * module with -DNGX_HTTP_PROVISION_X_FAULTS=1; every other build has no
 * trace of it).  A process reads PROVISION_X_FAULT (a worker's is set with
 * nginx's "env" directive) at its first fault point: a comma-separated
 * list of points that then fail on every pass, so t/090-faults.t can prove that
 * each failure inside the gateway answers 5xx and marks nothing seen.
 *
 * The same build lets a test move the clock: NGX_HTTP_PROVISION_X_NOW() is
 * what verification (the freshness window) and the nonce and dedup zones
 * (expiry) take for "now".  Elsewhere it is ngx_time(); here it is
 * ngx_time() plus the seconds written in the file that
 * PROVISION_X_CLOCK_OFFSET_FILE names (nginx's "env" directive), read
 * again on every use, so t/091-beijing-clock.t can cross an 8-hour
 * retention while nginx runs.
 */

#ifndef NGX_HTTP_PROVISION_X_FAULTS_HPP
#define NGX_HTTP_PROVISION_X_FAULTS_HPP

#include "ngx_http_provision_x.hpp"

#if (NGX_HTTP_PROVISION_X_FAULTS)

bool ngx_http_provision_x_fault(const char *point) noexcept;
time_t ngx_http_provision_x_fault_now() noexcept;

#define NGX_HTTP_PROVISION_X_FAULT(point) ngx_http_provision_x_fault(point)
#define NGX_HTTP_PROVISION_X_NOW() ngx_http_provision_x_fault_now()

#else

#define NGX_HTTP_PROVISION_X_FAULT(point) false
#define NGX_HTTP_PROVISION_X_NOW() ngx_time()

#endif

#endif /* NGX_HTTP_PROVISION_X_FAULTS_HPP */
