/*
 * Fault injection and the movable clock for the test build (see the
 * header).
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

/* A test moves the clock by a year at most. */
static const long long ngx_http_provision_x_max_clock_offset = 366 * 86400;

/*
 * The seconds in the file PROVISION_X_CLOCK_OFFSET_FILE names, read on
 * every use, so a test moves the clock while nginx runs; no file, or no
 * number in it, moves nothing.  A process logs each new offset it sees.
 */
static time_t
ngx_http_provision_x_clock_offset() noexcept
{
    static time_t logged;

    const char *path = std::getenv("PROVISION_X_CLOCK_OFFSET_FILE");
    if (path == NULL || path[0] == '\0') {
        return 0;
    }

    char text[32];
    ssize_t n = NGX_ERROR;
    ngx_fd_t fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd != NGX_INVALID_FILE) {
        n = ngx_read_fd(fd, text, sizeof(text) - 1);
        ngx_close_file(fd);
    }

    time_t offset = 0;

    if (n > 0) {
        char *end;

        text[n] = '\0';
        long long seconds = std::strtoll(text, &end, 10);

        if (end != text && seconds >= -ngx_http_provision_x_max_clock_offset
            && seconds <= ngx_http_provision_x_max_clock_offset)
        {
            offset = static_cast<time_t>(seconds);
        }
    }

    if (offset != logged) {
        logged = offset;
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "provision_x: fault injection build, clock moved by "
                      "%T s",
                      offset);
    }

    return offset;
}

time_t
ngx_http_provision_x_fault_now() noexcept
{
    return ngx_time() + ngx_http_provision_x_clock_offset();
}

#endif
