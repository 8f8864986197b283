// Oracles the unit tests and the params fuzzer hold the fast paths to:
//  - the query/form parser as it was before the single pass (split on '&',
//    then on the first '=', decode each part, add()), for
//    parse_urlencoded();
//  - URL encoding and the X-mode string to sign spelled out a byte at a
//    time, for the encoder's sixteen-byte blocks.

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
using provision_x::url_flavour;

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

inline std::string
reference_url_encode(std::string_view s, url_flavour f)
{
    std::string out;

    for (unsigned char c : s) {
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                          || (c >= '0' && c <= '9') || c == '-' || c == '_'
                          || c == '.'
                          || c == (f == url_flavour::java ? '*' : '~');

        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else if (c == ' ' && f == url_flavour::java) {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back("0123456789ABCDEF"[c >> 4]);
            out.push_back("0123456789ABCDEF"[c & 0x0f]);
        }
    }

    return out;
}

// Spec section 2.4: every parameter but `signature` and those with an
// empty value, name=value joined by '&', then URL-encoded once more
// (`twice`; reading A3 signs the joined string itself).
inline std::string
reference_xmode_string_to_sign(const param_list &list, url_flavour f,
                               bool twice)
{
    std::string joined;

    for (const provision_x::param &p : list) {
        if (p.name == "signature" || p.value.empty()) {
            continue;
        }
        if (!joined.empty()) {
            joined += '&';
        }
        joined += reference_url_encode(p.name, f) + '='
                  + reference_url_encode(p.value, f);
    }

    return twice ? reference_url_encode(joined, f) : joined;
}

} // namespace px_fuzz

#endif
