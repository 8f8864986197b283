#include "io.hpp"
#include "args.hpp"

#include "core/clock.hpp"
#include "core/signature.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace provision_x::cli {

std::string
read_file(const std::string &path)
{
    if (path == "-") {
        std::ostringstream s;
        s << std::cin.rdbuf();
        if (std::cin.bad()) {
            throw io_error("cannot read standard input");
        }
        return s.str();
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        throw io_error("cannot open " + path + ": " + std::strerror(errno));
    }
    std::string data((std::istreambuf_iterator<char>(f)),
                     std::istreambuf_iterator<char>());
    if (f.bad()) {
        throw io_error("cannot read " + path);
    }
    return data;
}

std::string
read_secret(const std::string &path)
{
    std::string s = read_file(path);
    while (!s.empty()
           && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '
               || s.back() == '\t'))
    {
        s.pop_back();
    }
    if (s.empty()) {
        throw usage_error("secret file " + path + " is empty");
    }
    return s;
}

std::string
shell_quote(std::string_view s)
{
    std::string out = "'";
    for (char c : s) {
        if (c == '\0') {
            throw usage_error("a NUL byte cannot be passed to a shell");
        }
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

void
split_param(const std::string &arg, std::string &name, std::string &value)
{
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw usage_error("--param wants name=value, got \"" + arg + "\"");
    }
    name = arg.substr(0, eq);
    value = arg.substr(eq + 1);
}

std::int64_t
now_epoch()
{
    return static_cast<std::int64_t>(std::time(nullptr));
}

std::string
utc_text(std::int64_t epoch)
{
    utc_timestamp_text t;
    if (!format_utc_timestamp(epoch, t)) {
        throw usage_error("time out of range");
    }
    return std::string(t.data(), t.size());
}

std::string
fresh_nonce()
{
    std::array<char, 32> n;
    if (!make_nonce(n)) {
        throw io_error("OpenSSL could not produce random bytes");
    }
    return std::string(n.data(), n.size());
}

} // namespace provision_x::cli
