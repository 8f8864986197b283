// The signing dialects (spec §2.4, §2.8, §3.2, §6, §7):
//  - Aliyun X-mode callbacks (platform -> gateway): HMAC-SHA1 over the
//    twice URL-encoded sorted parameters, with the open readings P/A1/A2/A3
//    selectable, and tolerant matching of the received `signature`;
//  - Aliyun POP RPC v1 (gateway -> Dyplsapi): the published algorithm;
//  - Huawei X-AKSK (both directions), legacy X-WSSE and the VoiceCall
//    push digest.
//
// `scratch` parameters are working buffers: grown as needed, what they hold
// afterwards unspecified, so a reused string stops allocating (and being
// zero-filled) after the first requests.  `out` strings are appended to.
// Fixed-size results go into std::array.

#ifndef PROVISION_X_CORE_SIGNATURE_HPP
#define PROVISION_X_CORE_SIGNATURE_HPP

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/encoding.hpp"
#include "core/hmac.hpp"
#include "core/params.hpp"

namespace provision_x {

using sha1_base64 = std::array<char, base64_encoded_length(20)>;
using sha256_base64 = std::array<char, base64_encoded_length(32)>;
// Base64 of the 64-char hex string of a SHA-256 (one WSSE sample, §3.2.5).
using sha256_hex_base64 = std::array<char, base64_encoded_length(64)>;

template <std::size_t N>
constexpr std::string_view
as_view(const std::array<char, N> &a) noexcept
{
    return std::string_view(a.data(), N);
}

enum class sig_error : unsigned char {
    ok,
    mismatch,          // verification failed
    missing_signature, // no (or an empty) signature parameter
    bad_input,         // a builder input the receiver's grammar would refuse
    no_memory,
    crypto_failure, // OpenSSL failed
};

std::string_view describe(sig_error e) noexcept;

// ---- Aliyun X-mode callback, §2.4 ----------------------------------------

// Defaults are reading P of §7.2.
struct xmode_options {
    url_flavour flavour = url_flavour::java; // rfc3986 = reading A2
    bool key_ampersand = false;              // true = A1: key is secret + "&"
    bool second_encoding = true;             // false = A3: HMAC(encryptStr)
};

constexpr std::string_view xmode_signature_param = "signature";

// Appends encryptStr: every parameter except `signature` and except those
// with an empty value, in list (name) order, name and value URL-encoded,
// joined by '=' and '&'.
bool xmode_encrypt_str(const param_list &params, url_flavour flavour,
                       std::string &out) noexcept;

// Appends the string the HMAC covers: URLEncode(encryptStr), or encryptStr
// itself when second_encoding is off.
bool xmode_string_to_sign(const param_list &params, const xmode_options &opt,
                          std::string &out) noexcept;

// Expected Base64 signature E.
sig_error xmode_expected(const param_list &params, std::string_view secret,
                         const xmode_options &opt, std::string &scratch,
                         sha1_base64 &out) noexcept;

// Appends what a sender puts in the `signature` parameter:
// URLEncode(Base64), in the configured flavour.
sig_error xmode_sign(const param_list &params, std::string_view secret,
                     const xmode_options &opt, std::string &scratch,
                     std::string &out) noexcept;

// §6.1 step 5.  `received` is R as it came out of the one standard
// query/form decode.  Spaces in R are first mapped back to '+' (a raw '+'
// eaten by a form decoder); then R matches iff R == E or
// percent-decode(R) == E, the decode not turning '+' into space.  Both
// comparisons are CRYPTO_memcmp on equal lengths and always run.
bool signature_text_matches(std::string_view received,
                            std::string_view expected) noexcept;

// Finds `signature` in `params`, computes E and matches it.
sig_error xmode_verify(const param_list &params, std::string_view secret,
                       const xmode_options &opt, std::string &scratch) noexcept;

// The same with a prepared HMAC-SHA1 key (the gateway's per-secret state):
// `key` is set from the secret, or from secret + "&" under reading A1 (so
// opt.key_ampersand is not consulted).  An unset key or an OpenSSL failure
// is crypto_failure, never mismatch.
sig_error xmode_expected(const param_list &params, const hmac_key &key,
                         const xmode_options &opt, std::string &scratch,
                         sha1_base64 &out) noexcept;

sig_error xmode_verify(const param_list &params, const hmac_key &key,
                       const xmode_options &opt, std::string &scratch) noexcept;

// ---- Aliyun POP RPC v1, §2.8 ---------------------------------------------

// Appends CanonicalizedQueryString: every parameter except `Signature`
// (empty values included), RFC 3986-encoded, in name order.
bool pop_canonical_query(const param_list &params, std::string &out) noexcept;

// Appends METHOD&%2F&percentEncode(CanonicalizedQueryString).
// `method` must be 1-16 upper-case letters.
sig_error pop_string_to_sign(std::string_view method, const param_list &params,
                             std::string &out) noexcept;

// Appends a query string ready for a URL, without the leading '?':
// CanonicalizedQueryString + "&Signature=" + percentEncode(Base64).
// The HMAC key is access_key_secret + "&".  `signature`, when not null,
// receives the bare Base64.
sig_error pop_sign(std::string_view method, const param_list &params,
                   std::string_view access_key_secret, std::string &scratch,
                   std::string &query,
                   sha1_base64 *signature = nullptr) noexcept;

// ---- Huawei X-AKSK, §3.2 -------------------------------------------------

// Base64(HMAC-SHA256(secret, nonce ‖ created)).
sig_error aksk_digest(std::string_view secret, std::string_view nonce,
                      std::string_view created, sha256_base64 &out) noexcept;

sig_error aksk_verify(std::string_view secret, std::string_view nonce,
                      std::string_view created,
                      std::string_view received) noexcept;

// With a prepared HMAC-SHA256 key of the secret; crypto_failure as above.
sig_error aksk_verify(const hmac_key &key, std::string_view nonce,
                      std::string_view created,
                      std::string_view received) noexcept;

// ---- Huawei legacy X-WSSE, §3.2.5 ----------------------------------------

enum class wsse_variant : unsigned char {
    raw, // Base64(SHA256(nonce ‖ created ‖ secret))
    hex, // Base64(lower-case hex of that SHA256), Huawei's Java demo
};

sig_error wsse_digest_raw(std::string_view secret, std::string_view nonce,
                          std::string_view created,
                          sha256_base64 &out) noexcept;

sig_error wsse_digest_hex(std::string_view secret, std::string_view nonce,
                          std::string_view created,
                          sha256_hex_base64 &out) noexcept;

// Accepts the raw variant, and the hex variant too when accept_hex is set
// `matched` tells which one matched.
sig_error wsse_verify(std::string_view secret, std::string_view nonce,
                      std::string_view created, std::string_view received,
                      bool accept_hex, wsse_variant &matched) noexcept;

// ---- Huawei VoiceCall push, §7.6 (a different product) -------------------

// Base64(HMAC-SHA256(secret, url "\n" nonce "\n" created)).  Not the
// PrivateNumber scheme; here so an operator can recognise such pushes.
sig_error voicecall_digest(std::string_view secret, std::string_view url,
                           std::string_view nonce, std::string_view created,
                           sha256_base64 &out) noexcept;

// ---- Outbound Huawei headers ---------------------------------------------

constexpr std::string_view aksk_authorization =
    "AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"";

// Appends the Authorization value to `authorization` and the X-AKSK value,
// serialised like the platform's own wire example (no space after ','), to
// `x_aksk`.  Refuses (bad_input) an app key, nonce or created that our own
// parser would reject.
sig_error build_aksk_headers(std::string_view app_key, std::string_view secret,
                             std::string_view nonce, std::string_view created,
                             std::string &authorization,
                             std::string &x_aksk) noexcept;

// 32 random hex digits: the dash-less UUID shape the samples send.
bool make_nonce(std::array<char, 32> &out) noexcept;

} // namespace provision_x

#endif
