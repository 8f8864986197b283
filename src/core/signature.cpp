#include "core/signature.hpp"

#include <cstring>

#include "core/clock.hpp"
#include "core/hmac.hpp"
#include "core/xaksk.hpp"

namespace provision_x {

namespace {

constexpr std::string_view pop_signature_param = "Signature";

// Longest legitimate wire form of a Base64 digest: every byte
// percent-encoded (3x) of the longest text we compare (88).
constexpr std::size_t max_received_signature = 3 * 88;

bool
append(std::string &out, std::string_view s) noexcept
{
    try {
        out.append(s);
    } catch (...) {
        return false;
    }
    return true;
}

// How name=value pairs are joined: names and values URL-encoded once or
// twice.  When twice, the joining '=' and '&' belong to the once-encoded
// string and so appear encoded once: "%3D" and "%26".
struct pair_format {
    std::string_view skip_name;
    bool skip_empty;
    url_flavour flavour;
    bool twice;

    std::string_view eq() const noexcept
    {
        return twice ? "%3D" : "=";
    }

    std::string_view amp() const noexcept
    {
        return twice ? "%26" : "&";
    }
};

// What write_pairs() may write at most.
std::size_t
pairs_bound(const param_list &params, const pair_format &fmt) noexcept
{
    std::size_t bound = 0;

    for (const param &p : params) {
        bound += url_encoded_bound(p.name.size() + p.value.size(), fmt.twice)
                 + fmt.eq().size() + fmt.amp().size();
    }

    return bound;
}

// A joiner of one or three bytes, copied without a call to memcpy.
char *
put_joiner(char *w, std::string_view joiner) noexcept
{
    for (char c : joiner) {
        *w++ = c;
    }

    return w;
}

// Writes the joined pairs at w; returns the end of what was written.
char *
write_pairs(const param_list &params, const pair_format &fmt, char *w) noexcept
{
    std::string_view eq = fmt.eq();
    std::string_view amp = fmt.amp();
    bool first = true;

    for (const param &p : params) {
        if (p.name == fmt.skip_name || (fmt.skip_empty && p.value.empty())) {
            continue;
        }

        if (!first) {
            w = put_joiner(w, amp);
        }
        first = false;

        w = url_encode_into(p.name, fmt.flavour, fmt.twice, w);
        w = put_joiner(w, eq);
        w = url_encode_into(p.value, fmt.flavour, fmt.twice, w);
    }

    return w;
}

// Appends the joined pairs to `out`, which grows once, to the bound, and
// is trimmed to what was written.
bool
append_pairs(const param_list &params, const pair_format &fmt,
             std::string &out) noexcept
{
    std::size_t old = out.size();

    try {
        out.resize(old + pairs_bound(params, fmt));
    } catch (...) {
        return false;
    }

    char *w = write_pairs(params, fmt, &out[old]);

    out.resize(static_cast<std::size_t>(w - out.data()));
    return true;
}

pair_format
xmode_pairs(url_flavour flavour, bool twice) noexcept
{
    return {xmode_signature_param, true, flavour, twice};
}

pair_format
pop_pairs(bool twice) noexcept
{
    return {pop_signature_param, false, url_flavour::rfc3986, twice};
}

// The string to sign of every Aliyun callback, written at the start of
// `scratch`, which only ever grows: a buffer kept across requests is not
// zero-filled to the bound again for each of them.
bool
xmode_string_to_sign_into(const param_list &params, const xmode_options &opt,
                          std::string &scratch,
                          std::string_view &written) noexcept
{
    pair_format fmt = xmode_pairs(opt.flavour, opt.second_encoding);
    std::size_t bound = pairs_bound(params, fmt);

    if (scratch.size() < bound) {
        try {
            scratch.resize(bound);
        } catch (...) {
            return false;
        }
    }

    char *w = write_pairs(params, fmt, scratch.data());

    written = std::string_view(scratch.data(),
                               static_cast<std::size_t>(w - scratch.data()));
    return true;
}

bool
is_method(std::string_view m) noexcept
{
    if (m.empty() || m.size() > 16) {
        return false;
    }

    for (char c : m) {
        if (c < 'A' || c > 'Z') {
            return false;
        }
    }

    return true;
}

template <std::size_t N, std::size_t D>
void
encode_digest(const std::array<unsigned char, D> &d,
              std::array<char, N> &out) noexcept
{
    static_assert(N == base64_encoded_length(D), "wrong Base64 buffer");
    base64_encode(d.data(), d.size(), out.data());
}

} // namespace

std::string_view
describe(sig_error e) noexcept
{
    switch (e) {
    case sig_error::ok:
        return "ok";
    case sig_error::mismatch:
        return "signature mismatch";
    case sig_error::missing_signature:
        return "signature missing";
    case sig_error::bad_input:
        return "invalid signing input";
    case sig_error::no_memory:
        return "out of memory";
    case sig_error::crypto_failure:
        return "crypto library failure";
    }
    return "unknown";
}

// ---- Aliyun X-mode --------------------------------------------------------

bool
xmode_encrypt_str(const param_list &params, url_flavour flavour,
                  std::string &out) noexcept
{
    return append_pairs(params, xmode_pairs(flavour, false), out);
}

bool
xmode_string_to_sign(const param_list &params, const xmode_options &opt,
                     std::string &out) noexcept
{
    return append_pairs(params, xmode_pairs(opt.flavour, opt.second_encoding),
                        out);
}

sig_error
xmode_expected(const param_list &params, std::string_view secret,
               const xmode_options &opt, std::string &scratch,
               sha1_base64 &out) noexcept
{
    std::string_view to_sign;

    if (!xmode_string_to_sign_into(params, opt, scratch, to_sign)) {
        return sig_error::no_memory;
    }

    sha1_digest d;

    if (!hmac_sha1({secret, opt.key_ampersand ? "&" : ""}, {to_sign}, d)) {
        return sig_error::crypto_failure;
    }

    encode_digest(d, out);
    return sig_error::ok;
}

sig_error
xmode_expected(const param_list &params, const hmac_key &key,
               const xmode_options &opt, std::string &scratch,
               sha1_base64 &out) noexcept
{
    std::string_view to_sign;

    if (!xmode_string_to_sign_into(params, opt, scratch, to_sign)) {
        return sig_error::no_memory;
    }

    sha1_digest d;

    if (!key.mac({to_sign}, d)) {
        return sig_error::crypto_failure;
    }

    encode_digest(d, out);
    return sig_error::ok;
}

sig_error
xmode_sign(const param_list &params, std::string_view secret,
           const xmode_options &opt, std::string &scratch,
           std::string &out) noexcept
{
    sha1_base64 b64;
    sig_error rc = xmode_expected(params, secret, opt, scratch, b64);

    if (rc != sig_error::ok) {
        return rc;
    }

    return url_encode(as_view(b64), opt.flavour, out) ? sig_error::ok
                                                      : sig_error::no_memory;
}

bool
signature_text_matches(std::string_view received,
                       std::string_view expected) noexcept
{
    if (expected.empty() || received.size() > max_received_signature) {
        return false;
    }

    char plus[max_received_signature];
    char decoded[max_received_signature];
    std::size_t n = received.size();
    std::size_t decoded_len = 0;

    for (std::size_t i = 0; i < n; i++) {
        plus[i] = received[i] == ' ' ? '+' : received[i];
    }

    std::string_view r(plus, n);
    bool as_is = ct_equal(r, expected);
    bool once_more =
        percent_decode(r, false, decoded, decoded_len) == codec_error::ok
        && ct_equal(std::string_view(decoded, decoded_len), expected);

    return as_is || once_more;
}

namespace {

template <typename Key>
sig_error
xmode_verify_with(const param_list &params, const Key &key,
                  const xmode_options &opt, std::string &scratch) noexcept
{
    const param *sig = params.find(xmode_signature_param);

    if (sig == nullptr || sig->value.empty()) {
        return sig_error::missing_signature;
    }

    sha1_base64 expected;
    sig_error rc = xmode_expected(params, key, opt, scratch, expected);

    if (rc != sig_error::ok) {
        return rc;
    }

    return signature_text_matches(sig->value, as_view(expected))
               ? sig_error::ok
               : sig_error::mismatch;
}

} // namespace

sig_error
xmode_verify(const param_list &params, std::string_view secret,
             const xmode_options &opt, std::string &scratch) noexcept
{
    return xmode_verify_with(params, secret, opt, scratch);
}

sig_error
xmode_verify(const param_list &params, const hmac_key &key,
             const xmode_options &opt, std::string &scratch) noexcept
{
    return xmode_verify_with(params, key, opt, scratch);
}

// ---- Aliyun POP -----------------------------------------------------------

bool
pop_canonical_query(const param_list &params, std::string &out) noexcept
{
    return append_pairs(params, pop_pairs(false), out);
}

sig_error
pop_string_to_sign(std::string_view method, const param_list &params,
                   std::string &out) noexcept
{
    if (!is_method(method)) {
        return sig_error::bad_input;
    }

    // percentEncode("/") is "%2F".
    bool ok = append(out, method) && append(out, "&%2F&")
              && append_pairs(params, pop_pairs(true), out);

    return ok ? sig_error::ok : sig_error::no_memory;
}

sig_error
pop_sign(std::string_view method, const param_list &params,
         std::string_view access_key_secret, std::string &scratch,
         std::string &query, sha1_base64 *signature) noexcept
{
    scratch.clear();

    sig_error rc = pop_string_to_sign(method, params, scratch);

    if (rc != sig_error::ok) {
        return rc;
    }

    sha1_digest d;

    if (!hmac_sha1({access_key_secret, "&"}, {scratch}, d)) {
        return sig_error::crypto_failure;
    }

    sha1_base64 b64;

    encode_digest(d, b64);

    if (signature != nullptr) {
        *signature = b64;
    }

    bool ok = pop_canonical_query(params, query)
              && append(query, params.empty() ? "Signature=" : "&Signature=")
              && url_encode(as_view(b64), url_flavour::rfc3986, query);

    return ok ? sig_error::ok : sig_error::no_memory;
}

// ---- Huawei ---------------------------------------------------------------

sig_error
aksk_digest(std::string_view secret, std::string_view nonce,
            std::string_view created, sha256_base64 &out) noexcept
{
    sha256_digest d;

    if (!hmac_sha256({secret}, {nonce, created}, d)) {
        return sig_error::crypto_failure;
    }

    encode_digest(d, out);
    return sig_error::ok;
}

namespace {

// Base64 from any standard encoder is canonical, so comparing the text is
// comparing the MAC; no need to decode the header.
sig_error
aksk_match(const sha256_digest &d, std::string_view received) noexcept
{
    sha256_base64 expected;

    encode_digest(d, expected);
    return ct_equal(received, as_view(expected)) ? sig_error::ok
                                                 : sig_error::mismatch;
}

} // namespace

sig_error
aksk_verify(std::string_view secret, std::string_view nonce,
            std::string_view created, std::string_view received) noexcept
{
    sha256_digest d;

    if (!hmac_sha256({secret}, {nonce, created}, d)) {
        return sig_error::crypto_failure;
    }

    return aksk_match(d, received);
}

sig_error
aksk_verify(const hmac_key &key, std::string_view nonce,
            std::string_view created, std::string_view received) noexcept
{
    sha256_digest d;

    if (!key.mac({nonce, created}, d)) {
        return sig_error::crypto_failure;
    }

    return aksk_match(d, received);
}

sig_error
wsse_digest_raw(std::string_view secret, std::string_view nonce,
                std::string_view created, sha256_base64 &out) noexcept
{
    sha256_digest d;

    if (!sha256({nonce, created, secret}, d)) {
        return sig_error::crypto_failure;
    }

    encode_digest(d, out);
    return sig_error::ok;
}

sig_error
wsse_digest_hex(std::string_view secret, std::string_view nonce,
                std::string_view created, sha256_hex_base64 &out) noexcept
{
    sha256_digest d;

    if (!sha256({nonce, created, secret}, d)) {
        return sig_error::crypto_failure;
    }

    std::array<unsigned char, 64> hex;

    hex_encode(d.data(), d.size(), reinterpret_cast<char *>(hex.data()));
    encode_digest(hex, out);
    return sig_error::ok;
}

sig_error
wsse_verify(std::string_view secret, std::string_view nonce,
            std::string_view created, std::string_view received,
            bool accept_hex, wsse_variant &matched) noexcept
{
    sha256_base64 raw;
    sha256_hex_base64 hex;

    if (wsse_digest_raw(secret, nonce, created, raw) != sig_error::ok
        || wsse_digest_hex(secret, nonce, created, hex) != sig_error::ok)
    {
        return sig_error::crypto_failure;
    }

    // The variants differ in length, and lengths are public anyway.
    if (ct_equal(received, as_view(raw))) {
        matched = wsse_variant::raw;
        return sig_error::ok;
    }

    if (accept_hex && ct_equal(received, as_view(hex))) {
        matched = wsse_variant::hex;
        return sig_error::ok;
    }

    return sig_error::mismatch;
}

sig_error
voicecall_digest(std::string_view secret, std::string_view url,
                 std::string_view nonce, std::string_view created,
                 sha256_base64 &out) noexcept
{
    sha256_digest d;

    if (!hmac_sha256({secret}, {url, "\n", nonce, "\n", created}, d)) {
        return sig_error::crypto_failure;
    }

    encode_digest(d, out);
    return sig_error::ok;
}

sig_error
build_aksk_headers(std::string_view app_key, std::string_view secret,
                   std::string_view nonce, std::string_view created,
                   std::string &authorization, std::string &x_aksk) noexcept
{
    std::int64_t epoch;

    if (!is_valid_username(app_key) || !is_valid_nonce(nonce)
        || !parse_utc_timestamp(created, epoch))
    {
        return sig_error::bad_input;
    }

    sha256_base64 digest;
    sig_error rc = aksk_digest(secret, nonce, created, digest);

    if (rc != sig_error::ok) {
        return rc;
    }

    bool ok =
        append(authorization, aksk_authorization)
        && append(x_aksk, "UsernameToken Username=\"")
        && append(x_aksk, app_key) && append(x_aksk, "\",PasswordDigest=\"")
        && append(x_aksk, as_view(digest)) && append(x_aksk, "\",Nonce=\"")
        && append(x_aksk, nonce) && append(x_aksk, "\",Created=\"")
        && append(x_aksk, created) && append(x_aksk, "\"");

    return ok ? sig_error::ok : sig_error::no_memory;
}

bool
make_nonce(std::array<char, 32> &out) noexcept
{
    unsigned char raw[16];

    if (!random_bytes(raw, sizeof(raw))) {
        return false;
    }

    hex_encode(raw, sizeof(raw), out.data());
    return true;
}

} // namespace provision_x
