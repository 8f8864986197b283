#include "args.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace provision_x::cli {

static bool
listed(std::initializer_list<const char *> list, const std::string &name)
{
    return std::any_of(list.begin(), list.end(),
                       [&](const char *s) { return name == s; });
}

options::options(int argc, char **argv,
                 std::initializer_list<const char *> valued,
                 std::initializer_list<const char *> flags)
{
    bool only_positional = false;

    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];

        if (a == "-h" && !only_positional && listed(flags, "help")) {
            a = "--help";
        }

        if (only_positional || a.size() < 3 || a.compare(0, 2, "--") != 0) {
            if (a == "--") {
                only_positional = true;
                continue;
            }
            positional_.push_back(a);
            continue;
        }

        std::string name = a.substr(2);
        std::string value;
        bool inline_value = false;
        auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
            inline_value = true;
        }

        if (listed(flags, name)) {
            if (inline_value) {
                throw usage_error("--" + name + " takes no value");
            }
            values_.emplace_back(name, "");
        } else if (listed(valued, name)) {
            if (!inline_value) {
                if (i + 1 >= argc) {
                    throw usage_error("--" + name + " needs a value");
                }
                value = argv[++i];
            }
            values_.emplace_back(name, value);
        } else {
            throw usage_error("unknown option --" + name);
        }
    }
}

bool
options::has(const std::string &name) const
{
    return std::any_of(values_.begin(), values_.end(),
                       [&](const auto &v) { return v.first == name; });
}

std::string
options::get(const std::string &name, const std::string &def) const
{
    for (auto it = values_.rbegin(); it != values_.rend(); ++it) {
        if (it->first == name) {
            return it->second;
        }
    }
    return def;
}

std::string
options::require(const std::string &name) const
{
    if (!has(name)) {
        throw usage_error("--" + name + " is required");
    }
    return get(name, "");
}

std::vector<std::string>
options::all(const std::string &name) const
{
    std::vector<std::string> out;
    for (const auto &v : values_) {
        if (v.first == name) {
            out.push_back(v.second);
        }
    }
    return out;
}

std::string
options::choice(const std::string &name, const std::string &def,
                std::initializer_list<const char *> choices) const
{
    std::string v = get(name, def);
    if (listed(choices, v)) {
        return v;
    }
    std::string msg = "--" + name + " must be one of:";
    for (const char *c : choices) {
        msg += ' ';
        msg += c;
    }
    throw usage_error(msg);
}

long long
options::number(const std::string &name, long long def, long long min,
                long long max) const
{
    if (!has(name)) {
        return def;
    }
    std::string v = get(name, "");
    char *end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || n < min || n > max) {
        throw usage_error("--" + name + " must be an integer from "
                          + std::to_string(min) + " to " + std::to_string(max));
    }
    return n;
}

double
options::real(const std::string &name, double def, double min, double max) const
{
    if (!has(name)) {
        return def;
    }
    std::string v = get(name, "");
    char *end = nullptr;
    errno = 0;
    double n = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno != 0 || !(n >= min && n <= max)) {
        throw usage_error("--" + name + " must be a number from "
                          + std::to_string(min) + " to " + std::to_string(max));
    }
    return n;
}

} // namespace provision_x::cli
