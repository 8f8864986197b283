#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/hmac.hpp"
#include "signing_vectors.hpp"

using namespace provision_x;
using px_test::hex;

TEST(Hmac, Rfc2202Sha1)
{
    sha1_digest d;
    ASSERT_TRUE(hmac_sha1({"Jefe"}, {"what do ya want for nothing?"}, d));
    EXPECT_EQ("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", hex(d));
}

TEST(Hmac, Rfc4231Sha256)
{
    sha256_digest d;
    ASSERT_TRUE(hmac_sha256({"Jefe"}, {"what do ya want for nothing?"}, d));
    EXPECT_EQ(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        hex(d));
}

TEST(Hmac, Rfc4231LongKeyIsHashedFirst)
{
    // Test case 6: 131-byte key, longer than the block.
    std::string key(131, '\xaa');
    sha256_digest d;
    ASSERT_TRUE(hmac_sha256(
        {key}, {"Test Using Larger Than Block-Size Key - Hash Key First"}, d));
    EXPECT_EQ(
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        hex(d));

    // Same, with the key split into pieces across the block boundary.
    sha256_digest split;
    ASSERT_TRUE(hmac_sha256(
        {std::string_view(key).substr(0, 60), std::string_view(key).substr(60)},
        {"Test Using Larger ", "Than Block-Size Key - Hash Key First"}, split));
    EXPECT_EQ(hex(d), hex(split));
}

TEST(Hmac, KeyPiecesMatchJoinedKeyAtEveryLength)
{
    // Joined on the stack up to 64 bytes, hashed above: both paths must
    // agree with the plainly joined key (secret + "&", POP style).
    for (std::size_t n : {0u, 1u, 62u, 63u, 64u, 65u, 70u, 200u}) {
        std::string secret(n, 'x');
        std::string joined = secret + "&";
        sha1_digest a, b;
        ASSERT_TRUE(hmac_sha1({secret, "&"}, {"msg"}, a));
        ASSERT_TRUE(hmac_sha1({joined}, {"msg"}, b));
        EXPECT_EQ(hex(a), hex(b)) << n;
    }

    // Python: hmac.new(b'x' * 70 + b'&', b'msg', sha1).hexdigest()
    sha1_digest d;
    ASSERT_TRUE(hmac_sha1({std::string(70, 'x'), "&"}, {"msg"}, d));
    EXPECT_EQ("60e74ef33795e5a0f273433ba045e8247d53e48a", hex(d));
}

TEST(Hmac, EmptyKey)
{
    // Python: hmac.new(b'', b'abc', sha1 / sha256)
    sha1_digest d1;
    sha256_digest d2;
    ASSERT_TRUE(hmac_sha1({""}, {"abc"}, d1));
    ASSERT_TRUE(hmac_sha256({}, {"abc"}, d2));
    std::string b1(28, '\0'), b2(44, '\0');
    base64_encode(d1.data(), d1.size(), b1.data());
    base64_encode(d2.data(), d2.size(), b2.data());
    EXPECT_EQ("m0qRjzmNdNPjZ5cKujy+VOTStdk=", b1);
    EXPECT_EQ("/XrbFSwF74Dcz1Ch+kwF1aPsbalVdfwxKufF0JGDY1E=", b2);
}

TEST(Sha256, KnownAnswersAndPieces)
{
    sha256_digest d;
    ASSERT_TRUE(sha256({"abc"}, d));
    EXPECT_EQ(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        hex(d));
    ASSERT_TRUE(sha256({"a", "", "bc"}, d));
    EXPECT_EQ(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        hex(d));
    ASSERT_TRUE(sha256({}, d));
    EXPECT_EQ(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        hex(d));
}

TEST(CtEqual, LengthAndContent)
{
    EXPECT_TRUE(ct_equal("abc", "abc"));
    EXPECT_TRUE(ct_equal("", ""));
    EXPECT_FALSE(ct_equal("abc", "abd"));
    EXPECT_FALSE(ct_equal("abc", "abcd"));
    EXPECT_FALSE(ct_equal("abc", ""));
}

TEST(Random, FillsAndRefusesHugeRequests)
{
    unsigned char a[16] = {}, b[16] = {};
    ASSERT_TRUE(random_bytes(a, sizeof(a)));
    ASSERT_TRUE(random_bytes(b, sizeof(b)));
    EXPECT_NE(std::string(reinterpret_cast<char *>(a), 16),
              std::string(reinterpret_cast<char *>(b), 16));
    static unsigned char big[8192];
    EXPECT_FALSE(random_bytes(big, sizeof(big)));
}

// ---- prepared keys (the gateway's per-secret state) ----------------------

namespace {

struct rfc_case {
    std::string key;
    std::string msg;
    const char *sha1_hex;   // RFC 2202, nullptr: no SHA-1 case
    const char *sha256_hex; // RFC 4231, nullptr: no SHA-256 case
};

std::string
bytes(std::size_t n, char c)
{
    return std::string(n, c);
}

std::string
counting_key()
{
    std::string k;
    for (int i = 1; i <= 25; i++) {
        k += static_cast<char>(i);
    }
    return k;
}

// The full-length cases of RFC 2202 (HMAC-SHA1) and RFC 4231
// (HMAC-SHA256); keys of 80 and 131 bytes exceed the 64-byte block.
std::vector<rfc_case>
rfc_cases()
{
    return {
        {bytes(20, '\x0b'), "Hi There",
         "b617318655057264e28bc0b6fb378c8ef146be00",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", "what do ya want for nothing?",
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {bytes(20, '\xaa'), bytes(50, '\xdd'),
         "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {counting_key(), bytes(50, '\xcd'),
         "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {bytes(80, '\xaa'),
         "Test Using Larger Than Block-Size Key - Hash Key First",
         "aa4ae5e15272d00e95705637ce8a3b55ed402112", nullptr},
        {bytes(80, '\xaa'),
         "Test Using Larger Than Block-Size Key and Larger Than One "
         "Block-Size Data",
         "e8e99d0f45237d786d6bbaa7965c7808bbff1a91", nullptr},
        {bytes(131, '\xaa'),
         "Test Using Larger Than Block-Size Key - Hash Key First", nullptr,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {bytes(131, '\xaa'),
         "This is a test using a larger than block-size key and a larger "
         "than block-size data. The key needs to be hashed before being "
         "used by the HMAC algorithm.",
         nullptr,
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
}

} // namespace

TEST(HmacKey, RfcVectorsMatchThePlainHmac)
{
    for (const rfc_case &c : rfc_cases()) {
        SCOPED_TRACE(c.msg);
        if (c.sha1_hex != nullptr) {
            hmac_key key;
            sha1_digest plain, prepared;
            ASSERT_TRUE(key.set(hmac_algorithm::sha1, {c.key}));
            ASSERT_TRUE(hmac_sha1({c.key}, {c.msg}, plain));
            ASSERT_TRUE(key.mac({c.msg}, prepared));
            EXPECT_EQ(c.sha1_hex, hex(plain));
            EXPECT_EQ(c.sha1_hex, hex(prepared));
        }
        if (c.sha256_hex != nullptr) {
            hmac_key key;
            sha256_digest plain, prepared;
            ASSERT_TRUE(key.set(hmac_algorithm::sha256, {c.key}));
            ASSERT_TRUE(hmac_sha256({c.key}, {c.msg}, plain));
            ASSERT_TRUE(key.mac({c.msg}, prepared));
            EXPECT_EQ(c.sha256_hex, hex(plain));
            EXPECT_EQ(c.sha256_hex, hex(prepared));
        }
    }
}

TEST(HmacKey, EveryKeyLengthAndPieceSplitMatchesThePlainHmac)
{
    // Keys around and far beyond the 64-byte block (hashed first), given
    // whole or as secret + "&" (reading A1, POP), and messages of 0 to 3
    // blocks: the prepared key must never differ from the plain HMAC.
    for (std::size_t n : {0u, 1u, 20u, 31u, 63u, 64u, 65u, 100u, 131u, 300u}) {
        std::string secret;
        for (std::size_t i = 0; i < n; i++) {
            secret += static_cast<char>('a' + i % 26);
        }
        for (std::size_t m : {0u, 1u, 55u, 56u, 64u, 119u, 200u}) {
            SCOPED_TRACE(std::to_string(n) + " key bytes, " + std::to_string(m)
                         + " message bytes");
            std::string msg(m, 'm');
            std::string_view half = std::string_view(msg).substr(0, m / 2);
            std::string_view rest = std::string_view(msg).substr(m / 2);

            hmac_key k1, k1amp, k256;
            ASSERT_TRUE(k1.set(hmac_algorithm::sha1, {secret}));
            ASSERT_TRUE(k1amp.set(hmac_algorithm::sha1, {secret, "&"}));
            ASSERT_TRUE(k256.set(hmac_algorithm::sha256, {secret}));

            sha1_digest a, b;
            ASSERT_TRUE(hmac_sha1({secret}, {msg}, a));
            ASSERT_TRUE(k1.mac({half, rest}, b));
            EXPECT_EQ(hex(a), hex(b));

            ASSERT_TRUE(hmac_sha1({secret + "&"}, {msg}, a));
            ASSERT_TRUE(k1amp.mac({msg}, b));
            EXPECT_EQ(hex(a), hex(b));

            sha256_digest c, d;
            ASSERT_TRUE(hmac_sha256({secret}, {msg}, c));
            ASSERT_TRUE(k256.mac({half, rest}, d));
            EXPECT_EQ(hex(c), hex(d));
        }
    }
}

TEST(HmacKey, ReusedManyTimesAndReset)
{
    // The pad states are copied, never consumed: the hundredth MAC is the
    // first one.  set() again replaces the key.
    hmac_key key;
    ASSERT_TRUE(key.set(hmac_algorithm::sha256, {"Jefe"}));
    sha256_digest d;
    for (int i = 0; i < 100; i++) {
        ASSERT_TRUE(key.mac({"what do ya want ", "for nothing?"}, d));
    }
    EXPECT_EQ(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        hex(d));

    ASSERT_TRUE(key.set(hmac_algorithm::sha1, {"Jefe"}));
    sha1_digest d1;
    ASSERT_TRUE(key.mac({"what do ya want for nothing?"}, d1));
    EXPECT_EQ("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", hex(d1));
}

TEST(HmacKey, UnsetClearedOrOtherAlgorithmFailsInsteadOfDiffering)
{
    hmac_key key;
    sha1_digest d1;
    sha256_digest d256;

    EXPECT_FALSE(key.is_set());
    EXPECT_FALSE(key.mac({"abc"}, d1));

    ASSERT_TRUE(key.set(hmac_algorithm::sha1, {"k"}));
    EXPECT_TRUE(key.is_set());
    EXPECT_FALSE(key.mac({"abc"}, d256)); // a SHA-1 key, a SHA-256 digest
    EXPECT_TRUE(key.mac({"abc"}, d1));

    key.clear();
    EXPECT_FALSE(key.is_set());
    EXPECT_FALSE(key.mac({"abc"}, d1));
}
