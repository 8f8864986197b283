#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "core/clock.hpp"

using namespace provision_x;

namespace {

std::int64_t
parse_ok(std::string_view s)
{
    std::int64_t t = -42;
    EXPECT_TRUE(parse_utc_timestamp(s, t)) << s;
    return t;
}

std::string
fmt(std::int64_t t)
{
    utc_timestamp_text out;
    EXPECT_TRUE(format_utc_timestamp(t, out)) << t;
    return std::string(out.data(), out.size());
}

} // namespace

TEST(ParseUtcTimestamp, KnownInstants)
{
    // Python calendar.timegm for each.
    EXPECT_EQ(0, parse_ok("1970-01-01T00:00:00Z"));
    EXPECT_EQ(-1, parse_ok("1969-12-31T23:59:59Z"));
    EXPECT_EQ(1514808000, parse_ok("2018-01-01T12:00:00Z"));
    EXPECT_EQ(1709208000, parse_ok("2024-02-29T12:00:00Z"));
    EXPECT_EQ(951868799, parse_ok("2000-02-29T23:59:59Z"));
    EXPECT_EQ(2147483648, parse_ok("2038-01-19T03:14:08Z"));
    EXPECT_EQ(253402300799, parse_ok("9999-12-31T23:59:59Z"));
    EXPECT_EQ(-11670912000, parse_ok("1600-03-01T00:00:00Z"));
    EXPECT_EQ(-62167219200, parse_ok("0000-01-01T00:00:00Z"));
}

TEST(ParseUtcTimestamp, CalendarValidation)
{
    std::int64_t t;
    for (std::string_view bad : {
             "2024-02-30T00:00:00Z", // spec example
             "2023-02-29T00:00:00Z", // not a leap year
             "1900-02-29T00:00:00Z", // century, not leap
             "2024-04-31T00:00:00Z", "2024-06-31T00:00:00Z",
             "2024-09-31T00:00:00Z", "2024-11-31T00:00:00Z",
             "2024-01-32T00:00:00Z", "2024-01-00T00:00:00Z",
             "2024-00-10T00:00:00Z", "2024-13-10T00:00:00Z",
             "2024-01-10T24:00:00Z", "2024-01-10T23:60:00Z",
             "2024-12-31T23:59:60Z", // no leap seconds
         })
    {
        EXPECT_FALSE(parse_utc_timestamp(bad, t)) << bad;
    }
    EXPECT_EQ(parse_ok("2024-03-01T00:00:00Z") - 86400,
              parse_ok("2024-02-29T00:00:00Z"));
}

TEST(ParseUtcTimestamp, ShapeIsExact)
{
    std::int64_t t;
    for (std::string_view bad : {
             "2024-01-02T03:04:05z",      // lower-case z
             "2024-01-02t03:04:05Z",      // lower-case t
             "2024-01-02T03:04:05.123Z",  // fraction
             "2024-01-02T03:04:05.0Z",    // fraction
             "2024-01-02T03:04:05+08:00", // offset
             "2024-01-02T03:04:05+0000",  // offset
             "2024-01-02T03:04:05",       // no zone
             "2024-01-02 03:04:05Z",      // space
             "2024-01-02T03:04:05Z ",     // trailing space
             " 2024-01-02T03:04:05Z",     // leading space
             "2024-1-02T03:04:05Z",       // short month
             "24-01-02T03:04:05Z",        // short year
             "+2024-01-02T03:04:05Z",     // sign
             "2024/01/02T03:04:05Z",      "2024-01-02T03-04-05Z",
             "2024-01-02T3:04:05Z",       "2024-01-02T03:04:5Z",
             "20240102T030405Z",          "2024-0a-02T03:04:05Z",
             "2024-01-02T03:04: 5Z",      "",
         })
    {
        EXPECT_FALSE(parse_utc_timestamp(bad, t)) << bad;
    }
    std::string with_nul("2024-01-02T03:04:05Z");
    with_nul[18] = '\0';
    EXPECT_FALSE(parse_utc_timestamp(with_nul, t));
}

TEST(FormatUtcTimestamp, RoundTrips)
{
    EXPECT_EQ("1970-01-01T00:00:00Z", fmt(0));
    EXPECT_EQ("1969-12-31T23:59:59Z", fmt(-1));
    EXPECT_EQ("2024-02-29T12:00:00Z", fmt(1709208000));
    EXPECT_EQ("0000-01-01T00:00:00Z", fmt(-62167219200));
    EXPECT_EQ("9999-12-31T23:59:59Z", fmt(253402300799));

    // Every day boundary and a spread of times across 1968-2105.
    for (std::int64_t t = -70000000; t < 4200000000; t += 86400 * 7 + 4321) {
        EXPECT_EQ(t, parse_ok(fmt(t)));
    }
}

TEST(FormatUtcTimestamp, RefusesOutOfRange)
{
    utc_timestamp_text out;
    EXPECT_FALSE(format_utc_timestamp(-62167219201, out));
    EXPECT_FALSE(format_utc_timestamp(253402300800, out));
    EXPECT_FALSE(
        format_utc_timestamp(std::numeric_limits<std::int64_t>::min(), out));
    EXPECT_FALSE(
        format_utc_timestamp(std::numeric_limits<std::int64_t>::max(), out));
}

TEST(CheckWindow, EdgesAreInclusive)
{
    const std::int64_t now = 1700000000;
    clock_window w;
    w.past = 300;
    w.future = 60;

    EXPECT_EQ(window_result::utc, check_window(now, now, w));
    EXPECT_EQ(window_result::utc, check_window(now - 300, now, w));
    EXPECT_EQ(window_result::too_old, check_window(now - 301, now, w));
    EXPECT_EQ(window_result::utc, check_window(now + 60, now, w));
    EXPECT_EQ(window_result::too_new, check_window(now + 61, now, w));
}

TEST(CheckWindow, DefaultIsPlusMinus900)
{
    const std::int64_t now = 1700000000;
    clock_window w;
    EXPECT_EQ(window_result::utc, check_window(now - 900, now, w));
    EXPECT_EQ(window_result::too_old, check_window(now - 901, now, w));
    EXPECT_EQ(window_result::utc, check_window(now + 900, now, w));
    EXPECT_EQ(window_result::too_new, check_window(now + 901, now, w));
}

TEST(CheckWindow, ZeroAndNegativeLimits)
{
    const std::int64_t now = 1000;
    clock_window w;
    w.past = 0;
    w.future = -5;
    EXPECT_EQ(window_result::utc, check_window(now, now, w));
    EXPECT_EQ(window_result::too_old, check_window(now - 1, now, w));
    EXPECT_EQ(window_result::too_new, check_window(now + 1, now, w));
}

TEST(CheckWindow, BeijingAlternative)
{
    // HW-5 and HW-6: the same instant, written as UTC and as Beijing
    // wall-clock time with a literal Z.
    const std::int64_t utc = parse_ok("2025-06-15T08:00:00Z");
    const std::int64_t bj = parse_ok("2025-06-15T16:00:00Z");
    ASSERT_EQ(beijing_offset, bj - utc);

    clock_window w;
    w.past = 900;
    w.future = 900;
    EXPECT_EQ(window_result::too_new, check_window(bj, utc, w));

    w.beijing_alternative = true;
    EXPECT_EQ(window_result::utc, check_window(utc, utc, w));
    EXPECT_EQ(window_result::beijing, check_window(bj, utc, w));
    EXPECT_EQ(window_result::beijing, check_window(bj + 900, utc, w));
    EXPECT_EQ(window_result::beijing, check_window(bj - 900, utc, w));
    // Outside both readings: report the UTC one.
    EXPECT_EQ(window_result::too_new, check_window(bj + 901, utc, w));
    EXPECT_EQ(window_result::too_new, check_window(bj - 901, utc, w));
    EXPECT_EQ(window_result::too_old, check_window(utc - 901, utc, w));
    // The alternative only ever shifts backwards (platform clock ahead).
    EXPECT_EQ(window_result::too_old, check_window(utc - 28800, utc, w));
}

TEST(CheckWindow, NoOverflowAtExtremes)
{
    const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    clock_window w;
    w.beijing_alternative = true;
    EXPECT_EQ(window_result::too_old, check_window(lo, hi, w));
    EXPECT_EQ(window_result::too_new, check_window(hi, lo, w));
    EXPECT_EQ(window_result::too_old, check_window(lo, 0, w));
    EXPECT_EQ(window_result::too_new, check_window(hi, 0, w));
    w.past = hi;
    w.future = hi;
    EXPECT_EQ(window_result::utc, check_window(lo, -1, w));
    EXPECT_EQ(window_result::utc, check_window(hi, 0, w));
}

TEST(Describe, WindowResults)
{
    EXPECT_EQ("fresh (read as UTC+8)", describe(window_result::beijing));
}
