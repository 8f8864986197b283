// The HTTP(S) client of `simulate`, on libcurl: one request per
// connection, HTTP/1.1, TLS verified against the system's CAs unless told
// otherwise.  Loopback targets only unless the caller allows remote ones.

#ifndef PROVISION_X_TOOLS_HTTP_CLIENT_HPP
#define PROVISION_X_TOOLS_HTTP_CLIENT_HPP

#include <string>
#include <utility>
#include <vector>

namespace provision_x::cli {

struct http_url {
    std::string url; // as given
    bool tls = false;
    std::string host;
    std::string port = "80";
    std::string target = "/"; // path and query
};

// http[s]://host[:port][/path]; usage_error for anything else.
http_url parse_http_url(const std::string &url);

struct http_response {
    int status = 0;    // 0: no response (see error)
    std::string error; // connection, TLS or protocol failure
    std::string body;
    double seconds = 0; // from connect to the last byte
};

struct http_client_options {
    double timeout = 5; // seconds, for connect and for the whole exchange
    bool allow_remote = false;
    bool insecure = false; // https: do not verify the certificate
    std::string cacert;    // https: trust these CAs (PEM) instead
};

// usage_error when the host resolves to a non-loopback address and remote
// targets are not allowed; every network or TLS failure is reported in
// the response instead.
http_response
http_send(const http_url &url, const std::string &method,
          const std::vector<std::pair<std::string, std::string>> &headers,
          const std::string &body, const http_client_options &opt);

// "libcurl/7.88.1 OpenSSL/3.0.15 ...", for --version.
std::string http_client_version();

} // namespace provision_x::cli

#endif
