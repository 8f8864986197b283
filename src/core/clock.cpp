#include "core/clock.hpp"

#include <limits>

namespace provision_x {

namespace {

constexpr std::int64_t seconds_per_day = 86400;

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
constexpr std::int64_t min_epoch = -62167219200;
constexpr std::int64_t max_epoch = 253402300799;

// Howard Hinnant's days_from_civil / civil_from_days: exact for the
// proleptic Gregorian calendar, no tables, no library time functions.
std::int64_t
days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept
{
    y -= m <= 2;
    std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = static_cast<unsigned>(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void
civil_from_days(std::int64_t z, std::int64_t &y, unsigned &m,
                unsigned &d) noexcept
{
    z += 719468;
    std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = static_cast<unsigned>(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

bool
is_leap(std::int64_t y) noexcept
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

unsigned
days_in_month(std::int64_t y, unsigned m) noexcept
{
    static constexpr unsigned char days[] = {31, 28, 31, 30, 31, 30,
                                             31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Reads `n` ASCII digits at `at`; false on anything else.
bool
digits(std::string_view s, std::size_t at, std::size_t n,
       unsigned &value) noexcept
{
    value = 0;

    for (std::size_t i = at; i < at + n; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);

        if (c < '0' || c > '9') {
            return false;
        }

        value = value * 10 + (c - '0');
    }

    return true;
}

void
put_digits(char *out, unsigned value, std::size_t n) noexcept
{
    for (std::size_t i = n; i > 0; i--) {
        out[i - 1] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

// |a - b| <= limit for b >= a, without signed overflow.
bool
lag_within(std::int64_t a, std::int64_t b, std::int64_t limit) noexcept
{
    std::uint64_t diff =
        static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a);

    return diff <= static_cast<std::uint64_t>(limit < 0 ? 0 : limit);
}

window_result
classify(std::int64_t stamp, std::int64_t now, const clock_window &w) noexcept
{
    if (stamp <= now) {
        return lag_within(stamp, now, w.past) ? window_result::utc
                                              : window_result::too_old;
    }

    return lag_within(now, stamp, w.future) ? window_result::utc
                                            : window_result::too_new;
}

} // namespace

bool
parse_utc_timestamp(std::string_view s, std::int64_t &epoch) noexcept
{
    if (s.size() != utc_timestamp_length || s[4] != '-' || s[7] != '-'
        || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    {
        return false;
    }

    unsigned year, month, day, hour, minute, second;

    if (!digits(s, 0, 4, year) || !digits(s, 5, 2, month)
        || !digits(s, 8, 2, day) || !digits(s, 11, 2, hour)
        || !digits(s, 14, 2, minute) || !digits(s, 17, 2, second))
    {
        return false;
    }

    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)
        || hour > 23 || minute > 59 || second > 59)
    {
        return false;
    }

    epoch = days_from_civil(year, month, day) * seconds_per_day + hour * 3600
            + minute * 60 + second;
    return true;
}

bool
format_utc_timestamp(std::int64_t epoch, utc_timestamp_text &out) noexcept
{
    if (epoch < min_epoch || epoch > max_epoch) {
        return false;
    }

    std::int64_t days = epoch / seconds_per_day;
    std::int64_t secs = epoch % seconds_per_day;

    if (secs < 0) {
        secs += seconds_per_day;
        days -= 1;
    }

    std::int64_t year;
    unsigned month, day;

    civil_from_days(days, year, month, day);

    char *p = out.data();
    unsigned s = static_cast<unsigned>(secs);

    put_digits(p, static_cast<unsigned>(year), 4);
    p[4] = '-';
    put_digits(p + 5, month, 2);
    p[7] = '-';
    put_digits(p + 8, day, 2);
    p[10] = 'T';
    put_digits(p + 11, s / 3600, 2);
    p[13] = ':';
    put_digits(p + 14, s / 60 % 60, 2);
    p[16] = ':';
    put_digits(p + 17, s % 60, 2);
    p[19] = 'Z';
    return true;
}

std::string_view
describe(window_result r) noexcept
{
    switch (r) {
    case window_result::utc:
        return "fresh (UTC)";
    case window_result::beijing:
        return "fresh (read as UTC+8)";
    case window_result::too_old:
        return "timestamp too old";
    case window_result::too_new:
        return "timestamp in the future";
    }
    return "unknown";
}

window_result
check_window(std::int64_t stamp, std::int64_t now,
             const clock_window &w) noexcept
{
    window_result utc = classify(stamp, now, w);

    if (utc == window_result::utc || !w.beijing_alternative
        || stamp < std::numeric_limits<std::int64_t>::min() + beijing_offset)
    {
        return utc;
    }

    if (classify(stamp - beijing_offset, now, w) == window_result::utc) {
        return window_result::beijing;
    }

    return utc;
}

} // namespace provision_x
