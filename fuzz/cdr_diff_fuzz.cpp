/*
 * Differential libFuzzer harness: every input is parsed by parse_push and
 * by jansson, as a Huawei CDR push, as a Huawei event push (every event
 * type accepted) and as an Aliyun push of one type (json_loadb with
 * JSON_REJECT_DUPLICATES), and any disagreement other than the relaxations
 * documented in src/core/cdr.hpp aborts.
 *
 * jansson refuses what the parser relaxes, so the input is first made
 * jansson-proof without moving a byte ("sanitized"), and every change is
 * remembered with its offset:
 *   - bytes that are not UTF-8 become '?' (what the parser does itself);
 *   - a repeated key is renamed, same length;
 *   - an integer beyond int64 or a real beyond double becomes 0 and spaces;
 *   - "\u0000" in a key becomes "\u0001" (jansson holds NUL only in
 *     values, with JSON_ALLOW_NUL).
 * A raw NUL byte, which jansson skips after a number or a literal, makes
 * any input not JSON.  Then:
 *   1. parse_push of the sanitized input must agree with jansson's tree
 *      exactly: status, record count, each record's bytes (json_equal),
 *      verdict, field, key, tenant, digest and in-push duplicates, as an
 *      independent validation over jansson's values computes them;
 *   2. parse_push of the original input must give the same result, except
 *      where a change was made: outside the records a change of bytes is
 *      not_json and a renamed key duplicate_key; inside a record, that
 *      record alone is not_utf8, contains_nul, duplicate_key, or (a big
 *      number in a known integer field) wrong_type / out_of_range; a
 *      record that is itself a big number is not_an_object either way,
 *      its span the whole number in the original and "0" once zeroed.
 *
 *   clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Isrc -Ifuzz fuzz/cdr_diff_fuzz.cpp src/core/cdr.cpp \
 *       src/core/encoding.cpp src/core/hmac.cpp \
 *       -lsimdjson -ljansson -lcrypto -o cdr_diff_fuzz
 *   ./cdr_diff_fuzz -dict=fuzz/cdr.dict fuzz/corpus/cdr_*
 */
#include "core/cdr.hpp"
#include "core/encoding.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <jansson.h>
#include <openssl/evp.h>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace provision_x;

void
require(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "cdr_diff: %s\n", what);
        std::abort();
    }
}

enum class change : uint8_t { utf8, dup_key, number, nul_key };

struct touch {
    size_t at;
    change kind;
};

/* ------------------------------------------------------------------ */
/* making the input jansson-proof                                      */

/* The expected length of a UTF-8 sequence from its first byte, or 0. */
size_t
lead_length(unsigned char c)
{
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        return 4;
    }
    return 0;
}

void
sanitize_utf8(std::string &t, std::vector<touch> &touches)
{
    for (size_t i = 0; i < t.size();) {
        size_t n = lead_length(static_cast<unsigned char>(t[i]));
        if (n != 0 && i + n <= t.size()
            && is_utf8(std::string_view(t).substr(i, n))) {
            i += n;
            continue;
        }
        t[i] = '?';
        touches.push_back({i, change::utf8});
        i++;
    }
}

bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The string token that ends at or before `end` (jansson's error
 * position is just past it): [open, close] are its quotes.
 */
bool
string_before(const std::string &t, size_t end, size_t *open, size_t *close)
{
    size_t q = std::min(end, t.size());
    while (q > 0 && is_ws(t[q - 1])) {
        q--;
    }
    if (q == 0 || t[q - 1] != '"') {
        return false;
    }
    *close = q - 1;

    /* the opening quote is the first one before with an even run of
     * backslashes in front of it */
    for (size_t i = *close; i-- > 0;) {
        if (t[i] != '"') {
            continue;
        }
        size_t slashes = 0;
        while (i > slashes && t[i - 1 - slashes] == '\\') {
            slashes++;
        }
        if (slashes % 2 == 0) {
            *open = i;
            return true;
        }
    }
    return false;
}

bool
rename_key(std::string &t, size_t end, unsigned serial)
{
    size_t open;
    size_t close;

    if (!string_before(t, end, &open, &close) || close - open < 2) {
        return false;
    }

    /* '~' and base 36: no escape, unlike any name of the rule tables */
    char name[24];
    int n = std::snprintf(name, sizeof(name), "~%u", serial);
    size_t len = close - open - 1;
    if (static_cast<size_t>(n) > len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        t[open + 1 + i] = i < static_cast<size_t>(n) ? name[i] : '~';
    }
    return true;
}

bool
zero_number(std::string &t, size_t end)
{
    size_t e = std::min(end, t.size());
    size_t b = e;

    while (b > 0 && std::strchr("0123456789+-.eE", t[b - 1]) != nullptr
           && t[b - 1] != '\0')
    {
        b--;
    }
    if (b == e) {
        return false;
    }
    t[b] = '0';
    for (size_t i = b + 1; i < e; i++) {
        t[i] = ' ';
    }
    return true;
}

bool
unnul_key(std::string &t, size_t end)
{
    size_t open;
    size_t close;
    bool changed = false;

    if (!string_before(t, end, &open, &close)) {
        return false;
    }
    for (size_t i = open + 1; i < close; i++) {
        if (t[i] != '\\') {
            continue;
        }
        if (t.compare(i, 6, "\\u0000") == 0) {
            t[i + 5] = '1';
            changed = true;
        }
        i += t[i + 1] == 'u' ? 5 : 1;
    }
    return changed;
}

constexpr size_t jansson_flags =
    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;

/* jansson's tree of the sanitized text, or nullptr for a real error */
bool
sanitize(std::string &t, std::vector<touch> &touches, json_t **root)
{
    sanitize_utf8(t, touches);

    for (unsigned serial = 0; serial < 64; serial++) {
        json_error_t err{};
        *root = json_loadb(t.data(), t.size(), jansson_flags, &err);
        if (*root != nullptr) {
            return true;
        }

        size_t at = static_cast<size_t>(err.position);
        bool done;

        switch (json_error_code(&err)) {
        case json_error_duplicate_key:
            done = rename_key(t, at, serial);
            touches.push_back({at > 0 ? at - 1 : 0, change::dup_key});
            break;
        case json_error_numeric_overflow:
            done = zero_number(t, at);
            touches.push_back({at > 0 ? at - 1 : 0, change::number});
            break;
        case json_error_null_byte_in_key:
            done = unnul_key(t, at);
            touches.push_back({at > 0 ? at - 1 : 0, change::nul_key});
            break;
        case json_error_out_of_memory:
            return false;
        default:
            return true; /* a real error: not JSON */
        }

        if (!done) {
            return false; /* cannot tell without moving bytes */
        }
    }

    return false;
}

/* ------------------------------------------------------------------ */
/* an independent reading of the rules, over jansson's values          */

bool
holds_nul(json_t *v)
{
    if (json_is_string(v)) {
        return std::memchr(json_string_value(v), '\0', json_string_length(v))
               != nullptr;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (holds_nul(json_array_get(v, i))) {
                return true;
            }
        }
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            if (holds_nul(m)) {
                return true;
            }
        }
    }
    return false;
}

size_t
code_points(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    }
    return c;
}

std::string
percent(std::string_view s)
{
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
            || (c >= 'a' && c <= 'z')
            || (c != '\0' && std::strchr("-._~@:+", c) != nullptr))
        {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

struct expected {
    bool object;
    cdr_problem problem = cdr_problem::none;
    std::string field;
    bool has_key = false;
    std::string key;
    bool has_tenant = false;
    std::string tenant;
};

std::string_view
text(json_t *v)
{
    return std::string_view(json_string_value(v), json_string_length(v));
}

/*
 * The spec's envelopes and tenants, written down again independently of
 * the parser's shape table (cdr.hpp says what each type is).
 */
enum class tenant_from : uint8_t { none, record, envelope, pools };

struct ref_type {
    push_type type;
    provision_x::dialect dialect;
    const char *event;  /* huawei eventType */
    const char *member; /* huawei: the records' member */
    bool list;
    size_t max;
    tenant_from tenant;
    const char *mode; /* the mode field's required value */
};

const ref_type ref_types[] = {
    {push_type::cdr, dialect::huawei, "fee", "feeLst", true, 50,
     tenant_from::record, nullptr},
    {push_type::callin, dialect::huawei, "callin", "statusInfo", false, 1,
     tenant_from::none, "Notify"},
    {push_type::callout, dialect::huawei, "callout", "statusInfo", false, 1,
     tenant_from::none, nullptr},
    {push_type::alerting, dialect::huawei, "alerting", "statusInfo", false, 1,
     tenant_from::none, nullptr},
    {push_type::answer, dialect::huawei, "answer", "statusInfo", false, 1,
     tenant_from::none, nullptr},
    {push_type::disconnect, dialect::huawei, "disconnect", "statusInfo", false,
     1, tenant_from::none, nullptr},
    {push_type::num_status, dialect::huawei, "numStatus", "numInfo", true, 100,
     tenant_from::none, nullptr},
    {push_type::sms, dialect::huawei, nullptr, "smsEvent", false, 1,
     tenant_from::envelope, "Notify"},
    {push_type::cdr, dialect::aliyun, nullptr, nullptr, true, 1000,
     tenant_from::pools, nullptr},
    {push_type::start_report, dialect::aliyun, nullptr, nullptr, true, 1000,
     tenant_from::pools, nullptr},
    {push_type::ring_report, dialect::aliyun, nullptr, nullptr, true, 1000,
     tenant_from::pools, nullptr},
    {push_type::recording, dialect::aliyun, nullptr, nullptr, true, 1000,
     tenant_from::pools, nullptr},
    {push_type::number_report, dialect::aliyun, nullptr, nullptr, true, 1000,
     tenant_from::pools, nullptr},
};

const ref_type *
ref_of(dialect d, push_type t)
{
    for (const ref_type &r : ref_types) {
        if (r.dialect == d && r.type == t) {
            return &r;
        }
    }
    return nullptr;
}

/* A field's value as a key component: a string's text, an integer's. */
std::string
component(json_t *v)
{
    return json_is_string(v) ? percent(text(v))
                             : std::to_string(json_integer_value(v));
}

constexpr size_t roles = static_cast<size_t>(cdr_field_role::mode) + 1;

expected
reference(json_t *rec, const ref_type &type, const cdr_options &opt,
          json_t *envelope_app_key)
{
    expected x{json_is_object(rec)};
    bool pools = type.tenant == tenant_from::pools;

    if (!x.object) {
        x.problem = cdr_problem::not_an_object;
        return x;
    }

    size_t n;
    const cdr_field_rule *rules = cdr_field_rules(type.dialect, type.type, &n);
    std::vector<bool> seen(n);
    const cdr_field_rule *bad = nullptr;
    cdr_problem problem = cdr_problem::none;
    json_t *part[roles] = {};
    bool part_bad[roles] = {};
    size_t components = 0;
    const char *mode_field = nullptr;

    for (size_t i = 0; i < n; i++) {
        size_t r = static_cast<size_t>(rules[i].role);
        if (rules[i].role == cdr_field_role::mode) {
            mode_field = rules[i].name;
        } else if (r >= static_cast<size_t>(cdr_field_role::key1)) {
            components = std::max(
                components, r - static_cast<size_t>(cdr_field_role::key1) + 1);
        }
    }

    const char *name;
    json_t *v;
    json_object_foreach(rec, name, v)
    {
        const cdr_field_rule *r = nullptr;
        for (size_t i = 0; i < n; i++) {
            if (std::strcmp(rules[i].name, name) == 0) {
                r = &rules[i];
                seen[i] = !json_is_null(v);
            }
        }
        if (r == nullptr || json_is_null(v)) {
            continue;
        }

        cdr_problem p = cdr_problem::none;
        bool text_ok = r->type == cdr_field_type::string
                       || r->type == cdr_field_type::string_or_integer;
        if (json_is_string(v) && text_ok) {
            if (json_string_length(v) < r->min_len) {
                p = cdr_problem::too_short;
            } else if (r->max_len != 0
                       && code_points(json_string_value(v),
                                      json_string_length(v))
                              > r->max_len)
            {
                p = cdr_problem::too_long;
            }
        } else if (r->type == cdr_field_type::number) {
            p = json_is_number(v) ? p : cdr_problem::wrong_type;
        } else if (r->type == cdr_field_type::string || !json_is_integer(v)) {
            p = cdr_problem::wrong_type;
        } else if (r->ranged
                   && (json_integer_value(v) < r->lo
                       || json_integer_value(v) > r->hi))
        {
            p = cdr_problem::out_of_range;
        }

        size_t slot = static_cast<size_t>(r->role);
        if (p == cdr_problem::none) {
            part[slot] = v;
        } else {
            part_bad[slot] = true;
            if (bad == nullptr) {
                bad = r;
                problem = p;
            }
        }
    }

    auto at = [&part](cdr_field_role p) { return part[size_t(p)]; };
    auto broken = [&part_bad](cdr_field_role p) { return part_bad[size_t(p)]; };
    json_t *tenant = nullptr;
    const char *kind = nullptr;

    if (type.tenant == tenant_from::record) {
        tenant = at(cdr_field_role::app_key);
    } else if (type.tenant == tenant_from::envelope) {
        tenant = envelope_app_key;
    } else if (pools && !broken(cdr_field_role::pool_key)
               && !broken(cdr_field_role::partner_key))
    {
        json_t *pool = at(cdr_field_role::pool_key);
        json_t *partner = at(cdr_field_role::partner_key);
        if (pool != nullptr && json_string_length(pool) > 0) {
            tenant = pool;
            kind = "pool_key";
        } else if (partner != nullptr && json_string_length(partner) > 0) {
            tenant = partner;
            kind = "partner_key";
        }
    }

    x.field = bad != nullptr ? bad->name : "";
    json_t *mode = at(cdr_field_role::mode);
    if (bad == nullptr && type.mode != nullptr && mode != nullptr
        && text(mode) != type.mode)
    {
        problem = cdr_problem::wrong_value;
        x.field = mode_field;
    }

    for (size_t i = 0; i < n; i++) {
        if (rules[i].required && !seen[i]) {
            problem = cdr_problem::missing;
            x.field = rules[i].name;
            break;
        }
    }

    if (pools && tenant == nullptr && !broken(cdr_field_role::pool_key)
        && !broken(cdr_field_role::partner_key)
        && problem != cdr_problem::missing)
    {
        problem = cdr_problem::missing;
        x.field = "pool_key/partner_key";
    }

    if (tenant != nullptr) {
        bool allowed = true;
        if (!pools) {
            allowed = opt.signer.empty() || text(tenant) == opt.signer;
        } else if (opt.tenants != nullptr) {
            allowed = false;
            for (size_t i = 0; i < opt.tenant_count; i++) {
                allowed |= text(tenant) == opt.tenants[i];
            }
        }
        if (!allowed) {
            problem = cdr_problem::foreign_tenant;
            x.field = pools ? kind : "appKey";
        }
        x.has_tenant = true;
        x.tenant = text(tenant);
    }

    if (holds_nul(rec)) {
        problem = cdr_problem::contains_nul;
        x.field = "";
    }
    x.problem = problem;

    if ((type.tenant != tenant_from::none && tenant == nullptr)
        || at(cdr_field_role::key1) == nullptr || broken(cdr_field_role::key2)
        || broken(cdr_field_role::key3))
    {
        return x;
    }

    x.has_key = true;
    x.key = dialect_name(type.dialect);
    if (type.type != push_type::cdr) {
        x.key = x.key + "." + push_type_name(type.type);
    }
    if (pools) {
        x.key = x.key + "/" + kind;
    }
    if (tenant != nullptr) {
        x.key += "/" + percent(text(tenant));
    }
    for (size_t i = 0; i < components; i++) {
        json_t *c = part[static_cast<size_t>(cdr_field_role::key1) + i];
        x.key += "/" + (c != nullptr ? component(c) : std::string());
    }
    return x;
}

/* ------------------------------------------------------------------ */
/* the comparisons                                                     */

cdr_parser &
parser()
{
    static cdr_parser p;
    return p;
}

std::string
key_of(const cdr_push &p, size_t i)
{
    std::string k(p[i].key_len, '\0');
    require(cdr_write_key(p, i, &k[0], k.size()) == p[i].key_len,
            "cdr_write_key");
    return k;
}

/* What jansson's tree says of the envelope: the status, type, records. */
struct reading {
    cdr_status status = cdr_status::ok;
    const ref_type *type = nullptr;
    json_t *app_key = nullptr; /* smsEvent's envelope appKey */
    std::vector<json_t *> records;
};

/* huawei: the type the envelope's eventType (or its absence) names */
const ref_type *
huawei_type(json_t *root, const cdr_options &opt)
{
    json_t *ev = json_object_get(root, "eventType");

    for (const ref_type &r : ref_types) {
        bool named = ev == nullptr ? r.type == push_type::sms
                                   : r.event != nullptr && json_is_string(ev)
                                         && text(ev) == r.event;
        if (r.dialect == dialect::huawei && named
            && (opt.types & push_type_bit(r.type)) != 0)
        {
            return &r;
        }
    }
    return nullptr;
}

reading
envelope(json_t *root, dialect d, const cdr_options &opt)
{
    reading x;
    json_t *list = root;

    if (d == dialect::aliyun) {
        size_t t = static_cast<size_t>(__builtin_ctz(opt.types | 1u << 31));
        x.type = ref_of(d, static_cast<push_type>(t));
        if (!json_is_array(root)) {
            x.status = cdr_status::not_an_array;
            return x;
        }
    } else {
        if (!json_is_object(root)) {
            x.status = cdr_status::not_an_object;
            return x;
        }
        x.type = huawei_type(root, opt);
        if (x.type == nullptr) {
            x.status = cdr_status::wrong_event_type;
            return x;
        }
        list = json_object_get(root, x.type->member);
        if (x.type->list && !json_is_array(list)) {
            x.status = cdr_status::not_an_array;
            return x;
        }
        x.app_key = json_object_get(root, "appKey");
        size_t n = json_is_string(x.app_key)
                       ? code_points(json_string_value(x.app_key),
                                     json_string_length(x.app_key))
                       : 0;
        if (x.type->tenant == tenant_from::envelope && (n < 1 || n > 32)) {
            x.status = cdr_status::bad_app_key;
            return x;
        }
        if (!x.type->list) {
            if (list != nullptr) {
                x.records.push_back(list);
            }
            list = nullptr;
        }
    }

    for (size_t i = 0; i < json_array_size(list); i++) {
        x.records.push_back(json_array_get(list, i));
    }
    size_t max =
        x.type->list && opt.max_records != 0 ? opt.max_records : x.type->max;
    if (x.records.empty()) {
        x.status = cdr_status::no_records;
    } else if (x.records.size() > max) {
        x.status = cdr_status::too_many_records;
    }
    return x;
}

/* parse_push of the sanitized text against jansson's reading of it */
void
compare_with_jansson(const cdr_push &p, json_t *root, dialect d,
                     const cdr_options &opt)
{
    if (root == nullptr) {
        require(p.status() == cdr_status::not_json, "jansson: not JSON");
        return;
    }

    reading want = envelope(root, d, opt);
    require(p.status() == want.status,
            "envelope status differs from jansson's");
    if (want.status != cdr_status::ok) {
        return;
    }

    require(p.type() == want.type->type, "type");
    require(p.size() == want.records.size(), "record count");
    std::vector<std::string> keys;

    for (size_t i = 0; i < p.size(); i++) {
        const cdr_record &r = p[i];
        json_t *rec = want.records[i];
        json_error_t err;
        json_t *mine =
            json_loadb(r.raw.data(), r.raw.size(), jansson_flags, &err);
        require(mine != nullptr && json_equal(mine, rec),
                "record bytes differ from jansson's record");
        json_decref(mine);

        expected x = reference(rec, *want.type, opt, want.app_key);
        require(r.problem == x.problem, "record verdict");
        require(r.valid == (x.problem == cdr_problem::none), "validity");
        if (!r.valid) {
            require(x.field == (r.field != nullptr ? r.field : ""),
                    "offending field");
        }
        require(x.has_tenant == (r.tenant.data() != nullptr)
                    && (!x.has_tenant || x.tenant == r.tenant),
                "tenant");
        require(x.has_key == (r.key_len != 0), "key presence");
        if (x.has_key) {
            require(key_of(p, i) == x.key, "key");
            unsigned char sha[EVP_MAX_MD_SIZE];
            unsigned len = 0;
            EVP_Digest(x.key.data(), x.key.size(), sha, &len, EVP_sha256(),
                       nullptr);
            require(std::memcmp(sha, r.key_digest, cdr_key_digest_size) == 0,
                    "key digest");
        }
        keys.push_back(r.valid ? x.key : std::string());

        /* the first valid record with the same key */
        uint32_t dup = cdr_no_dup;
        for (size_t j = 0; r.valid && j < i; j++) {
            if (p[j].valid && keys[j] == x.key) {
                dup = static_cast<uint32_t>(j);
                break;
            }
        }
        require(r.dup_of == dup, "in-push duplicate");
    }
}

bool
touched(const std::vector<touch> &touches, std::string_view span,
        const char *base, change kind)
{
    size_t b = static_cast<size_t>(span.data() - base);
    for (const touch &t : touches) {
        if (t.kind == kind && t.at >= b && t.at < b + span.size()) {
            return true;
        }
    }
    return false;
}

/* parse_push of the original against that of the sanitized text */
void
compare_relaxed(const cdr_push &orig, const char *obase, const cdr_push &san,
                const char *sbase, const std::vector<touch> &touches)
{
    bool any[4] = {};
    bool outside[4] = {};

    for (const touch &t : touches) {
        bool in_record = false;
        for (const cdr_record &r : san) {
            size_t b = static_cast<size_t>(r.raw.data() - sbase);
            in_record |= t.at >= b && t.at < b + r.raw.size();
        }
        any[size_t(t.kind)] = true;
        outside[size_t(t.kind)] |= !in_record;
    }

    bool utf8 = any[size_t(change::utf8)];
    bool dup = any[size_t(change::dup_key)];

    if (san.status() != cdr_status::ok) {
        cdr_status s = orig.status();
        require(s == san.status() || (utf8 && s == cdr_status::not_json)
                    || (dup && s == cdr_status::duplicate_key),
                "refused push: status not explained by the changes");
        return;
    }

    if (outside[size_t(change::utf8)] || outside[size_t(change::dup_key)]) {
        cdr_status s = orig.status();
        require((outside[size_t(change::utf8)] && s == cdr_status::not_json)
                    || (outside[size_t(change::dup_key)]
                        && s == cdr_status::duplicate_key),
                "a change outside the records must refuse the push");
        return;
    }

    require(orig.status() == cdr_status::ok, "push refused for a record");
    require(orig.size() == san.size(), "record count (relaxed)");

    for (size_t i = 0; i < orig.size(); i++) {
        const cdr_record &a = orig[i];
        const cdr_record &b = san[i];
        /* a record that is itself a number jansson cannot hold ends,
         * zeroed, at its '0'; the original, at its last digit */
        bool zeroed_number =
            b.raw == "0" && touched(touches, a.raw, obase, change::number);

        require(a.raw.data() - obase == b.raw.data() - sbase
                    && (a.raw.size() == b.raw.size() || zeroed_number),
                "record span");

        bool u = touched(touches, b.raw, sbase, change::utf8);
        bool d = touched(touches, b.raw, sbase, change::dup_key);
        bool z = touched(touches, b.raw, sbase, change::nul_key);
        bool n = touched(touches, b.raw, sbase, change::number);

        if (u) {
            require(a.problem == cdr_problem::not_utf8, "not_utf8");
        } else if (b.problem == cdr_problem::not_an_object) {
            require(a.problem == cdr_problem::not_an_object, "not an object");
        } else if (z || b.problem == cdr_problem::contains_nul) {
            require(a.problem == cdr_problem::contains_nul, "contains_nul");
        } else if (d) {
            require(a.problem == cdr_problem::duplicate_key, "duplicate_key");
        } else if (n) {
            require(a.valid ? b.valid && a.key_len == b.key_len
                            : (a.problem == b.problem
                               || a.problem == cdr_problem::wrong_type
                               || a.problem == cdr_problem::out_of_range),
                    "big number");
        } else {
            require(a.problem == b.problem && a.valid == b.valid
                        && a.compact == b.compact
                        && std::strcmp(a.reason, b.reason) == 0
                        && a.key_len == b.key_len
                        && (a.key_len == 0 || key_of(orig, i) == key_of(san, i))
                        && std::memcmp(a.key_digest, b.key_digest,
                                       cdr_key_digest_size)
                               == 0,
                    "untouched record differs");
            if (touches.empty()) {
                require(a.dup_of == b.dup_of && a.conflict == b.conflict,
                        "in-push duplicates");
            }
        }
    }
}

void
run(dialect d, const uint8_t *data, size_t size, const cdr_options &opt)
{
    std::string original(reinterpret_cast<const char *>(data), size);
    std::string sanitized = original;
    std::vector<touch> touches;
    json_t *root = nullptr;

    /* No JSON text holds a raw NUL byte: it is not whitespace, and inside
     * a string a control character must be escaped.  jansson skips one
     * after a number or a literal ("1\0" and "[1\0]" load), so it is not
     * asked: the push is not JSON, or refused for a key repeated outside
     * the records before the walk reached the NUL (the first error wins). */
    size_t nul = original.find('\0');
    if (nul != std::string::npos) {
        cdr_push orig;
        unsigned long at = 0;
        parse_push(parser(), d, original.data(), original.size(), opt, orig);
        require(orig.status() == cdr_status::not_json
                    || (orig.status() == cdr_status::duplicate_key
                        && std::sscanf(orig.detail(), "offset %lu", &at) == 1
                        && at < nul),
                "a raw NUL byte");
        return;
    }

    if (!sanitize(sanitized, touches, &root)) {
        json_decref(root);
        return; /* inconclusive: a change would move bytes */
    }

    cdr_push orig;
    cdr_push san;
    parse_push(parser(), d, original.data(), original.size(), opt, orig);
    parse_push(parser(), d, sanitized.data(), sanitized.size(), opt, san);

    compare_with_jansson(san, root, d, opt);
    compare_relaxed(orig, original.data(), san, sanitized.data(), touches);
    json_decref(root);
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* jansson is the slow side; larger bodies add nothing new */
    if (size > 64 * 1024) {
        return 0;
    }

    static const std::string_view tenants[] = {"FC100000123456789"};
    static const push_type aliyun[] = {
        push_type::cdr, push_type::start_report, push_type::ring_report,
        push_type::recording, push_type::number_report};
    cdr_options plain;
    plain.max_body = 0;
    cdr_options bound = plain;
    bound.signer = "V1Z96521zFr3vxe5N2A1UJ1sQ1WP";
    bound.tenants = tenants;
    bound.tenant_count = 1;

    /* half the inputs with the records bound to a tenant */
    cdr_options opt = size % 2 ? bound : plain;
    run(dialect::huawei, data, size, opt);

    /* a status URL: every Huawei type but the CDR; an Aliyun type */
    opt.types = 0;
    for (size_t t = 1; t < push_type_count; t++) {
        if (ref_of(dialect::huawei, static_cast<push_type>(t)) != nullptr) {
            opt.types |= push_type_bit(static_cast<push_type>(t));
        }
    }
    run(dialect::huawei, data, size, opt);
    opt.types = push_type_bit(aliyun[size / 2 % std::size(aliyun)]);
    run(dialect::aliyun, data, size, opt);
    return 0;
}
