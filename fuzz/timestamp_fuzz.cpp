// libFuzzer harness: the strict timestamp parser, its inverse and the
// window check.  Accepted text must format back byte for byte, and any
// in-range epoch must survive format then parse.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/clock.hpp"

using namespace provision_x;

namespace {

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64) {
        return 0;
    }

    std::string_view in(reinterpret_cast<const char *>(data), size);
    std::int64_t epoch;
    utc_timestamp_text text;

    if (parse_utc_timestamp(in, epoch)) {
        check(format_utc_timestamp(epoch, text));
        check(std::string_view(text.data(), text.size()) == in);
    }

    // Also read the bytes as numbers: an epoch and window parameters.
    std::int64_t n[4] = {};
    std::memcpy(n, data, size < sizeof(n) ? size : sizeof(n));

    if (format_utc_timestamp(n[0], text)) {
        std::int64_t back;
        check(parse_utc_timestamp(std::string_view(text.data(), text.size()),
                                  back));
        check(back == n[0]);
    }

    clock_window w;
    w.past = n[2];
    w.future = n[3];
    w.beijing_alternative = (size & 1) != 0;

    window_result r = check_window(n[0], n[1], w);
    if (r == window_result::utc) {
        bool past = n[0] <= n[1];
        auto gap = past ? static_cast<std::uint64_t>(n[1]) - n[0]
                        : static_cast<std::uint64_t>(n[0]) - n[1];
        std::int64_t allowed = past ? w.past : w.future;

        check(gap <= static_cast<std::uint64_t>(allowed < 0 ? 0 : allowed));
    }
    check(r != window_result::beijing || w.beijing_alternative);

    return 0;
}
