// Grammar of the Authorization and X-AKSK / X-WSSE header values.

#include <string>

#include <gtest/gtest.h>

#include "core/xaksk.hpp"

using namespace provision_x;

namespace {

const std::string nonce32 = "66C92B11FF8A425FB8D4CCFE0ED9ED1F";

std::string
token(std::string_view username = "ka4k0000ExampleKey00",
      std::string_view digest = "g9rskwapbvP9UbEVT/lzbOk031Jdxr7UUWRYuv/hJ4Y=",
      std::string_view nonce = nonce32,
      std::string_view created = "2018-02-12T15:30:20Z")
{
    return "UsernameToken Username=\"" + std::string(username)
           + "\",PasswordDigest=\"" + std::string(digest) + "\",Nonce=\""
           + std::string(nonce) + "\",Created=\"" + std::string(created) + "\"";
}

xaksk_error
parse_tok(std::string_view s)
{
    username_token t;
    return parse_username_token(s, t);
}

xaksk_error
parse_auth(std::string_view s, bool allow_wsse = false)
{
    auth_scheme scheme;
    return parse_authorization(s, allow_wsse, scheme);
}

} // namespace

// ---- Authorization --------------------------------------------------------

TEST(ParseAuthorization, CanonicalAndTolerated)
{
    auth_scheme scheme = auth_scheme::wsse;
    EXPECT_EQ(
        xaksk_error::ok,
        parse_authorization(
            "AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
            false, scheme));
    EXPECT_EQ(auth_scheme::aksk, scheme);

    for (std::string_view ok : {
             // ", " separators, tabs, surrounding whitespace
             "AKSK realm=\"SDP\", profile=\"UsernameToken\", type=\"Appkey\"",
             "AKSK  realm=\"SDP\" ,\tprofile=\"UsernameToken\" , "
             "type=\"Appkey\"  ",
             " AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
             // order is free
             "AKSK type=\"Appkey\",realm=\"SDP\",profile=\"UsernameToken\"",
             // type value and scheme are case-insensitive (A-15, RFC 7235)
             "AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"appkey\"",
             "AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"APPKEY\"",
             "aksk realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
         })
    {
        EXPECT_EQ(xaksk_error::ok, parse_auth(ok)) << ok;
    }
}

TEST(ParseAuthorization, WrongSchemeOrLiteral)
{
    struct {
        std::string_view value;
        xaksk_error want;
    } cases[] = {
        {"", xaksk_error::bad_scheme},
        {"AKSK", xaksk_error::bad_scheme},
        {"AKSK ", xaksk_error::bad_scheme},
        {"Basic dXNlcjpwYXNz", xaksk_error::bad_scheme},
        {"AKSKrealm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::bad_scheme},
        {"WSSE realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::wsse_not_allowed},
        {"AKSK realm=\"SDP\",profile=\"UsernameToken\"",
         xaksk_error::missing_type},
        {"AKSK profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::missing_realm},
        {"AKSK realm=\"SDP\",type=\"Appkey\"", xaksk_error::missing_profile},
        {"AKSK realm=\"sdp\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::bad_realm},
        {"AKSK realm=\"\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::bad_realm},
        {"AKSK realm=\"SDP\",profile=\"usernametoken\",type=\"Appkey\"",
         xaksk_error::bad_profile},
        {"AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"app_key\"",
         xaksk_error::bad_type},
        {"AKSK realm=\"SDP\",realm=\"SDP\",profile=\"UsernameToken\","
         "type=\"Appkey\"",
         xaksk_error::duplicate_attribute},
        {"AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\","
         "extra=\"1\"",
         xaksk_error::unknown_attribute},
        {"AKSK Realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::unknown_attribute},
        {"AKSK realm=SDP,profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::syntax},
        {"AKSK realm=\"SDP\",,profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::syntax},
        {"AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\",",
         xaksk_error::syntax},
        {"AKSK realm=\"SDP\" profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::syntax},
        {"AKSK realm = \"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::syntax},
        {"AKSK realm=\"SDP,profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::syntax},
        {"AKSK realm=\"S\\\"DP\",profile=\"UsernameToken\",type=\"Appkey\"",
         xaksk_error::syntax},
    };

    for (const auto &c : cases) {
        EXPECT_EQ(c.want, parse_auth(c.value)) << c.value;
    }

    EXPECT_EQ(xaksk_error::too_long,
              parse_auth("AKSK realm=\"SDP\",profile=\"UsernameToken\","
                         "type=\"Appkey\""
                         + std::string(300, ' ')));
}

TEST(ParseAuthorization, WsseWhenAllowed)
{
    auth_scheme scheme = auth_scheme::aksk;
    EXPECT_EQ(
        xaksk_error::ok,
        parse_authorization(
            "WSSE realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
            true, scheme));
    EXPECT_EQ(auth_scheme::wsse, scheme);
    EXPECT_EQ(xaksk_error::bad_type,
              parse_auth("WSSE realm=\"SDP\",profile=\"UsernameToken\","
                         "type=\"x\"",
                         true));
    // Allowing WSSE does not stop AKSK.
    EXPECT_EQ(
        xaksk_error::ok,
        parse_authorization(
            "AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
            true, scheme));
    EXPECT_EQ(auth_scheme::aksk, scheme);
}

// ---- UsernameToken --------------------------------------------------------

TEST(ParseUsernameToken, CanonicalAndTolerated)
{
    username_token t;
    std::string v = token();
    ASSERT_EQ(xaksk_error::ok, parse_username_token(v, t));
    EXPECT_EQ("ka4k0000ExampleKey00", t.username);
    EXPECT_EQ("g9rskwapbvP9UbEVT/lzbOk031Jdxr7UUWRYuv/hJ4Y=",
              t.password_digest);
    EXPECT_EQ(nonce32, t.nonce);
    EXPECT_EQ("2018-02-12T15:30:20Z", t.created);
    EXPECT_EQ(1518449420, t.created_epoch);

    for (std::string_view ok : {
             "UsernameToken Username=\"k\", PasswordDigest=\"d=\", "
             "Nonce=\"A\", Created=\"2024-01-02T03:04:05Z\"",
             "UsernameToken\tCreated=\"2024-01-02T03:04:05Z\",Nonce=\"A\","
             "PasswordDigest=\"d=\",Username=\"k\"",
             "  UsernameToken   Username=\"k\" ,PasswordDigest=\"d=\"\t,  "
             "Nonce=\"A\",Created=\"2024-01-02T03:04:05Z\"  ",
             "UsernameToken Username=\"k with space\",PasswordDigest=\"d\","
             "Nonce=\"A\",Created=\"2024-01-02T03:04:05Z\"",
         })
    {
        EXPECT_EQ(xaksk_error::ok, parse_tok(ok)) << ok;
    }
}

TEST(ParseUsernameToken, NonceBounds)
{
    EXPECT_EQ(xaksk_error::ok, parse_tok(token("k", "d", "A")));
    EXPECT_EQ(xaksk_error::ok,
              parse_tok(token("k", "d", std::string(128, 'z'))));
    EXPECT_EQ(xaksk_error::bad_nonce,
              parse_tok(token("k", "d", std::string(129, 'z'))));
    EXPECT_EQ(xaksk_error::bad_nonce, parse_tok(token("k", "d", "")));
    for (std::string_view bad :
         {"ab-cd", "ab_cd", "ab cd", "ab+cd", "ab/cd", "ab=", "\xc3\xa9"})
    {
        EXPECT_EQ(xaksk_error::bad_nonce, parse_tok(token("k", "d", bad)))
            << bad;
    }
}

TEST(ParseUsernameToken, CreatedIsStrict)
{
    for (std::string_view bad : {
             "2024-02-30T00:00:00Z",
             "2024-01-02T03:04:05z",
             "2024-01-02T03:04:05.000Z",
             "2024-01-02T03:04:05+08:00",
             "2024-01-02 03:04:05",
             "",
         })
    {
        EXPECT_EQ(xaksk_error::bad_created,
                  parse_tok(token("k", "d", "A", bad)))
            << bad;
    }
}

TEST(ParseUsernameToken, Malformations)
{
    const std::string base = token();
    const std::string c = "Created=\"2018-02-12T15:30:20Z\"";
    const std::string n = "Nonce=\"" + nonce32 + "\"";
    const std::string d = "PasswordDigest=\"abc=\"";
    const std::string u = "Username=\"key\"";
    const std::string p = "UsernameToken ";

    struct {
        std::string value;
        xaksk_error want;
    } cases[] = {
        // duplicate attribute, each one
        {base + ",Nonce=\"B\"", xaksk_error::duplicate_attribute},
        {base + ",Username=\"x\"", xaksk_error::duplicate_attribute},
        {base + ",PasswordDigest=\"x\"", xaksk_error::duplicate_attribute},
        {base + ",Created=\"2018-02-12T15:30:20Z\"",
         xaksk_error::duplicate_attribute},
        // missing attribute, each one
        {p + d + "," + n + "," + c, xaksk_error::missing_username},
        {p + u + "," + d + "," + c, xaksk_error::missing_nonce},
        {p + u + "," + d + "," + n, xaksk_error::missing_created},
        {p + u + "," + n + "," + c, xaksk_error::missing_digest},
        // unknown or differently cased key
        {base + ",Realm=\"x\"", xaksk_error::unknown_attribute},
        {p + "UserName=\"key\"," + d + "," + n + "," + c,
         xaksk_error::unknown_attribute},
        {p + "nonce=\"A\"," + u + "," + d + "," + c,
         xaksk_error::unknown_attribute},
        // prefix
        {"Username=\"key\"," + d + "," + n + "," + c, xaksk_error::bad_prefix},
        {"usernametoken " + u + "," + d + "," + n + "," + c,
         xaksk_error::bad_prefix},
        {"UsernameToken," + u + "," + d + "," + n + "," + c,
         xaksk_error::bad_prefix},
        {"UsernameToken", xaksk_error::bad_prefix},
        {"", xaksk_error::bad_prefix},
        // syntax
        {p + u + ",," + d + "," + n + "," + c, xaksk_error::syntax},
        {p + u + "," + d + "," + n + "," + c + ",", xaksk_error::syntax},
        {p + u + " " + d + "," + n + "," + c, xaksk_error::syntax},
        {p + u + ";" + d + "," + n + "," + c, xaksk_error::syntax},
        {p + "Username=key," + d + "," + n + "," + c, xaksk_error::syntax},
        {p + "Username='key'," + d + "," + n + "," + c, xaksk_error::syntax},
        {p + "Username=\"key," + d + "," + n + "," + c, xaksk_error::syntax},
        {p + "Username =\"key\"," + d + "," + n + "," + c, xaksk_error::syntax},
        {p + "Username=\"k\\\"ey\"," + d + "," + n + "," + c,
         xaksk_error::syntax},
        {p + "Username=\"k\r\ney\"," + d + "," + n + "," + c,
         xaksk_error::syntax},
        {p + "=\"key\"," + d + "," + n + "," + c, xaksk_error::syntax},
        // values
        {token(""), xaksk_error::bad_username},
        {token(std::string(257, 'k')), xaksk_error::bad_username},
        {token("k", ""), xaksk_error::bad_digest},
        {token("k", "not base64!"), xaksk_error::bad_digest},
        {token("k", std::string(129, 'A')), xaksk_error::bad_digest},
    };

    for (const auto &cs : cases) {
        EXPECT_EQ(cs.want, parse_tok(cs.value)) << cs.value;
    }

    EXPECT_EQ(xaksk_error::too_long, parse_tok(base + std::string(1100, ' ')));
}

TEST(ParseUsernameToken, OutputUntouchedOnError)
{
    username_token t;
    t.nonce = "sentinel";
    EXPECT_NE(xaksk_error::ok, parse_username_token(token("k", "d", "a-b"), t));
    EXPECT_EQ("sentinel", t.nonce);
}

TEST(Validators, NonceAndUsername)
{
    EXPECT_TRUE(is_valid_nonce("0aZ"));
    EXPECT_FALSE(is_valid_nonce(""));
    EXPECT_FALSE(is_valid_nonce(std::string(129, '0')));
    EXPECT_TRUE(is_valid_username("app key/+="));
    EXPECT_FALSE(is_valid_username("a\"b"));
    EXPECT_FALSE(is_valid_username("a\\b"));
    EXPECT_FALSE(is_valid_username(std::string_view("a\0b", 3)));
}

TEST(Describe, XakskErrors)
{
    EXPECT_EQ("realm not contained in Authorization",
              describe(xaksk_error::missing_realm));
}
