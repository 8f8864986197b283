// Huawei digests: X-AKSK (§7.4) with header build/parse round trips,
// legacy X-WSSE raw and hex variants (§7.5), and the VoiceCall push
// variant (§7.6).

#include <string>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/hmac.hpp"
#include "core/signature.hpp"
#include "core/xaksk.hpp"
#include "signing_vectors.hpp"

using namespace provision_x;
using px_test::family;
using px_test::field;
using px_test::for_each_vector;

TEST(HuaweiXakskVectors, DigestBuildParseVerify)
{
    for_each_vector("huawei_xaksk", 6, [&](json_t *vec) {
        std::string_view key = field(vec, "appKey");
        std::string_view secret = field(vec, "appSecret");
        std::string_view nonce = field(vec, "nonce");
        std::string_view created = field(vec, "created");
        std::string_view digest = field(vec, "passwordDigest");

        EXPECT_EQ(field(vec, "message"),
                  std::string(nonce) + std::string(created));
        sha256_digest d;
        ASSERT_TRUE(hmac_sha256({secret}, {nonce, created}, d));
        EXPECT_EQ(field(vec, "hmac_sha256_hex"), px_test::hex(d));

        sha256_base64 b64;
        ASSERT_EQ(sig_error::ok, aksk_digest(secret, nonce, created, b64));
        EXPECT_EQ(digest, as_view(b64));

        // Outbound: byte-exact with the vector's header value.
        std::string authorization, x_aksk;
        ASSERT_EQ(sig_error::ok, build_aksk_headers(key, secret, nonce, created,
                                                    authorization, x_aksk));
        EXPECT_EQ(field(vec, "x_aksk_header"), x_aksk);
        EXPECT_EQ("AKSK realm=\"SDP\",profile=\"UsernameToken\","
                  "type=\"Appkey\"",
                  authorization);

        // Inbound: both headers parse, fields are views into the value,
        // and the digest verifies.
        auth_scheme scheme = auth_scheme::wsse;
        ASSERT_EQ(xaksk_error::ok,
                  parse_authorization(authorization, false, scheme));
        EXPECT_EQ(auth_scheme::aksk, scheme);

        std::string_view header = field(vec, "x_aksk_header");
        username_token tok;
        ASSERT_EQ(xaksk_error::ok, parse_username_token(header, tok));
        EXPECT_EQ(key, tok.username);
        EXPECT_EQ(digest, tok.password_digest);
        EXPECT_EQ(nonce, tok.nonce);
        EXPECT_EQ(created, tok.created);
        EXPECT_GE(tok.nonce.data(), header.data());
        EXPECT_LE(tok.nonce.data() + tok.nonce.size(),
                  header.data() + header.size());
        std::int64_t epoch;
        ASSERT_TRUE(parse_utc_timestamp(created, epoch));
        EXPECT_EQ(epoch, tok.created_epoch);

        EXPECT_EQ(sig_error::ok, aksk_verify(secret, tok.nonce, tok.created,
                                             tok.password_digest));
        EXPECT_EQ(sig_error::mismatch,
                  aksk_verify("not-the-secret", tok.nonce, tok.created,
                              tok.password_digest));

        // The gateway's prepared per-secret key gives the same verdicts.
        hmac_key prepared, wrong;
        ASSERT_TRUE(prepared.set(hmac_algorithm::sha256, {secret}));
        ASSERT_TRUE(wrong.set(hmac_algorithm::sha256, {"not-the-secret"}));
        EXPECT_EQ(sig_error::ok, aksk_verify(prepared, tok.nonce, tok.created,
                                             tok.password_digest));
        EXPECT_EQ(
            sig_error::mismatch,
            aksk_verify(wrong, tok.nonce, tok.created, tok.password_digest));

        // Same header with the doc template's ", " separators.
        std::string spaced;
        for (char c : header) {
            spaced += c;
            if (c == ',') {
                spaced += ' ';
            }
        }
        username_token tok2;
        ASSERT_EQ(xaksk_error::ok, parse_username_token(spaced, tok2));
        EXPECT_EQ(sig_error::ok, aksk_verify(secret, tok2.nonce, tok2.created,
                                             tok2.password_digest));
    });
}

TEST(HuaweiXaksk, TamperedDigestNonceOrCreatedFails)
{
    json_t *arr = family("huawei_xaksk");
    ASSERT_NE(nullptr, arr);
    json_t *vec = json_array_get(arr, 0);
    std::string_view secret = field(vec, "appSecret");
    std::string nonce(field(vec, "nonce"));
    std::string created(field(vec, "created"));
    std::string digest(field(vec, "passwordDigest"));

    ASSERT_EQ(sig_error::ok, aksk_verify(secret, nonce, created, digest));

    std::string d2 = digest;
    d2[0] = d2[0] == 'A' ? 'B' : 'A';
    EXPECT_EQ(sig_error::mismatch, aksk_verify(secret, nonce, created, d2));
    EXPECT_EQ(sig_error::mismatch,
              aksk_verify(secret, nonce, created, digest.substr(1)));
    EXPECT_EQ(sig_error::mismatch, aksk_verify(secret, nonce, created, ""));

    std::string n2 = nonce;
    n2.back() = n2.back() == 'F' ? 'E' : 'F';
    EXPECT_EQ(sig_error::mismatch, aksk_verify(secret, n2, created, digest));

    EXPECT_EQ(sig_error::mismatch,
              aksk_verify(secret, nonce, "2018-02-12T15:30:21Z", digest));
}

TEST(HuaweiXaksk, Hw6IsHw5WrittenInBeijingTime)
{
    json_t *arr = family("huawei_xaksk");
    ASSERT_NE(nullptr, arr);
    json_t *hw5 = json_array_get(arr, 4);
    json_t *hw6 = json_array_get(arr, 5);
    username_token t5, t6;
    ASSERT_EQ(xaksk_error::ok,
              parse_username_token(field(hw5, "x_aksk_header"), t5));
    ASSERT_EQ(xaksk_error::ok,
              parse_username_token(field(hw6, "x_aksk_header"), t6));

    // The digest covers the string as written; the window decides.
    EXPECT_EQ(sig_error::ok, aksk_verify(field(hw6, "appSecret"), t6.nonce,
                                         t6.created, t6.password_digest));

    const std::int64_t now = t5.created_epoch + 30;
    clock_window w;
    EXPECT_EQ(window_result::utc, check_window(t5.created_epoch, now, w));
    EXPECT_EQ(window_result::too_new, check_window(t6.created_epoch, now, w));
    w.beijing_alternative = true;
    EXPECT_EQ(window_result::beijing, check_window(t6.created_epoch, now, w));
}

TEST(HuaweiXaksk, BuilderRefusesWhatTheParserWouldRefuse)
{
    std::string a, x;
    const std::string_view ok_created = "2024-01-02T03:04:05Z";
    EXPECT_EQ(sig_error::bad_input,
              build_aksk_headers("", "s", "abc", ok_created, a, x));
    EXPECT_EQ(sig_error::bad_input,
              build_aksk_headers("k\"ey", "s", "abc", ok_created, a, x));
    EXPECT_EQ(sig_error::bad_input,
              build_aksk_headers("k\r\n", "s", "abc", ok_created, a, x));
    EXPECT_EQ(sig_error::bad_input,
              build_aksk_headers("key", "s", "ab-c", ok_created, a, x));
    EXPECT_EQ(sig_error::bad_input,
              build_aksk_headers("key", "s", std::string(129, 'a'), ok_created,
                                 a, x));
    EXPECT_EQ(
        sig_error::bad_input,
        build_aksk_headers("key", "s", "abc", "2024-01-02T03:04:05z", a, x));
    EXPECT_TRUE(a.empty());
    EXPECT_TRUE(x.empty());
}

TEST(HuaweiXaksk, FreshNonceRoundTrip)
{
    std::array<char, 32> n1, n2;
    ASSERT_TRUE(make_nonce(n1));
    ASSERT_TRUE(make_nonce(n2));
    EXPECT_NE(as_view(n1), as_view(n2));
    EXPECT_TRUE(is_valid_nonce(as_view(n1)));

    utc_timestamp_text created;
    ASSERT_TRUE(format_utc_timestamp(1735689600, created));

    std::string a, x;
    ASSERT_EQ(sig_error::ok, build_aksk_headers("appKey", "secret", as_view(n1),
                                                as_view(created), a, x));
    username_token tok;
    ASSERT_EQ(xaksk_error::ok, parse_username_token(x, tok));
    EXPECT_EQ(1735689600, tok.created_epoch);
    EXPECT_EQ(sig_error::ok, aksk_verify("secret", tok.nonce, tok.created,
                                         tok.password_digest));
}

TEST(HuaweiXwsseVectors, RawAndHexVariants)
{
    for_each_vector("huawei_xwsse", 6, [&](json_t *vec) {
        std::string_view secret = field(vec, "appSecret");
        std::string_view nonce = field(vec, "nonce");
        std::string_view created = field(vec, "created");
        std::string_view raw_b64 = field(vec, "passwordDigest_b64_raw");
        std::string_view hex_b64 = field(vec, "passwordDigest_b64_hex");

        EXPECT_EQ(field(vec, "message"), std::string(nonce)
                                             + std::string(created)
                                             + std::string(secret));
        sha256_digest d;
        ASSERT_TRUE(sha256({nonce, created, secret}, d));
        EXPECT_EQ(field(vec, "sha256_hex"), px_test::hex(d));

        sha256_base64 raw;
        sha256_hex_base64 hexed;
        ASSERT_EQ(sig_error::ok, wsse_digest_raw(secret, nonce, created, raw));
        ASSERT_EQ(sig_error::ok,
                  wsse_digest_hex(secret, nonce, created, hexed));
        EXPECT_EQ(raw_b64, as_view(raw));
        EXPECT_EQ(hex_b64, as_view(hexed));

        // Header: Authorization WSSE only when allowed; X-WSSE has the
        // UsernameToken shape.
        const std::string_view wsse_auth =
            "WSSE realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"";
        auth_scheme scheme;
        EXPECT_EQ(xaksk_error::wsse_not_allowed,
                  parse_authorization(wsse_auth, false, scheme));
        ASSERT_EQ(xaksk_error::ok,
                  parse_authorization(wsse_auth, true, scheme));
        EXPECT_EQ(auth_scheme::wsse, scheme);

        username_token tok;
        ASSERT_EQ(xaksk_error::ok,
                  parse_username_token(field(vec, "x_wsse_header"), tok));
        EXPECT_EQ(field(vec, "appKey"), tok.username);
        EXPECT_EQ(raw_b64, tok.password_digest);

        wsse_variant matched = wsse_variant::hex;
        EXPECT_EQ(sig_error::ok,
                  wsse_verify(secret, tok.nonce, tok.created,
                              tok.password_digest, false, matched));
        EXPECT_EQ(wsse_variant::raw, matched);

        EXPECT_EQ(sig_error::mismatch,
                  wsse_verify(secret, nonce, created, hex_b64, false, matched));
        ASSERT_EQ(sig_error::ok,
                  wsse_verify(secret, nonce, created, hex_b64, true, matched));
        EXPECT_EQ(wsse_variant::hex, matched);

        EXPECT_EQ(sig_error::mismatch,
                  wsse_verify("x", nonce, created, raw_b64, true, matched));
        EXPECT_EQ(sig_error::mismatch,
                  wsse_verify("x", nonce, created, hex_b64, true, matched));

        // The hex variant's 88-char digest fits the token grammar.
        std::string hex_header = "UsernameToken Username=\"k\", "
                                 "PasswordDigest=\""
                                 + std::string(hex_b64) + "\", Nonce=\""
                                 + std::string(nonce) + "\", Created=\""
                                 + std::string(created) + "\"";
        ASSERT_EQ(xaksk_error::ok, parse_username_token(hex_header, tok));
        EXPECT_EQ(hex_b64, tok.password_digest);
    });
}

TEST(HuaweiVoicecallVectors, Digest)
{
    for_each_vector("huawei_voicecall_variant", 6, [&](json_t *vec) {
        std::string_view secret = field(vec, "appSecret");
        std::string_view url = field(vec, "url");
        std::string_view nonce = field(vec, "nonce");
        std::string_view created = field(vec, "created");

        EXPECT_EQ(field(vec, "message"), std::string(url) + "\n"
                                             + std::string(nonce) + "\n"
                                             + std::string(created));
        sha256_digest d;
        ASSERT_TRUE(
            hmac_sha256({secret}, {url, "\n", nonce, "\n", created}, d));
        EXPECT_EQ(field(vec, "hmac_sha256_hex"), px_test::hex(d));

        sha256_base64 b64;
        ASSERT_EQ(sig_error::ok,
                  voicecall_digest(secret, url, nonce, created, b64));
        EXPECT_EQ(field(vec, "passwordDigest"), as_view(b64));

        // Not interchangeable with the PrivateNumber digest.
        sha256_base64 aksk;
        ASSERT_EQ(sig_error::ok, aksk_digest(secret, nonce, created, aksk));
        EXPECT_NE(as_view(aksk), as_view(b64));
    });
}

TEST(Describe, SigErrors)
{
    EXPECT_EQ("signature mismatch", describe(sig_error::mismatch));
}

TEST(HuaweiXaksk, PreparedKeyFailureIsNotAMismatch)
{
    // An OpenSSL failure (here: a key whose set-up never succeeded, or of
    // the wrong algorithm) must surface as crypto_failure, which the
    // gateway answers with a 5xx the platform retries, never as a
    // signature mismatch (a 403 it gives up on).
    hmac_key unset, sha1_key;
    ASSERT_TRUE(sha1_key.set(hmac_algorithm::sha1, {"secret"}));
    sha256_base64 d;
    ASSERT_EQ(sig_error::ok,
              aksk_digest("secret", "nonce", "2026-01-01T00:00:00Z", d));
    EXPECT_EQ(sig_error::crypto_failure,
              aksk_verify(unset, "nonce", "2026-01-01T00:00:00Z", as_view(d)));
    EXPECT_EQ(
        sig_error::crypto_failure,
        aksk_verify(sha1_key, "nonce", "2026-01-01T00:00:00Z", as_view(d)));
}
