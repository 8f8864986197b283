/*
 * Fault injection for the test build (see the header).
 */

#include "ngx_http_provision_x_faults.hpp"

#if (NGX_HTTP_PROVISION_X_FAULTS)

#include <cstdlib>
#include <cstring>

/*
 * Read once per process: workers see what nginx's "env" directive gives
 * them, the master its own environment (for the zones it creates).
 */
static const char *
ngx_http_provision_x_fault_points() noexcept
{
    static char points[256];
    static ngx_pid_t read_by; /* a worker forked after the master read */

    if (read_by != ngx_pid) {
        const char *env = std::getenv("PROVISION_X_FAULT");

        read_by = ngx_pid;
        points[0] = '\0';

        if (env != NULL && env[0] != '\0') {
            ngx_cpystrn(reinterpret_cast<u_char *>(points),
                        reinterpret_cast<u_char *>(const_cast<char *>(env)),
                        sizeof(points));

            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "provision_x: fault injection build, failing "
                          "\"%s\"",
                          points);
        }
    }

    return points;
}

bool
ngx_http_provision_x_fault(const char *point) noexcept
{
    size_t n = std::strlen(point);
    const char *p = ngx_http_provision_x_fault_points();

    while (*p) {
        const char *end = std::strchr(p, ',');
        size_t len = end ? static_cast<size_t>(end - p) : std::strlen(p);

        if (len == n && std::strncmp(p, point, n) == 0) {
            return true;
        }

        if (end == NULL) {
            break;
        }

        p = end + 1;
    }

    return false;
}

#endif
