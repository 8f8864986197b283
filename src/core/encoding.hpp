// Byte-level codecs shared by every signing dialect: the two URL-encoder
// flavours, strict percent-decoding, strict Base64, hex and UTF-8 checks.
//
// Functions that grow a std::string append to it and report allocation
// failure through their return value instead of throwing, so the nginx glue
// can call them from request handlers with reused scratch strings.

#ifndef PROVISION_X_CORE_ENCODING_HPP
#define PROVISION_X_CORE_ENCODING_HPP

#include <cstddef>
#include <string>
#include <string_view>

namespace provision_x {

// The Aliyun X-mode page says "UrlEncode" and points at a Java snippet;
// Aliyun POP uses RFC 3986 percentEncode.  They differ only for ' ', '*'
// and '~' (spec §2.4, A-2).
enum class url_flavour : unsigned char {
    java,    // java.net.URLEncoder: ' ' -> '+', '*' kept, '~' -> %7E
    rfc3986, // POP percentEncode:   ' ' -> %20, '*' -> %2A, '~' kept
};

enum class codec_error : unsigned char {
    ok,
    bad_percent, // '%' not followed by two hex digits
    bad_base64,  // alphabet, padding, length or non-zero trailing bits
    no_memory,
};

std::string_view describe(codec_error e) noexcept;

// Exact number of bytes url_encode() would append.
std::size_t url_encoded_length(std::string_view in, url_flavour f) noexcept;

// Appends the encoding of `in`; hex digits are upper case, as both
// encoders emit them.  Returns false only when `out` cannot grow.
bool url_encode(std::string_view in, url_flavour f, std::string &out) noexcept;

// Appends url_encode(url_encode(in)) without building the intermediate
// string: the X-mode and POP strings-to-sign are encoded twice.
bool url_encode_twice(std::string_view in, url_flavour f,
                      std::string &out) noexcept;

// What url_encode_into may write beyond the end of the encoding it
// returns (it copies every byte's encoding as one 8-byte block).
constexpr std::size_t url_encode_slack = 7;

// Room url_encode_into needs for n input bytes: the most url_encode
// (twice = false) or url_encode_twice (true) can make of them, plus the
// slack.
constexpr std::size_t
url_encoded_bound(std::size_t n, bool twice) noexcept
{
    return n * (twice ? 5 : 3) + url_encode_slack;
}

// Writes the encoding (once or twice) of `in` at `out`, which has room for
// url_encoded_bound(in.size(), twice) bytes, and returns the end of the
// encoding (bytes after it up to the bound may have been overwritten): one
// pass, for callers that size their buffer once for many pieces.
char *url_encode_into(std::string_view in, url_flavour f, bool twice,
                      char *out) noexcept;

// Strict: a '%' must be followed by two hex digits (either case).
// `plus_is_space` selects form/query semantics.  `out` needs room for
// in.size() bytes; the decoded length is stored in `out_len`.
codec_error percent_decode(std::string_view in, bool plus_is_space, char *out,
                           std::size_t &out_len) noexcept;

// Appending variant.  While growing `out` it never needs more capacity than
// out.size() + in.size(), so a caller that reserved that much can keep
// views into `out` across calls.  On error `out` is left as it was.
codec_error percent_decode(std::string_view in, bool plus_is_space,
                           std::string &out) noexcept;

constexpr std::size_t
base64_encoded_length(std::size_t n) noexcept
{
    return (n + 2) / 3 * 4;
}

// Standard alphabet with '=' padding; writes exactly
// base64_encoded_length(n) bytes and returns that count.
std::size_t base64_encode(const unsigned char *in, std::size_t n,
                          char *out) noexcept;

bool base64_encode(std::string_view in, std::string &out) noexcept;

// Strict and canonical: length a multiple of 4, padding only at the end,
// unused trailing bits zero, no whitespace.  So decode(s) succeeds only for
// the one string encode() produces, and comparing Base64 text is the same
// as comparing the bytes.  On error `out` is left as it was.
codec_error base64_decode(std::string_view in, std::string &out) noexcept;

// Lower-case hex, 2 * n bytes: the WSSE "hex" variant and test output.
void hex_encode(const unsigned char *in, std::size_t n, char *out) noexcept;

// Well-formed UTF-8 per Unicode table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view s) noexcept;

} // namespace provision_x

#endif
