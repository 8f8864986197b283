// Grammar of Huawei's authentication headers (spec §3.2, §6.2, A-13..A-15):
//
//   Authorization: AKSK realm="SDP",profile="UsernameToken",type="Appkey"
//   X-AKSK: UsernameToken Username="..", PasswordDigest="..", Nonce="..",
//           Created=".."
//
// (legacy: scheme WSSE with an X-WSSE header of the same shape).
//
// Decisions, strict where the spec is silent:
//  - Attributes are key="value" pairs separated by ',' with optional spaces
//    or tabs around it; their order is free; each required key must
//    appear exactly once; unknown keys, duplicates, empty list elements,
//    unquoted values, backslash escapes and control bytes are rejected.
//  - Keys are matched case-sensitively, exactly as documented.  The
//    Authorization scheme is case-insensitive (RFC 7235 §2.1), as is the
//    value of `type`; realm and profile values are exact.
//  - The UsernameToken prefix is exact and followed by at least one space.
//  - Nonce is [0-9A-Za-z]{1,128}; Created must satisfy
//    parse_utc_timestamp(); PasswordDigest is 1-128 Base64 alphabet bytes;
//    Username is 1-256 bytes.
// Parsed fields are views into the header value passed in.

#ifndef PROVISION_X_CORE_XAKSK_HPP
#define PROVISION_X_CORE_XAKSK_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace provision_x {

enum class auth_scheme : unsigned char {
    aksk,
    wsse, // legacy, only when the caller allows it
};

enum class xaksk_error : unsigned char {
    ok,
    too_long,
    syntax,
    duplicate_attribute,
    unknown_attribute,

    // Authorization
    bad_scheme,       // neither AKSK nor WSSE
    wsse_not_allowed, // WSSE while legacy mode is off
    missing_realm,
    missing_profile,
    missing_type,
    bad_realm,
    bad_profile,
    bad_type,

    // X-AKSK / X-WSSE
    bad_prefix, // does not start with "UsernameToken "
    missing_username,
    missing_nonce,
    missing_created,
    missing_digest,
    bad_username,
    bad_nonce,
    bad_created,
    bad_digest,
};

std::string_view describe(xaksk_error e) noexcept;

/*
 * The platform's own result code and text for a malformed or missing
 * header (spec 3.2.6), which the gateway answers with too.  token_header:
 * the error is about the X-AKSK header (X-WSSE when wsse).  A cause the
 * table has no code of gets "1010002" "Invalid request.".
 */
struct huawei_result {
    std::string_view code;
    std::string_view text;
};

huawei_result huawei_result_for(xaksk_error e, bool wsse) noexcept;

/* No Authorization header; no X-AKSK (X-WSSE) header. */
huawei_result huawei_no_authorization() noexcept;
huawei_result huawei_no_token(bool wsse) noexcept;

constexpr std::size_t max_authorization_length = 256;
constexpr std::size_t max_username_token_length = 1024;
constexpr std::size_t max_nonce_length = 128;
constexpr std::size_t max_username_length = 256;
constexpr std::size_t max_digest_length = 128;

xaksk_error parse_authorization(std::string_view value, bool allow_wsse,
                                auth_scheme &scheme) noexcept;

struct username_token {
    std::string_view username;
    std::string_view password_digest;
    std::string_view nonce;
    std::string_view created;
    std::int64_t created_epoch = 0;
};

xaksk_error parse_username_token(std::string_view value,
                                 username_token &out) noexcept;

// The value rules above, for builders that must not emit what the parser
// would refuse.
bool is_valid_nonce(std::string_view nonce) noexcept;
bool is_valid_username(std::string_view username) noexcept;

} // namespace provision_x

#endif
