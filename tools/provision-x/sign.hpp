// provision-x sign: build a request the way the platform (or, for
// aliyun-pop, the customer) signs it, from src/core's signers only.

#ifndef PROVISION_X_TOOLS_SIGN_HPP
#define PROVISION_X_TOOLS_SIGN_HPP

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace provision_x::cli {

using name_value = std::pair<std::string, std::string>;

struct sign_input {
    std::string dialect; // huawei | aliyun | aliyun-pop
    std::string app;     // Huawei Username, POP AccessKeyId
    std::string secret;
    std::string url;
    std::string method; // empty: the dialect's default
    std::vector<name_value> params;
    std::string body;
    bool has_body = false;
    std::string content_type;      // empty: the dialect's default
    std::string carrier = "query"; // aliyun: query | form
    std::string encoder = "java";  // aliyun: java | rfc3986
    std::string key = "plain";     // aliyun: plain | ampersand
    std::string nonce;             // empty: fresh
    std::int64_t now = 0;          // signing time (epoch seconds)
    std::string timestamp;         // empty: utc_text(now)
};

struct signed_request {
    std::string method;
    std::string url; // with the query, when there is one
    std::string query;
    std::vector<name_value> headers;
    std::string body;
    bool has_body = false;
};

// usage_error for inputs the receiver would refuse, io_error when OpenSSL
// fails.
signed_request sign_request(const sign_input &in);

// `curl` command line, shell-quoted: `provision-x sign ... | sh` runs it.
std::string format_curl(const signed_request &r);

// A raw HTTP/1.1 request, as `check --request-file` reads it.
std::string format_http(const signed_request &r);

int run_sign(int argc, char **argv);

extern const char sign_help[];

} // namespace provision_x::cli

#endif
