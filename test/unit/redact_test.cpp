#include <string>

#include <gtest/gtest.h>

#include "core/redact.hpp"

using namespace provision_x;

namespace {

std::string
red(const std::string &in)
{
    std::string out(in.size(), '\0');
    out.resize(redact(in.data(), in.size(), out.data()));
    return out;
}

} // namespace

TEST(Redact, AliyunSignatureInARequestLine)
{
    EXPECT_EQ("GET /ali?a=1&signature=...&b=2 HTTP/1.1",
              red("GET /ali?a=1&signature=AbC%2B%3Dxyz&b=2 HTTP/1.1"));
    EXPECT_EQ("signature=...", red("signature=abcdef"));
    EXPECT_EQ("?signature=...", red("?signature=abcdef"));
    EXPECT_EQ("request: \"GET /x?signature=... HTTP/1.1\"",
              red("request: \"GET /x?signature=zzzzzz HTTP/1.1\""));
}

TEST(Redact, EveryEncodingOfTheParameterName)
{
    EXPECT_EQ("?%73ignature=...", red("?%73ignature=SECRETSIG"));
    EXPECT_EQ("?sig%6Eature=...", red("?sig%6Eature=SECRETSIG"));
    EXPECT_EQ("?%53IGNATURE=...", red("?%53IGNATURE=SECRETSIG"));
    EXPECT_EQ("&Signature=...&", red("&Signature=POPSIG123&"));
    EXPECT_EQ("?%73%69%67%6e%61%74%75%72%65=...",
              red("?%73%69%67%6e%61%74%75%72%65=SECRETSIG"));
}

TEST(Redact, OtherParametersStay)
{
    for (const char *s :
         {"?signatureMethod=HMAC-SHA1&signatureNonce=n1", "?mysignature=abc",
          "?signatures=abc", "designature=abc", "?sig=abc", "signature",
          "?signature=", "%7signature=abc"})
    {
        EXPECT_EQ(s, red(s)) << s;
    }
}

TEST(Redact, XakskAndXwsseToTheEndOfTheLine)
{
    EXPECT_EQ("http header: \"X-AKSK: ...",
              red("http header: \"X-AKSK: UsernameToken Username=\"a\", "
                  "PasswordDigest=\"D1G3ST==\", Nonce=\"n\", "
                  "Created=\"2026-01-01T00:00:00Z\"\""));
    EXPECT_EQ("x-wsse : ...\nnext line",
              red("x-wsse : UsernameToken PasswordDigest=abc\nnext line"));
    EXPECT_EQ("X-Aksk:...", red("X-Aksk:UsernameToken PasswordDigest=abc"));
}

TEST(Redact, BearerTokensWithAnyBlanks)
{
    EXPECT_EQ("Authorization: Bearer ...",
              red("Authorization: Bearer k3y-one"));
    EXPECT_EQ("Authorization: Bearer  ...",
              red("Authorization: Bearer  k3y-one"));
    EXPECT_EQ("authorization:bearer\t...\"",
              red("authorization:bearer\tk3y-one\""));
    EXPECT_EQ("AUTHORIZATION : BEARER ..., x",
              red("AUTHORIZATION : BEARER k3y-one, x"));
    /* other schemes carry no secret */
    EXPECT_EQ("Authorization: AKSK realm=\"SDP\"",
              red("Authorization: AKSK realm=\"SDP\""));
    EXPECT_EQ("Authorization: Bearerx", red("Authorization: Bearerx"));
}

TEST(Redact, PasswordDigestQuotedOrNot)
{
    EXPECT_EQ("PasswordDigest=\"...\", Nonce=\"n\"",
              red("PasswordDigest=\"D1G3ST+/==\", Nonce=\"n\""));
    EXPECT_EQ("passworddigest = ..., Nonce=n",
              red("passworddigest = D1G3ST, Nonce=n"));
    EXPECT_EQ("PASSWORDDIGEST=\"...", red("PASSWORDDIGEST=\"D1G3STrest"));
}

TEST(Redact, AQuotedValueClosedByTheNextOnesQuote)
{
    /* the fuzzer's find: the first quoted value runs to the quote that
     * opens the second, which must be masked all the same */
    EXPECT_EQ("PasswordDigest=\"...\"...\"",
              red("PasswordDigest=\"1.1PasswordDigest=\"SECRET99\""));
    EXPECT_EQ("GET /?a=PasswordDigest=\"...\"...\" HTTP/1.1",
              red("GET /?a=PasswordDigest=\"b&signature=\"SIG12345\" "
                  "HTTP/1.1"));
}

TEST(Redact, ShortValuesAreMaskedWhole)
{
    EXPECT_EQ("?signature=..&b", red("?signature=ab&b"));
    EXPECT_EQ("?signature=.", red("?signature=a"));
}

TEST(Redact, SeveralInOneLine)
{
    EXPECT_EQ("?signature=...&x=1 Authorization: Bearer ... PasswordDigest=...",
              red("?signature=S1x&x=1 Authorization: Bearer K1x "
                  "PasswordDigest=P1x"));
}

// The scan skips 16 bytes at a time: a credential is found at every
// offset, after fillers that hold none of its first bytes, or its first
// bytes alone, or pairs that look like its first two ("x\r" is "x-" with
// bit 0x20 set), or a parameter that is not one.
TEST(Redact, FoundAtEveryOffsetOfTheSkippingScan)
{
    for (const char *filler :
         {"b", "S", "A%", "\x05", "pX", "x\r", "au", "pa", "&s", "\t%", "x-"})
    {
        for (size_t k = 0; k < 40; k++) {
            std::string head;
            while (head.size() < k) {
                head += filler;
            }
            head.resize(k);

            for (const char *credential :
                 {"&signature=SECRET12&z=1", " X-AKSK: digest=SECRET12",
                  " Authorization: Bearer SECRET12",
                  " PasswordDigest=\"SECRET12\""})
            {
                std::string line = head + credential;
                std::string masked = red(line);
                SCOPED_TRACE(line);
                EXPECT_EQ(std::string::npos, masked.find("SECRET12"));
                EXPECT_EQ(0u, masked.compare(0, k, head));
            }
        }
    }
}

TEST(Redact, NeverLongerAndIdempotent)
{
    const std::string lines[] = {"?signature=abcdefgh",
                                 "X-AKSK: a",
                                 "Authorization: Bearer xy",
                                 "plain text without anything",
                                 "",
                                 "?signature=a&signature=bb"};

    for (const std::string &s : lines) {
        std::string once = red(s);
        EXPECT_LE(once.size(), s.size()) << s;
        EXPECT_EQ(once, red(once)) << s;
    }
}
