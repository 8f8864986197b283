// Content negotiation of the status endpoint (core/accept.hpp).

#include <gtest/gtest.h>

#include "core/accept.hpp"

using provision_x::accept_quality;

namespace {

// What the clients of the status endpoint send.
constexpr std::string_view chromium =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
constexpr std::string_view firefox =
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
constexpr std::string_view prometheus =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

} // namespace

TEST(AcceptQuality, BrowsersPreferHtml)
{
    for (std::string_view a : {chromium, firefox}) {
        EXPECT_EQ(1000u, accept_quality(a, "text/html"));
        EXPECT_EQ(800u, accept_quality(a, "application/json"));
        EXPECT_EQ(800u, accept_quality(a, "text/plain"));
    }
}

TEST(AcceptQuality, PrometheusPrefersText)
{
    EXPECT_EQ(500u, accept_quality(prometheus, "text/plain"));
    EXPECT_EQ(100u, accept_quality(prometheus, "text/html"));
    EXPECT_EQ(100u, accept_quality(prometheus, "application/json"));
}

TEST(AcceptQuality, WildcardIsATie)
{
    EXPECT_EQ(1000u, accept_quality("*/*", "text/html"));
    EXPECT_EQ(1000u, accept_quality("*/*", "application/json"));
}

TEST(AcceptQuality, MostSpecificRangeWins)
{
    // text/html;q=0 refuses HTML even though text/* and */* accept it
    std::string_view a = "*/*;q=0.9, text/*;q=0.5, text/html;q=0";

    EXPECT_EQ(0u, accept_quality(a, "text/html"));
    EXPECT_EQ(500u, accept_quality(a, "text/plain"));
    EXPECT_EQ(900u, accept_quality(a, "application/json"));

    // equally specific: the highest q
    EXPECT_EQ(700u,
              accept_quality("text/plain;q=0.3,text/plain;version=0.0.4;q=0.7",
                             "text/plain"));
}

TEST(AcceptQuality, CaseAndBlanks)
{
    EXPECT_EQ(250u, accept_quality(" TEXT/Html ; Q=0.25 ,\tx/y", "text/html"));
    EXPECT_EQ(1000u, accept_quality("text/html;charset=utf-8", "text/html"));
    EXPECT_EQ(1000u, accept_quality("text/html;q=1.000", "text/html"));
    EXPECT_EQ(10u, accept_quality("text/html;q=0.01", "text/html"));
}

TEST(AcceptQuality, NoMatchOrMalformed)
{
    EXPECT_EQ(0u, accept_quality("", "text/html"));
    EXPECT_EQ(0u, accept_quality("application/json", "text/html"));
    EXPECT_EQ(0u, accept_quality("text", "text/html"));
    EXPECT_EQ(0u, accept_quality("text/htmlx", "text/html"));
    EXPECT_EQ(0u, accept_quality(",,,;;;", "text/html"));

    // a malformed q ignores its range, not the header
    for (std::string_view q : {"2", "1.5", "0.1234", "abc", "", ".5", "1.001"})
    {
        std::string a = "text/html;q=" + std::string(q) + ",*/*;q=0.2";
        SCOPED_TRACE(a);
        EXPECT_EQ(200u, accept_quality(a, "text/html"));
    }
}
