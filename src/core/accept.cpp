#include "core/accept.hpp"

namespace provision_x {

namespace {

constexpr unsigned no_quality = 1001; // a malformed q

std::string_view
trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }

    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }

    return s;
}

bool
equal_nocase(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) {
        return false;
    }

    for (std::size_t i = 0; i < a.size(); i++) {
        char c = a[i];

        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }

        if (c != b[i]) {
            return false;
        }
    }

    return true;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
unsigned
parse_quality(std::string_view v) noexcept
{
    if (v.empty() || (v[0] != '0' && v[0] != '1')) {
        return no_quality;
    }

    unsigned q = (v[0] == '1') ? 1000 : 0;

    if (v.size() == 1) {
        return q;
    }

    if (v[1] != '.' || v.size() > 5) {
        return no_quality;
    }

    unsigned scale = 100;

    for (char c : v.substr(2)) {
        if (c < '0' || c > '9') {
            return no_quality;
        }

        q += static_cast<unsigned>(c - '0') * scale;
        scale /= 10;
    }

    return q <= 1000 ? q : no_quality;
}

// 3: type/sub matches, 2: type/*, 1: */*, 0: no match
int
specificity(std::string_view range, std::string_view type,
            std::string_view sub) noexcept
{
    std::string_view::size_type slash = range.find('/');

    if (slash == std::string_view::npos) {
        return 0;
    }

    std::string_view rtype = trim(range.substr(0, slash));
    std::string_view rsub = trim(range.substr(slash + 1));

    if (rtype == "*" && rsub == "*") {
        return 1;
    }

    if (!equal_nocase(rtype, type)) {
        return 0;
    }

    if (rsub == "*") {
        return 2;
    }

    return equal_nocase(rsub, sub) ? 3 : 0;
}

} // namespace

unsigned
accept_quality(std::string_view accept, std::string_view media_type) noexcept
{
    std::string_view::size_type slash = media_type.find('/');

    if (slash == std::string_view::npos) {
        return 0;
    }

    std::string_view type = media_type.substr(0, slash);
    std::string_view sub = media_type.substr(slash + 1);

    int best = 0;
    unsigned quality = 0;

    while (!accept.empty()) {
        std::string_view::size_type comma = accept.find(',');
        std::string_view element = accept.substr(0, comma);

        accept.remove_prefix(comma == std::string_view::npos ? accept.size()
                                                             : comma + 1);

        std::string_view::size_type semi = element.find(';');
        int spec = specificity(trim(element.substr(0, semi)), type, sub);

        if (spec == 0 || spec < best) {
            continue;
        }

        unsigned q = 1000;

        while (semi != std::string_view::npos) {
            element.remove_prefix(semi + 1);
            semi = element.find(';');

            std::string_view param = trim(element.substr(0, semi));
            std::string_view::size_type eq = param.find('=');

            if (eq != std::string_view::npos
                && equal_nocase(trim(param.substr(0, eq)), "q"))
            {
                q = parse_quality(trim(param.substr(eq + 1)));
            }
        }

        if (q == no_quality) {
            continue;
        }

        if (spec > best) {
            best = spec;
            quality = q;

        } else if (q > quality) {
            quality = q;
        }
    }

    return quality;
}

} // namespace provision_x
