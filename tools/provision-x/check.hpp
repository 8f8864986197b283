// provision-x check: verify a captured request step by step with the
// module's own core functions, and say which step differs.

#ifndef PROVISION_X_TOOLS_CHECK_HPP
#define PROVISION_X_TOOLS_CHECK_HPP

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace provision_x::cli {

struct captured_request {
    std::string method;
    std::string target; // path and query, or a full URL
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

// A raw HTTP/1.x request: request line, header lines, an empty line, the
// body (CRLF or LF line ends).  usage_error when malformed.
captured_request parse_raw_request(const std::string &raw);

struct check_input {
    std::string dialect; // huawei | aliyun
    std::string secret;
    std::string app;              // expected app (optional)
    std::string encoder = "java"; // aliyun reading
    std::string key = "plain";
    bool second_encoding = true;
    std::int64_t now = 0;
    std::int64_t past = 900;
    std::int64_t future = 900;
    bool show_digest = false;
};

struct check_report {
    std::vector<std::string> lines;  // printed as they are
    std::vector<std::string> failed; // names of the steps that differ
    bool verifies() const
    {
        return failed.empty();
    }
};

check_report check_request(const captured_request &r, const check_input &in);

int run_check(int argc, char **argv);

extern const char check_help[];

} // namespace provision_x::cli

#endif
