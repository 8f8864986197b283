#include "core/xaksk.hpp"

#include "core/clock.hpp"

namespace provision_x {

namespace {

bool
is_ows(char c) noexcept
{
    return c == ' ' || c == '\t';
}

bool
is_alnum(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9');
}

// Wider than the known keys so that an unexpected key is reported as
// unknown rather than as a syntax error.
bool
is_key_char(char c) noexcept
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

// Quoted-string content without quoted-pairs: any byte except '"', '\'
// and controls.  Bytes >= 0x80 pass (obs-text).
bool
is_qchar(char c) noexcept
{
    unsigned char u = static_cast<unsigned char>(c);

    return u != '"' && u != '\\' && u != 0x7f && (u >= 0x20 || u == '\t');
}

bool
is_b64_char(char c) noexcept
{
    return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

bool
iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) {
        return false;
    }

    for (std::size_t i = 0; i < a.size(); i++) {
        char x = a[i];
        char y = b[i];

        if (x >= 'A' && x <= 'Z') {
            x = static_cast<char>(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = static_cast<char>(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }

    return true;
}

std::string_view
trim_ows(std::string_view s) noexcept
{
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Splits "<word> 1*OWS <rest>"; false when there is no whitespace after a
// non-empty word or nothing after it.
bool
split_word(std::string_view s, std::string_view &word,
           std::string_view &rest) noexcept
{
    std::size_t i = 0;

    while (i < s.size() && !is_ows(s[i])) {
        i++;
    }

    if (i == 0 || i == s.size()) {
        return false;
    }

    word = s.substr(0, i);

    while (i < s.size() && is_ows(s[i])) {
        i++;
    }

    rest = s.substr(i);
    return true;
}

// pairs = pair *( OWS "," OWS pair ), pair = key "=" DQUOTE *qchar DQUOTE.
// Calls visit(key, value) for each pair and stops at its first error.
template <typename Visit>
xaksk_error
parse_pairs(std::string_view s, Visit &&visit) noexcept
{
    std::size_t i = 0;

    for (;;) {
        std::size_t key_at = i;

        while (i < s.size() && is_key_char(s[i])) {
            i++;
        }

        if (i == key_at || i + 1 >= s.size() || s[i] != '=' || s[i + 1] != '"')
        {
            return xaksk_error::syntax;
        }

        std::string_view key = s.substr(key_at, i - key_at);
        std::size_t value_at = i + 2;

        i = value_at;

        while (i < s.size() && s[i] != '"') {
            if (!is_qchar(s[i])) {
                return xaksk_error::syntax;
            }
            i++;
        }

        if (i == s.size()) {
            return xaksk_error::syntax;
        }

        xaksk_error rc = visit(key, s.substr(value_at, i - value_at));

        if (rc != xaksk_error::ok) {
            return rc;
        }

        i++;

        while (i < s.size() && is_ows(s[i])) {
            i++;
        }

        if (i == s.size()) {
            return xaksk_error::ok;
        }

        if (s[i] != ',') {
            return xaksk_error::syntax;
        }

        i++;

        while (i < s.size() && is_ows(s[i])) {
            i++;
        }
    }
}

// Records a value in its slot, refusing a second occurrence.  A seen flag
// rather than "slot empty" because an empty value is still an occurrence.
struct slot {
    std::string_view value;
    bool seen = false;

    xaksk_error set(std::string_view v) noexcept
    {
        if (seen) {
            return xaksk_error::duplicate_attribute;
        }
        seen = true;
        value = v;
        return xaksk_error::ok;
    }
};

} // namespace

std::string_view
describe(xaksk_error e) noexcept
{
    switch (e) {
    case xaksk_error::ok:
        return "ok";
    case xaksk_error::too_long:
        return "header too long";
    case xaksk_error::syntax:
        return "malformed header";
    case xaksk_error::duplicate_attribute:
        return "duplicate attribute";
    case xaksk_error::unknown_attribute:
        return "unknown attribute";
    case xaksk_error::bad_scheme:
        return "Authorization scheme is not AKSK";
    case xaksk_error::wsse_not_allowed:
        return "WSSE authorization is not enabled";
    case xaksk_error::missing_realm:
        return "realm not contained in Authorization";
    case xaksk_error::missing_profile:
        return "profile not contained in Authorization";
    case xaksk_error::missing_type:
        return "type not contained in Authorization";
    case xaksk_error::bad_realm:
        return "the value of realm in Authorization must be SDP";
    case xaksk_error::bad_profile:
        return "the value of profile in Authorization must be UsernameToken";
    case xaksk_error::bad_type:
        return "the value of type in Authorization must be Appkey";
    case xaksk_error::bad_prefix:
        return "token does not start with UsernameToken";
    case xaksk_error::missing_username:
        return "Username not contained in token";
    case xaksk_error::missing_nonce:
        return "Nonce not contained in token";
    case xaksk_error::missing_created:
        return "Created not contained in token";
    case xaksk_error::missing_digest:
        return "PasswordDigest not contained in token";
    case xaksk_error::bad_username:
        return "bad Username";
    case xaksk_error::bad_nonce:
        return "bad Nonce";
    case xaksk_error::bad_created:
        return "bad Created";
    case xaksk_error::bad_digest:
        return "bad PasswordDigest";
    }
    return "unknown";
}

huawei_result
huawei_no_authorization() noexcept
{
    return {"1023006", "Authorization not contained in the HTTP header."};
}

huawei_result
huawei_no_token(bool wsse) noexcept
{
    return wsse ? huawei_result{"1023026",
                                "X-WSSE not contained in the HTTP header."}
                : huawei_result{"1023033",
                                "HTTP header not found X-AKSK field."};
}

huawei_result
huawei_result_for(xaksk_error e, bool wsse) noexcept
{
    switch (e) {
    case xaksk_error::missing_realm:
        return {"1023007", "realm not contained in Authorization."};
    case xaksk_error::missing_profile:
        return {"1023008", "profile not contained in Authorization."};
    case xaksk_error::missing_type:
        return {"1023012", "type not contained in Authorization."};
    case xaksk_error::bad_realm:
        return {"1023009", "The value of realm in Authorization must be SDP."};
    case xaksk_error::bad_profile:
        return {"1023010", "The value of profile in Authorization must be "
                           "UsernameToken."};
    case xaksk_error::bad_type:
        return {"1023011",
                "The value of type in Authorization must be app_key."};
    case xaksk_error::bad_scheme:
    case xaksk_error::wsse_not_allowed:
        return huawei_no_authorization();
    case xaksk_error::missing_username:
        return wsse ? huawei_result{"1023027",
                                    "Username not contained in X-WSSE."}
                    : huawei_result{"1023034",
                                    "UserName not contained in X-AKSK."};
    case xaksk_error::missing_nonce:
        return wsse
                   ? huawei_result{"1023028", "Nonce not contained in X-WSSE."}
                   : huawei_result{"1023035", "Nonce not contained in X-AKSK."};
    case xaksk_error::missing_created:
        return wsse ? huawei_result{"1023029",
                                    "Created not contained in X-WSSE."}
                    : huawei_result{"1023036",
                                    "Created not contained in X-AKSK."};
    case xaksk_error::missing_digest:
        return wsse ? huawei_result{"1023030",
                                    "PasswordDigest not contained in X-WSSE."}
                    : huawei_result{"1023037",
                                    "PasswordDigest not contained in X-AKSK."};
    case xaksk_error::bad_created:
        return {"1023031", "The format of Created is invalid."};
    default:
        return {"1010002", "Invalid request."};
    }
}

bool
is_valid_nonce(std::string_view nonce) noexcept
{
    if (nonce.empty() || nonce.size() > max_nonce_length) {
        return false;
    }

    for (char c : nonce) {
        if (!is_alnum(c)) {
            return false;
        }
    }

    return true;
}

bool
is_valid_username(std::string_view username) noexcept
{
    if (username.empty() || username.size() > max_username_length) {
        return false;
    }

    for (char c : username) {
        if (!is_qchar(c)) {
            return false;
        }
    }

    return true;
}

xaksk_error
parse_authorization(std::string_view value, bool allow_wsse,
                    auth_scheme &scheme) noexcept
{
    if (value.size() > max_authorization_length) {
        return xaksk_error::too_long;
    }

    std::string_view word, rest;

    if (!split_word(trim_ows(value), word, rest)) {
        return xaksk_error::bad_scheme;
    }

    if (iequals(word, "AKSK")) {
        scheme = auth_scheme::aksk;
    } else if (iequals(word, "WSSE")) {
        if (!allow_wsse) {
            return xaksk_error::wsse_not_allowed;
        }
        scheme = auth_scheme::wsse;
    } else {
        return xaksk_error::bad_scheme;
    }

    slot realm, profile, type;

    xaksk_error rc =
        parse_pairs(rest, [&](std::string_view k, std::string_view v) {
            if (k == "realm") {
                return realm.set(v);
            }
            if (k == "profile") {
                return profile.set(v);
            }
            if (k == "type") {
                return type.set(v);
            }
            return xaksk_error::unknown_attribute;
        });

    if (rc != xaksk_error::ok) {
        return rc;
    }

    if (!realm.seen) {
        return xaksk_error::missing_realm;
    }
    if (!profile.seen) {
        return xaksk_error::missing_profile;
    }
    if (!type.seen) {
        return xaksk_error::missing_type;
    }

    if (realm.value != "SDP") {
        return xaksk_error::bad_realm;
    }
    if (profile.value != "UsernameToken") {
        return xaksk_error::bad_profile;
    }
    if (!iequals(type.value, "Appkey")) {
        return xaksk_error::bad_type;
    }

    return xaksk_error::ok;
}

xaksk_error
parse_username_token(std::string_view value, username_token &out) noexcept
{
    if (value.size() > max_username_token_length) {
        return xaksk_error::too_long;
    }

    std::string_view word, rest;

    if (!split_word(trim_ows(value), word, rest) || word != "UsernameToken") {
        return xaksk_error::bad_prefix;
    }

    slot username, digest, nonce, created;

    xaksk_error rc =
        parse_pairs(rest, [&](std::string_view k, std::string_view v) {
            if (k == "Username") {
                return username.set(v);
            }
            if (k == "PasswordDigest") {
                return digest.set(v);
            }
            if (k == "Nonce") {
                return nonce.set(v);
            }
            if (k == "Created") {
                return created.set(v);
            }
            return xaksk_error::unknown_attribute;
        });

    if (rc != xaksk_error::ok) {
        return rc;
    }

    // Huawei's own error codes come in this order (1023034..1023037).
    if (!username.seen) {
        return xaksk_error::missing_username;
    }
    if (!nonce.seen) {
        return xaksk_error::missing_nonce;
    }
    if (!created.seen) {
        return xaksk_error::missing_created;
    }
    if (!digest.seen) {
        return xaksk_error::missing_digest;
    }

    if (!is_valid_username(username.value)) {
        return xaksk_error::bad_username;
    }

    if (!is_valid_nonce(nonce.value)) {
        return xaksk_error::bad_nonce;
    }

    std::int64_t epoch = 0;

    if (!parse_utc_timestamp(created.value, epoch)) {
        return xaksk_error::bad_created;
    }

    if (digest.value.empty() || digest.value.size() > max_digest_length) {
        return xaksk_error::bad_digest;
    }

    for (char c : digest.value) {
        if (!is_b64_char(c)) {
            return xaksk_error::bad_digest;
        }
    }

    out.username = username.value;
    out.password_digest = digest.value;
    out.nonce = nonce.value;
    out.created = created.value;
    out.created_epoch = epoch;
    return xaksk_error::ok;
}

} // namespace provision_x
