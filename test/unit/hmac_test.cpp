#include <string>

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
