// Files, secrets, shell quoting and the clock for provision-x.

#ifndef PROVISION_X_TOOLS_IO_HPP
#define PROVISION_X_TOOLS_IO_HPP

#include <cstdint>
#include <string>
#include <string_view>

namespace provision_x::cli {

// The whole file; "-" is standard input.  io_error when unreadable.
std::string read_file(const std::string &path);

// A secret file as the module reads it: trailing CR, LF, space and tab
// removed.  io_error when unreadable, usage_error when empty.  The secret
// is never printed by any sub-command.
std::string read_secret(const std::string &path);

// One POSIX shell word: 'it'\''s'.  usage_error for a NUL byte, which no
// shell word can carry.
std::string shell_quote(std::string_view s);

// "name=value" -> (name, value); usage_error without '=' or with an empty
// name.
void split_param(const std::string &arg, std::string &name, std::string &value);

std::int64_t now_epoch();

// yyyy-MM-ddTHH:mm:ssZ for `epoch`.
std::string utc_text(std::int64_t epoch);

// 32 random hex digits (core make_nonce); io_error when OpenSSL fails.
std::string fresh_nonce();

} // namespace provision_x::cli

#endif
