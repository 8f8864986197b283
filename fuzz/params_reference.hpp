// The query/form parser as it was before the single pass (split on '&',
// then on the first '=', decode each part, add()): the oracle the unit
// tests and the params fuzzer hold parse_urlencoded() to.

#ifndef PROVISION_X_FUZZ_PARAMS_REFERENCE_HPP
#define PROVISION_X_FUZZ_PARAMS_REFERENCE_HPP

#include <string>
#include <string_view>

#include "core/encoding.hpp"
#include "core/params.hpp"

namespace px_fuzz {

using provision_x::codec_error;
using provision_x::param_list;
using provision_x::params_error;
using provision_x::percent_decode;

inline params_error
reference_parse(std::string_view raw, param_list &list, std::string &arena)
{
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
        std::string_view raw_value =
            eq == std::string_view::npos ? "" : segment.substr(eq + 1);
        if (raw_name.empty()) {
            return params_error::empty_name;
        }
        std::size_t name_at = arena.size();
        if (percent_decode(raw_name, true, arena) != codec_error::ok) {
            return params_error::bad_percent;
        }
        std::size_t value_at = arena.size();
        if (percent_decode(raw_value, true, arena) != codec_error::ok) {
            return params_error::bad_percent;
        }
        params_error added = list.add(
            std::string_view(arena.data() + name_at, value_at - name_at),
            std::string_view(arena.data() + value_at, arena.size() - value_at));
        if (added != params_error::ok) {
            return added;
        }
    }
    return params_error::ok;
}

} // namespace px_fuzz

#endif
