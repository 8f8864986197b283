/*
 * The C/C++ seam: the only place that includes nginx.
 *
 * nginx's headers carry no extern "C", and they must come before any
 * standard header because they define the 64-bit off_t the rest of the
 * process uses.  Every glue header includes this one first.
 */

#ifndef NGX_HTTP_PROVISION_X_HPP
#define NGX_HTTP_PROVISION_X_HPP

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}

/*
 * The oldest nginx with every API the module uses:
 * ngx_ssl_client_session_cache() appeared in 1.15.2 (r->preserve_body, the
 * next newest, in 1.13.4).  config refuses older trees as well.
 */
#if (nginx_version < 1015002)
#error "ngx_http_provision_x_module needs nginx 1.15.2 or newer"
#endif

#include <string_view>

/* What a directive handler returns on error; NGX_CONF_ERROR is void *. */
#define NGX_HTTP_PROVISION_X_CONF_ERROR static_cast<char *>(NGX_CONF_ERROR)

namespace provision_x {

inline std::string_view
view(const ngx_str_t &s) noexcept
{
    return {reinterpret_cast<const char *>(s.data), s.len};
}

/* nginx wants char * for its messages; literals are const in C++. */
inline char *
conf_message(const char *text) noexcept
{
    return const_cast<char *>(text);
}

} // namespace provision_x

#endif /* NGX_HTTP_PROVISION_X_HPP */
