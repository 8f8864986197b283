// Command-line parsing for provision-x: "--name value", "--name=value",
// repeated options, value-less flags and the documented exit codes.

#ifndef PROVISION_X_TOOLS_ARGS_HPP
#define PROVISION_X_TOOLS_ARGS_HPP

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace provision_x::cli {

// The exit codes of every sub-command (README, "provision-x").
constexpr int exit_ok = 0;      // signed / verifies / all acknowledged
constexpr int exit_failure = 1; // does not verify / records given up
constexpr int exit_usage = 2;   // bad command line or bad input
constexpr int exit_io = 3;      // a file, socket or OpenSSL failed

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct io_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class options {
public:
    // `valued` names the options that take a value, `flags` those that do
    // not (both without the leading "--").  Anything else starting with
    // "--" is a usage_error; other words are positional.  "-h" is
    // "--help" wherever "help" is a flag.
    options(int argc, char **argv, std::initializer_list<const char *> valued,
            std::initializer_list<const char *> flags);

    bool has(const std::string &name) const;
    // The last value given, or `def`.
    std::string get(const std::string &name, const std::string &def) const;
    // The last value given; usage_error when absent.
    std::string require(const std::string &name) const;
    std::vector<std::string> all(const std::string &name) const;
    // One of `choices` (default `def`), else usage_error.
    std::string choice(const std::string &name, const std::string &def,
                       std::initializer_list<const char *> choices) const;
    long long number(const std::string &name, long long def, long long min,
                     long long max) const;
    double real(const std::string &name, double def, double min,
                double max) const;

    const std::vector<std::string> &positional() const
    {
        return positional_;
    }

private:
    std::vector<std::pair<std::string, std::string>> values_;
    std::vector<std::string> positional_;
};

} // namespace provision_x::cli

#endif
