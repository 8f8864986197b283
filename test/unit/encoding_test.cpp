#include <string>

#include <gtest/gtest.h>

#include "core/encoding.hpp"

#include "../../fuzz/params_reference.hpp"

using namespace provision_x;
using px_fuzz::reference_url_encode;

namespace {

std::string
enc(std::string_view s, url_flavour f)
{
    std::string out;
    EXPECT_TRUE(url_encode(s, f, out));
    EXPECT_EQ(url_encoded_length(s, f), out.size());
    return out;
}

std::string
enc2(std::string_view s, url_flavour f)
{
    std::string out;
    EXPECT_TRUE(url_encode_twice(s, f, out));
    return out;
}

codec_error
dec(std::string_view s, bool plus, std::string &out)
{
    out.clear();
    return percent_decode(s, plus, out);
}

std::string
b64(std::string_view s)
{
    std::string out;
    EXPECT_TRUE(base64_encode(s, out));
    return out;
}

} // namespace

TEST(UrlEncode, FlavoursDifferOnlyInSpaceStarTilde)
{
    EXPECT_EQ("a+b*c%7Ed", enc("a b*c~d", url_flavour::java));
    EXPECT_EQ("a%20b%2Ac~d", enc("a b*c~d", url_flavour::rfc3986));

    const std::string_view common = "AZaz09-_./+=&:%\"{}";
    EXPECT_EQ("AZaz09-_.%2F%2B%3D%26%3A%25%22%7B%7D",
              enc(common, url_flavour::java));
    EXPECT_EQ(enc(common, url_flavour::java),
              enc(common, url_flavour::rfc3986));
}

TEST(UrlEncode, Utf8BytesUpperHex)
{
    EXPECT_EQ("%E5%91%BC%E5%8F%AB",
              enc("\xe5\x91\xbc\xe5\x8f\xab", url_flavour::java));
    EXPECT_EQ("%00%FF",
              enc(std::string_view("\0\xff", 2), url_flavour::rfc3986));
}

TEST(UrlEncode, AppendsToExistingContent)
{
    std::string out = "x=";
    ASSERT_TRUE(url_encode("a b", url_flavour::java, out));
    EXPECT_EQ("x=a+b", out);
}

TEST(UrlEncode, TwiceEqualsEncodingTheEncoding)
{
    std::string all;
    for (int c = 0; c < 256; c++) {
        all.push_back(static_cast<char>(c));
    }

    for (url_flavour f : {url_flavour::java, url_flavour::rfc3986}) {
        for (std::string_view s : {std::string_view("a b*c~d+/=&"),
                                   std::string_view(all), std::string_view()})
        {
            EXPECT_EQ(enc(enc(s, f), f), enc2(s, f));
        }
    }
}

TEST(UrlEncode, EveryByteInEveryLaneOfEveryLength)
{
    // Runs of unreserved bytes are copied sixteen at a time and a short
    // tail as two overlapping halves: every byte, alone or followed three
    // lanes later by a second one, at every offset of every length up to
    // two blocks and a tail, in both flavours, once and twice.
    const std::string filler = "Az09-_.azAZ.-_9";
    const unsigned char seconds[] = {' ', '%', '*', '~', 0x80};

    for (url_flavour f : {url_flavour::java, url_flavour::rfc3986}) {
        for (std::size_t len = 1; len <= 34; len++) {
            for (int c = 0; c < 256; c++) {
                for (std::size_t at = 0; at < len; at++) {
                    std::string s;
                    while (s.size() < len) {
                        s += filler;
                    }
                    s.resize(len);
                    s[at] = static_cast<char>(c);
                    if (at + 3 < len) {
                        s[at + 3] = static_cast<char>(seconds[(c + at) % 5]);
                    }

                    std::string once = reference_url_encode(s, f);

                    ASSERT_EQ(once, enc(s, f))
                        << "byte " << c << " at " << at << " of " << len;
                    ASSERT_EQ(reference_url_encode(once, f), enc2(s, f))
                        << "byte " << c << " at " << at << " of " << len;
                }
            }
        }
    }
}

TEST(PercentDecode, DecodesBothHexCases)
{
    std::string out;
    ASSERT_EQ(codec_error::ok, dec("%2b%2B%e5%91%BC-x", false, out));
    EXPECT_EQ("++\xe5\x91\xbc-x", out);
}

TEST(PercentDecode, PlusHandling)
{
    std::string out;
    ASSERT_EQ(codec_error::ok, dec("a+b%2B", true, out));
    EXPECT_EQ("a b+", out);
    ASSERT_EQ(codec_error::ok, dec("a+b%2B", false, out));
    EXPECT_EQ("a+b+", out);
}

TEST(PercentDecode, RejectsBadEscapes)
{
    std::string out = "keep";
    for (std::string_view bad :
         {"%", "%4", "a%", "%G1", "%1G", "%%", "%%41", "ab%2", "% 41", "%-1"})
    {
        out = "keep";
        EXPECT_EQ(codec_error::bad_percent, percent_decode(bad, true, out))
            << bad;
        EXPECT_EQ("keep", out) << "output must be untouched on error";
    }
}

TEST(PercentDecode, NulAndHighBytes)
{
    std::string out;
    ASSERT_EQ(codec_error::ok, dec("%00%ff", false, out));
    EXPECT_EQ(std::string("\0\xff", 2), out);
}

TEST(PercentDecode, PointerVariant)
{
    char buf[16];
    std::size_t n = 99;
    ASSERT_EQ(codec_error::ok, percent_decode("a%3Db", false, buf, n));
    EXPECT_EQ("a=b", std::string(buf, n));
    EXPECT_EQ(codec_error::bad_percent, percent_decode("a%3", false, buf, n));
}

TEST(PercentDecode, NeverGrowsBeyondInputSize)
{
    std::string out;
    out.reserve(8);
    const char *before = out.data();
    ASSERT_EQ(codec_error::ok, percent_decode("%41%42", false, out));
    ASSERT_EQ(codec_error::ok, percent_decode("cd", false, out));
    EXPECT_EQ("ABcd", out);
    EXPECT_EQ(before, out.data());
}

TEST(Base64, Rfc4648Vectors)
{
    EXPECT_EQ("", b64(""));
    EXPECT_EQ("Zg==", b64("f"));
    EXPECT_EQ("Zm8=", b64("fo"));
    EXPECT_EQ("Zm9v", b64("foo"));
    EXPECT_EQ("Zm9vYg==", b64("foob"));
    EXPECT_EQ("Zm9vYmE=", b64("fooba"));
    EXPECT_EQ("Zm9vYmFy", b64("foobar"));
    EXPECT_EQ("+/8=", b64("\xfb\xff"));
    static_assert(base64_encoded_length(20) == 28);
    static_assert(base64_encoded_length(32) == 44);
}

TEST(Base64, DecodeRoundTrip)
{
    std::string all;
    for (int c = 0; c < 256; c++) {
        all.push_back(static_cast<char>(c));
    }

    for (std::size_t len = 0; len <= all.size(); len += 37) {
        std::string e = b64(all.substr(0, len));
        std::string d;
        ASSERT_EQ(codec_error::ok, base64_decode(e, d));
        EXPECT_EQ(all.substr(0, len), d);
    }
}

TEST(Base64, DecodeIsStrict)
{
    for (std::string_view bad :
         {"Zg=", "Zg", "Z===", "====", "Zm9v YQ==", "Zm9v\nYQ==", "Zg=a",
          "Z=g=", "Zm9vYg=\x3d=", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9v="})
    {
        std::string out = "keep";
        EXPECT_EQ(codec_error::bad_base64, base64_decode(bad, out)) << bad;
        EXPECT_EQ("keep", out);
    }
}

TEST(Hex, LowerCase)
{
    const unsigned char in[] = {0x00, 0x9f, 0xab, 0xff};
    char out[8];
    hex_encode(in, sizeof(in), out);
    EXPECT_EQ("009fabff", std::string(out, 8));
}

TEST(Utf8, AcceptsWellFormed)
{
    EXPECT_TRUE(is_utf8(""));
    EXPECT_TRUE(is_utf8("plain ascii"));
    EXPECT_TRUE(is_utf8(std::string_view("\0", 1)));
    EXPECT_TRUE(is_utf8("\xc2\x80"));         // U+0080
    EXPECT_TRUE(is_utf8("\xe5\x91\xbc"));     // 呼
    EXPECT_TRUE(is_utf8("\xed\x9f\xbf"));     // U+D7FF
    EXPECT_TRUE(is_utf8("\xee\x80\x80"));     // U+E000
    EXPECT_TRUE(is_utf8("\xf0\x9f\x98\x80")); // U+1F600
    EXPECT_TRUE(is_utf8("\xf4\x8f\xbf\xbf")); // U+10FFFF
}

TEST(Utf8, RejectsMalformed)
{
    for (std::string_view bad : {
             "\x80",             // lone continuation
             "\xc0\x80",         // overlong NUL
             "\xc1\xbf",         // overlong
             "\xe0\x80\x80",     // overlong
             "\xe0\x9f\xbf",     // overlong
             "\xed\xa0\x80",     // surrogate
             "\xed\xbf\xbf",     // surrogate
             "\xf0\x80\x80\x80", // overlong
             "\xf4\x90\x80\x80", // above U+10FFFF
             "\xf5\x80\x80\x80", // above U+10FFFF
             "\xff",             // never valid
             "\xe5\x91",         // truncated
             "a\xe5",            // truncated at end
             "\xe5\x41\x41",     // bad continuation
             "\xf0\x9f\x98\x41", // bad last continuation
         })
    {
        EXPECT_FALSE(is_utf8(bad)) << testing::PrintToString(bad);
    }
}

TEST(Describe, CodecErrors)
{
    EXPECT_EQ("bad base64", describe(codec_error::bad_base64));
}
