// Aliyun X-mode callback signature: every §7.2 vector in all four readings
// (P, A1, A2, A3), intermediates included, and verification of the
// received value in each form it can reach us.

#include <string>

#include <gtest/gtest.h>

#include "core/hmac.hpp"
#include "core/signature.hpp"
#include "signing_vectors.hpp"

using namespace provision_x;
using px_test::family;
using px_test::field;
using px_test::fill_params;
using px_test::for_each_vector;
using px_test::url_encoded;

namespace {

const xmode_options reading_p{};
const xmode_options reading_a1{url_flavour::java, true, true};
const xmode_options reading_a2{url_flavour::rfc3986, false, true};
const xmode_options reading_a3{url_flavour::java, false, false};

std::string
expected(const param_list &params, std::string_view secret,
         const xmode_options &opt)
{
    std::string scratch;
    sha1_base64 out;
    EXPECT_EQ(sig_error::ok, xmode_expected(params, secret, opt, scratch, out));
    return std::string(as_view(out));
}

// Builds a wire query string from a vector's params: each value
// java-encoded once (what an HTTP client does), plus `signature` as given.
std::string
wire_query(json_t *vec, std::string_view signature_on_wire)
{
    json_t *params = json_object_get(vec, "params");
    const char *key;
    json_t *value;
    std::string q;

    json_object_foreach(params, key, value)
    {
        q += url_encoded(key, url_flavour::java);
        q += '=';
        q += url_encoded(json_string_value(value), url_flavour::java);
        q += '&';
    }
    q += "signature=";
    q += signature_on_wire;
    return q;
}

} // namespace

TEST(AliyunXmodeVectors, IntermediatesAndAllReadings)
{
    for_each_vector("aliyun_xmode", 6, [&](json_t *vec) {
        std::string_view secret = field(vec, "secret");
        param_list params(32);
        fill_params(vec, params);

        // P: encryptStr, string-to-sign, raw HMAC, Base64, final value.
        std::string s;
        ASSERT_TRUE(xmode_encrypt_str(params, url_flavour::java, s));
        EXPECT_EQ(field(vec, "encryptStr"), s);

        s.clear();
        ASSERT_TRUE(xmode_string_to_sign(params, reading_p, s));
        EXPECT_EQ(field(vec, "stringToSign"), s);
        EXPECT_EQ(url_encoded(field(vec, "encryptStr"), url_flavour::java), s);

        sha1_digest d;
        ASSERT_TRUE(hmac_sha1({secret}, {s}, d));
        EXPECT_EQ(field(vec, "hmac_sha1_hex"), px_test::hex(d));

        EXPECT_EQ(field(vec, "base64"), expected(params, secret, reading_p));

        std::string scratch, final_value;
        ASSERT_EQ(sig_error::ok,
                  xmode_sign(params, secret, reading_p, scratch, final_value));
        EXPECT_EQ(field(vec, "signature_param"), final_value);

        // A1, A2, A3.
        EXPECT_EQ(field(vec, "alt_key_amp_base64"),
                  expected(params, secret, reading_a1));
        EXPECT_EQ(field(vec, "alt_rfc3986_base64"),
                  expected(params, secret, reading_a2));
        final_value.clear();
        ASSERT_EQ(sig_error::ok,
                  xmode_sign(params, secret, reading_a2, scratch, final_value));
        EXPECT_EQ(field(vec, "alt_rfc3986_signature_param"), final_value);
        EXPECT_EQ(field(vec, "alt_single_encode_base64"),
                  expected(params, secret, reading_a3));

        s.clear();
        ASSERT_TRUE(xmode_string_to_sign(params, reading_a3, s));
        EXPECT_EQ(field(vec, "encryptStr"), s);
    });
}

TEST(AliyunXmodeVectors, VerifyReceivedValueInEveryForm)
{
    for_each_vector("aliyun_xmode", 0, [&](json_t *vec) {
        std::string_view secret = field(vec, "secret");
        std::string b64(field(vec, "base64"));
        std::string param_value(field(vec, "signature_param"));

        // The forms R can take after the one standard decode.
        std::string eaten_plus = b64;
        for (char &c : eaten_plus) {
            if (c == '+') {
                c = ' ';
            }
        }

        for (const std::string &r : {b64, param_value, eaten_plus,
                                     url_encoded(b64, url_flavour::rfc3986)})
        {
            SCOPED_TRACE(r);
            param_list params(32);
            fill_params(vec, params);
            ASSERT_EQ(params_error::ok, params.add("signature", r));
            std::string scratch;
            EXPECT_EQ(sig_error::ok,
                      xmode_verify(params, secret, reading_p, scratch));
            EXPECT_EQ(sig_error::mismatch,
                      xmode_verify(params, secret, reading_a1, scratch));
            EXPECT_EQ(sig_error::mismatch,
                      xmode_verify(params, "wrongSecret", reading_p, scratch));

            // Prepared keys: the secret (P), secret + "&" (A1), a wrong one.
            hmac_key p_key, a1_key, wrong_key;
            ASSERT_TRUE(p_key.set(hmac_algorithm::sha1, {secret}));
            ASSERT_TRUE(a1_key.set(hmac_algorithm::sha1, {secret, "&"}));
            ASSERT_TRUE(wrong_key.set(hmac_algorithm::sha1, {"wrongSecret"}));
            EXPECT_EQ(sig_error::ok,
                      xmode_verify(params, p_key, reading_p, scratch));
            EXPECT_EQ(sig_error::mismatch,
                      xmode_verify(params, a1_key, reading_p, scratch));
            EXPECT_EQ(sig_error::mismatch,
                      xmode_verify(params, wrong_key, reading_p, scratch));
        }
    });
}

TEST(AliyunXmodeVectors, FullPipelineFromTheWire)
{
    for_each_vector("aliyun_xmode", 0, [&](json_t *vec) {
        std::string_view secret = field(vec, "secret");
        std::string param_value(field(vec, "signature_param"));

        // The platform's HTTP client either encodes the already encoded
        // value again, or puts it on the wire as is, or sends raw Base64.
        for (const std::string &on_wire :
             {url_encoded(param_value, url_flavour::java), param_value,
              std::string(field(vec, "base64"))})
        {
            SCOPED_TRACE(on_wire);
            std::string q = wire_query(vec, on_wire);
            param_list params(32);
            std::string arena;
            arena.reserve(q.size());
            ASSERT_EQ(params_error::ok,
                      parse_urlencoded(q, 8192, params, arena));
            std::string scratch;
            EXPECT_EQ(sig_error::ok,
                      xmode_verify(params, secret, reading_p, scratch));
        }
    });
}

TEST(AliyunXmode, TamperedInputsAreRejected)
{
    json_t *arr = family("aliyun_xmode");
    ASSERT_NE(nullptr, arr);
    json_t *vec = json_array_get(arr, 1); // AX-2, '+' in numbers
    std::string_view secret = field(vec, "secret");
    std::string b64(field(vec, "base64"));
    std::string scratch;

    // A flipped signature character.
    {
        std::string bad = b64;
        bad[3] = bad[3] == 'A' ? 'B' : 'A';
        param_list params(32);
        fill_params(vec, params);
        params.add("signature", bad);
        EXPECT_EQ(sig_error::mismatch,
                  xmode_verify(params, secret, reading_p, scratch));
    }

    // A truncated and an extended signature.
    for (const std::string &bad : {b64.substr(0, b64.size() - 1), b64 + "="}) {
        param_list params(32);
        fill_params(vec, params);
        params.add("signature", bad);
        EXPECT_EQ(sig_error::mismatch,
                  xmode_verify(params, secret, reading_p, scratch));
    }

    // A changed business parameter under the genuine signature.
    {
        param_list params(32);
        params.add("callNo", "+8613800000009");
        json_t *p = json_object_get(vec, "params");
        const char *key;
        json_t *value;
        json_object_foreach(p, key, value)
        {
            params.add(key, json_string_value(value)); // callNo: duplicate
        }
        params.add("signature", b64);
        EXPECT_EQ(sig_error::mismatch,
                  xmode_verify(params, secret, reading_p, scratch));
    }

    // An extra parameter the platform did not sign.
    {
        param_list params(32);
        fill_params(vec, params);
        params.add("injected", "1");
        params.add("signature", b64);
        EXPECT_EQ(sig_error::mismatch,
                  xmode_verify(params, secret, reading_p, scratch));
    }

    // An extra parameter with an empty value is not signed either way.
    {
        param_list params(32);
        fill_params(vec, params);
        params.add("ignoredEmpty", "");
        params.add("signature", b64);
        EXPECT_EQ(sig_error::ok,
                  xmode_verify(params, secret, reading_p, scratch));
    }
}

TEST(AliyunXmode, MissingSignature)
{
    json_t *arr = family("aliyun_xmode");
    ASSERT_NE(nullptr, arr);
    json_t *vec = json_array_get(arr, 0);
    std::string scratch;

    param_list params(32);
    fill_params(vec, params);
    EXPECT_EQ(sig_error::missing_signature,
              xmode_verify(params, "testSecret", reading_p, scratch));
    params.add("signature", "");
    EXPECT_EQ(sig_error::missing_signature,
              xmode_verify(params, "testSecret", reading_p, scratch));
}

TEST(SignatureTextMatches, Forms)
{
    const std::string_view e = "q+nz9zQplpT9wqadLH+rbfxLxjE=";
    EXPECT_TRUE(signature_text_matches(e, e));
    EXPECT_TRUE(
        signature_text_matches("q%2Bnz9zQplpT9wqadLH%2BrbfxLxjE%3D", e));
    EXPECT_TRUE(
        signature_text_matches("q%2bnz9zQplpT9wqadLH%2brbfxLxjE%3d", e));
    EXPECT_TRUE(signature_text_matches("q nz9zQplpT9wqadLH rbfxLxjE=", e));
    EXPECT_TRUE(signature_text_matches("q nz9zQplpT9wqadLH+rbfxLxjE%3D", e));

    // Two decodes beyond the standard one are not attempted.
    EXPECT_FALSE(
        signature_text_matches("q%252Bnz9zQplpT9wqadLH%252BrbfxLxjE%253D", e));
    // Broken escapes, wrong bytes, empty.
    EXPECT_FALSE(
        signature_text_matches("q%2Bnz9zQplpT9wqadLH%2BrbfxLxjE%3", e));
    EXPECT_FALSE(signature_text_matches("q+nz9zQplpT9wqadLH+rbfxLxjF=", e));
    EXPECT_FALSE(signature_text_matches("", e));
    EXPECT_FALSE(signature_text_matches(e, ""));
    // Absurdly long input is refused before any copying.
    EXPECT_FALSE(signature_text_matches(std::string(10000, 'A'), e));
}

TEST(AliyunXmodeVectors, PreparedKeysGiveEveryReadingsSignature)
{
    for_each_vector("aliyun_xmode", 0, [&](json_t *vec) {
        std::string_view secret = field(vec, "secret");
        param_list params(32);
        fill_params(vec, params);

        hmac_key plain, amp;
        ASSERT_TRUE(plain.set(hmac_algorithm::sha1, {secret}));
        ASSERT_TRUE(amp.set(hmac_algorithm::sha1, {secret, "&"}));

        std::string scratch;
        sha1_base64 e;
        ASSERT_EQ(sig_error::ok,
                  xmode_expected(params, plain, reading_p, scratch, e));
        EXPECT_EQ(field(vec, "base64"), as_view(e));
        ASSERT_EQ(sig_error::ok,
                  xmode_expected(params, amp, reading_a1, scratch, e));
        EXPECT_EQ(field(vec, "alt_key_amp_base64"), as_view(e));
        ASSERT_EQ(sig_error::ok,
                  xmode_expected(params, plain, reading_a2, scratch, e));
        EXPECT_EQ(field(vec, "alt_rfc3986_base64"), as_view(e));
        ASSERT_EQ(sig_error::ok,
                  xmode_expected(params, plain, reading_a3, scratch, e));
        EXPECT_EQ(field(vec, "alt_single_encode_base64"), as_view(e));
    });
}

TEST(AliyunXmodeVectors, WhatScratchHeldBeforeIsNotSigned)
{
    // The gateway keeps one scratch buffer per worker: the string to sign
    // is written at its start and the buffer never shrinks, so a longer
    // string left there by an earlier request must not reach the MAC.
    for_each_vector("aliyun_xmode", 0, [&](json_t *vec) {
        std::string_view secret = field(vec, "secret");
        param_list params(32);
        fill_params(vec, params);

        hmac_key plain;
        ASSERT_TRUE(plain.set(hmac_algorithm::sha1, {secret}));

        std::string scratch(4096, 'x');
        sha1_base64 e;
        ASSERT_EQ(sig_error::ok,
                  xmode_expected(params, plain, reading_p, scratch, e));
        EXPECT_EQ(field(vec, "base64"), as_view(e));

        scratch.assign(4096, '%');
        ASSERT_EQ(sig_error::ok,
                  xmode_expected(params, secret, reading_a3, scratch, e));
        EXPECT_EQ(field(vec, "alt_single_encode_base64"), as_view(e));
    });
}

TEST(AliyunXmodeVectors, PreparedKeyFailureIsNotAMismatch)
{
    json_t *arr = family("aliyun_xmode");
    ASSERT_NE(nullptr, arr);
    json_t *vec = json_array_get(arr, 0);
    param_list params(32);
    fill_params(vec, params);
    ASSERT_EQ(params_error::ok,
              params.add("signature", field(vec, "signature_param")));

    hmac_key unset, sha256_key;
    ASSERT_TRUE(sha256_key.set(hmac_algorithm::sha256, {field(vec, "secret")}));
    std::string scratch;
    EXPECT_EQ(sig_error::crypto_failure,
              xmode_verify(params, unset, reading_p, scratch));
    EXPECT_EQ(sig_error::crypto_failure,
              xmode_verify(params, sha256_key, reading_p, scratch));
}
