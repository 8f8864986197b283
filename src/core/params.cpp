#include "params.hpp"

#include <algorithm>

#include "encoding.hpp"

namespace provision_x {

namespace {

params_error
from_codec(codec_error e) noexcept
{
    return e == codec_error::no_memory ? params_error::no_memory
                                       : params_error::bad_percent;
}

} // namespace

std::string_view
describe(params_error e) noexcept
{
    switch (e) {
    case params_error::ok:
        return "ok";
    case params_error::too_large:
        return "parameters too large";
    case params_error::too_many:
        return "too many parameters";
    case params_error::duplicate:
        return "duplicate parameter";
    case params_error::bad_percent:
        return "bad percent-encoding";
    case params_error::not_utf8:
        return "parameter is not UTF-8";
    case params_error::empty_name:
        return "empty parameter name";
    case params_error::arena_too_small:
        return "parameter arena too small";
    case params_error::no_memory:
        return "out of memory";
    }
    return "unknown";
}

param_list::param_list(std::size_t max_count) : max_count_(max_count)
{
    items_.reserve(max_count);
}

params_error
param_list::add(std::string_view name, std::string_view value) noexcept
{
    if (name.empty()) {
        return params_error::empty_name;
    }

    if (!is_utf8(name) || !is_utf8(value)) {
        return params_error::not_utf8;
    }

    auto pos = std::lower_bound(
        items_.begin(), items_.end(), name,
        [](const param &p, std::string_view n) { return p.name < n; });

    if (pos != items_.end() && pos->name == name) {
        return params_error::duplicate;
    }

    if (items_.size() >= max_count_) {
        return params_error::too_many;
    }

    // Within the reserved capacity this cannot allocate; the catch only
    // keeps the noexcept promise honest.
    try {
        items_.insert(pos, param{name, value});
    } catch (...) {
        return params_error::no_memory;
    }

    return params_error::ok;
}

const param *
param_list::find(std::string_view name) const noexcept
{
    auto pos = std::lower_bound(
        items_.begin(), items_.end(), name,
        [](const param &p, std::string_view n) { return p.name < n; });

    if (pos != items_.end() && pos->name == name) {
        return &*pos;
    }

    return nullptr;
}

params_error
parse_urlencoded(std::string_view raw, std::size_t max_bytes, param_list &list,
                 std::string &arena) noexcept
{
    if (raw.size() > max_bytes) {
        return params_error::too_large;
    }

    if (arena.capacity() - arena.size() < raw.size()) {
        return params_error::arena_too_small;
    }

    std::size_t pos = 0;

    while (pos < raw.size()) {
        std::size_t amp = raw.find('&', pos);

        if (amp == std::string_view::npos) {
            amp = raw.size();
        }

        std::string_view segment = raw.substr(pos, amp - pos);
        pos = amp + 1;

        if (segment.empty()) {
            continue;
        }

        std::size_t eq = segment.find('=');
        std::string_view raw_name = segment.substr(0, eq);
        std::string_view raw_value;

        if (eq != std::string_view::npos) {
            raw_value = segment.substr(eq + 1);
        }

        if (raw_name.empty()) {
            return params_error::empty_name;
        }

        // Decoding appends at most raw.size() bytes in total, which the
        // capacity check above guarantees, so arena.data() never moves.
        std::size_t name_at = arena.size();

        codec_error rc = percent_decode(raw_name, true, arena);

        if (rc != codec_error::ok) {
            return from_codec(rc);
        }

        std::size_t value_at = arena.size();

        rc = percent_decode(raw_value, true, arena);

        if (rc != codec_error::ok) {
            return from_codec(rc);
        }

        std::string_view name(arena.data() + name_at, value_at - name_at);
        std::string_view value(arena.data() + value_at,
                               arena.size() - value_at);

        params_error added = list.add(name, value);

        if (added != params_error::ok) {
            return added;
        }
    }

    return params_error::ok;
}

} // namespace provision_x
