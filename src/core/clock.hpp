// Timestamps of signed callbacks: the strict `yyyy-MM-ddTHH:mm:ssZ` form
// both platforms document (Aliyun `timestamp`, Huawei `Created`), and the
// freshness window check.  Pure arithmetic: no timegm, no locale, no TZ.

#ifndef PROVISION_X_CORE_CLOCK_HPP
#define PROVISION_X_CORE_CLOCK_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace provision_x {

constexpr std::size_t utc_timestamp_length = 20;
using utc_timestamp_text = std::array<char, utc_timestamp_length>;

// Accepts exactly 20 bytes: four-digit year 0000-9999 (proleptic
// Gregorian), '-', month, '-', day valid for that month and year, 'T',
// hour 00-23, ':', minute, ':', second 00-59 (no leap second), upper-case
// 'Z'.  Fractions, offsets, lower-case 't'/'z' and spaces are refused: the
// signature covers the exact string, so a lenient parse would only widen
// what an attacker may vary.
bool parse_utc_timestamp(std::string_view s, std::int64_t &epoch) noexcept;

// Inverse of parse_utc_timestamp; false outside years 0000-9999.
bool format_utc_timestamp(std::int64_t epoch, utc_timestamp_text &out) noexcept;

// Huawei sample code stamps Beijing wall-clock time with a literal 'Z'
// (spec §3.2.4, A-10); this is that offset.
constexpr std::int64_t beijing_offset = 8 * 3600;

struct clock_window {
    std::int64_t past = 900;   // a stamp may lag `now` by this many seconds
    std::int64_t future = 900; // and lead it by this many
    bool beijing_alternative = false;
};

enum class window_result : unsigned char {
    utc,     // fresh when read as UTC
    beijing, // stale or early as UTC, fresh when read as UTC+8
    too_old, // the UTC reading lags `now` by more than `past`
    too_new, // the UTC reading leads `now` by more than `future`
};

std::string_view describe(window_result r) noexcept;

// Limits are inclusive: a stamp exactly `past` seconds old is accepted.
// The UTC reading is tried first, so a stamp fresh both ways reports utc;
// a rejection always describes the UTC reading.  Negative limits count as
// zero.  Safe for any int64 inputs.
window_result check_window(std::int64_t stamp, std::int64_t now,
                           const clock_window &w) noexcept;

} // namespace provision_x

#endif
