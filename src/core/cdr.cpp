#include "core/cdr.hpp"

#include <cstdio>
#include <cstring>
#include <iterator>
#include <openssl/evp.h>
#include <type_traits>

namespace provision_x {

static_assert(std::is_trivially_destructible_v<cdr_record>,
              "cdr_record lives in arenas and is never destroyed");

namespace {

/* ------------------------------------------------------------------ */
/* field rules                                                         */

enum class field_type : uint8_t { string, integer, number };

/* Fields that feed the key or the tenant, remembered during validation. */
enum key_slot : uint8_t {
    slot_none,
    slot_app_key,
    slot_session_id,
    slot_icid,
    slot_direction,
    slot_pool_key,
    slot_partner_key,
    slot_call_id,
    slot_count
};

struct field_rule {
    const char *name;
    field_type type;
    bool required;
    uint16_t min_len; /* characters (code points) */
    uint16_t max_len; /* 0 = unbounded */
    bool ranged;
    int64_t lo;
    int64_t hi;
    key_slot slot;
};

constexpr field_rule
req_str(const char *name, uint16_t min, uint16_t max, key_slot s = slot_none)
{
    return field_rule{name, field_type::string, true, min, max, false, 0, 0, s};
}

constexpr field_rule
opt_str(const char *name, uint16_t min = 0, uint16_t max = 0,
        key_slot s = slot_none)
{
    return field_rule{name, field_type::string, false, min, max, false, 0, 0,
                      s};
}

constexpr field_rule
opt_int(const char *name, key_slot s = slot_none)
{
    return field_rule{name, field_type::integer, false, 0, 0, false, 0, 0, s};
}

constexpr field_rule
opt_int_range(const char *name, int64_t lo, int64_t hi)
{
    return field_rule{name,     field_type::integer, false, 0, 0, true, lo, hi,
                      slot_none};
}

constexpr field_rule
opt_num(const char *name)
{
    return field_rule{name, field_type::number, false, 0, 0, false, 0,
                      0,    slot_none};
}

/*
 * Huawei FeeInfo, §3.4.1.  Sorted by strcmp for the binary search (checked
 * at compile time below).  Only [D] maximum lengths are enforced; [I] and
 * unbounded strings are type-checked only.
 */
constexpr field_rule huawei_rules[] = {
    req_str("appKey", 1, 128, slot_app_key),
    opt_str("areaCode", 0, 32),
    req_str("bindNum", 1, 32),
    opt_str("callEndTime"),
    opt_str("callInTime"),
    opt_str("callOutAlertingTime"),
    opt_str("callOutAnswerTime"),
    opt_str("callOutStartTime"),
    opt_int("callOutUnaswRsn"),
    opt_int("callRelDirection"),
    req_str("calleeNum", 1, 32),
    req_str("callerNum", 1, 32),
    opt_int("direction", slot_direction),
    opt_str("extendNum"),
    opt_str("failTime", 0, 128),
    opt_str("fwdAlertingTime", 0, 128),
    opt_str("fwdAnswerTime"),
    opt_str("fwdDisplayNum"),
    opt_str("fwdDstNum"),
    opt_str("fwdStartTime", 0, 128),
    opt_int("fwdUnaswRsn"),
    opt_str("hostName"),
    opt_str("icid", 1, 64, slot_icid),
    opt_str("mptyId"),
    opt_str("notifyMode"),
    opt_str("recordBucketName"),
    opt_str("recordDomain", 0, 256),
    opt_str("recordFileDownloadUrl", 0, 1024),
    opt_int_range("recordFlag", 0, 1),
    opt_str("recordObjectName", 0, 128),
    opt_str("recordPushURL"),
    opt_str("recordStartTime", 0, 128),
    opt_str("serviceType"),
    req_str("sessionId", 1, 256, slot_session_id),
    opt_int("sipStatusCode"),
    req_str("spId", 1, 32),
    opt_str("subscriptionId"),
    opt_int("ttsPlayTimes"),
    opt_int("ttsTransDuration"),
    opt_int("ulFailReason"),
    opt_str("userData", 0, 256),
};

/*
 * Aliyun SecretReport, §2.6.1.  pool_key/partner_key are individually
 * optional; "at least one non-empty" is checked after the loop.
 */
constexpr field_rule aliyun_rules[] = {
    req_str("call_id", 1, 100, slot_call_id),
    opt_str("call_out_time"),
    opt_str("call_time"),
    opt_int("call_type"),
    opt_str("called_display_no"),
    opt_str("city"),
    opt_str("control_msg"),
    opt_str("control_type"),
    opt_str("extension"),
    opt_str("free_ring_time"),
    opt_num("id"),
    opt_str("out_id"),
    opt_str("partner_key", 0, 256, slot_partner_key),
    opt_str("peer_no"),
    opt_str("phone_no"),
    opt_str("pool_key", 0, 256, slot_pool_key),
    opt_str("record_url"),
    opt_int("release_cause"),
    opt_int("release_dir"),
    opt_str("release_time"),
    opt_str("ring_record_url"),
    opt_str("ring_time"),
    opt_str("secret_no"),
    opt_int("sms_number"),
    opt_str("start_time"),
    opt_int("sub_id"),
    opt_int("subs_id"),
    opt_int("unconnected_cause"),
};

constexpr int
const_strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

template <size_t N>
constexpr bool
rules_sorted(const field_rule (&t)[N])
{
    for (size_t i = 1; i < N; i++) {
        if (const_strcmp(t[i - 1].name, t[i].name) >= 0) {
            return false;
        }
    }
    return N <= 64; /* "seen" is a 64-bit mask */
}

static_assert(rules_sorted(huawei_rules), "huawei_rules must be sorted");
static_assert(rules_sorted(aliyun_rules), "aliyun_rules must be sorted");

struct rule_table {
    const field_rule *rules;
    size_t n;
};

const field_rule *
find_rule(const rule_table &t, const char *name) noexcept
{
    size_t lo = 0;
    size_t hi = t.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = std::strcmp(name, t.rules[mid].name);
        if (c == 0) {
            return &t.rules[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }

    return nullptr;
}

/* Code points of valid UTF-8 (jansson has validated it). */
size_t
utf8_length(const char *s, size_t len) noexcept
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            n++;
        }
    }

    return n;
}

/* ------------------------------------------------------------------ */
/* raw span scanning                                                    */

/*
 * jansson has no source positions, so record spans are found by a second,
 * trivial scan of the already-validated body: strings, brackets, commas.
 * Everything is bounds-checked, so a disagreement with jansson can only
 * produce a wrong count, which the caller detects.
 */
inline bool
is_ws(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *
skip_ws(const char *p, const char *e) noexcept
{
    while (p < e && is_ws(*p)) {
        p++;
    }
    return p;
}

/* p at the opening quote; returns past the closing quote */
const char *
skip_string(const char *p, const char *e) noexcept
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return e;
}

const char *
skip_value(const char *p, const char *e) noexcept
{
    if (p >= e) {
        return e;
    }

    if (*p == '"') {
        return skip_string(p, e);
    }

    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < e) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, e);
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    return p + 1;
                }
            }
            p++;
        }
        return e;
    }

    while (p < e && !is_ws(*p) && *p != ',' && *p != ']' && *p != '}') {
        p++;
    }
    return p;
}

/*
 * p at '[': store each element's span into recs[0..n).  True only when
 * exactly n elements were found.
 */
bool
scan_array(const char *p, const char *e, cdr_record *recs, size_t n) noexcept
{
    size_t i = 0;

    if (p >= e || *p != '[') {
        return false;
    }

    p = skip_ws(p + 1, e);

    while (p < e && *p != ']') {
        const char *start = p;
        p = skip_value(p, e);
        if (i >= n || p == start) {
            return false;
        }
        recs[i].raw = start;
        recs[i].raw_len = static_cast<size_t>(p - start);
        i++;
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
        }
    }

    return i == n;
}

/* p at '{': return the start of the value of the member number `index` */
const char *
scan_member(const char *p, const char *e, size_t index) noexcept
{
    if (p >= e || *p != '{') {
        return nullptr;
    }

    p = skip_ws(p + 1, e);

    for (size_t k = 0; p < e && *p == '"'; k++) {
        p = skip_ws(skip_string(p, e), e);
        if (p >= e || *p != ':') {
            return nullptr;
        }
        p = skip_ws(p + 1, e);
        if (k == index) {
            return p;
        }
        p = skip_ws(skip_value(p, e), e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
        }
    }

    return nullptr;
}

/* ------------------------------------------------------------------ */
/* key encoding                                                        */

inline bool
key_unreserved(unsigned char c) noexcept
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '@' || c == ':' || c == '+';
}

size_t
key_part_size(const char *s, size_t len) noexcept
{
    size_t n = len;

    for (size_t i = 0; i < len; i++) {
        if (!key_unreserved(static_cast<unsigned char>(s[i]))) {
            n += 2;
        }
    }

    return n;
}

char *
key_part_write(char *p, const char *s, size_t len) noexcept
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (key_unreserved(c)) {
            *p++ = static_cast<char>(c);
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0x0F];
        }
    }

    return p;
}

struct key_part {
    const char *s;
    size_t len;
    bool encode;
};

bool
sha256(const void *data, size_t len, unsigned char out[32]) noexcept
{
    unsigned int n = 0;

    return EVP_Digest(data, len, out, &n, EVP_sha256(), nullptr) == 1 &&
           n == 32;
}

/* ------------------------------------------------------------------ */
/* NDJSON writing                                                       */

struct line_writer {
    char *p;
    char *end;
    bool ok;

    void put(char c) noexcept
    {
        if (p < end) {
            *p++ = c;
        } else {
            ok = false;
        }
    }

    void put(const char *s, size_t len) noexcept
    {
        if (static_cast<size_t>(end - p) >= len) {
            std::memcpy(p, s, len);
            p += len;
        } else {
            ok = false;
        }
    }

    void put(const char *s) noexcept
    {
        put(s, std::strlen(s));
    }

    /* JSON string body; invalid UTF-8 becomes U+FFFD */
    void escape(const char *s, size_t len) noexcept;

    /* the record's own bytes without insignificant whitespace */
    void minify(const char *s, size_t len) noexcept;
};

/* Length of a valid UTF-8 sequence at s (RFC 3629), or 0. */
size_t
utf8_sequence(const unsigned char *s, size_t len) noexcept
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0xC2) {
        return 0; /* continuation byte or overlong 2-byte lead */
    } else if (c < 0xE0) {
        n = 2;
        cp = c & 0x1F;
    } else if (c < 0xF0) {
        n = 3;
        cp = c & 0x0F;
    } else if (c < 0xF5) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }

    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }

    return n;
}

void
line_writer::escape(const char *s, size_t len) noexcept
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = reinterpret_cast<const unsigned char *>(s);
    size_t i = 0;

    while (i < len) {
        unsigned char c = u[i];

        if (c == '"' || c == '\\') {
            put('\\');
            put(static_cast<char>(c));
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0F]};
            put(esc, sizeof(esc));
            i++;
        } else if (c < 0x80) {
            put(static_cast<char>(c));
            i++;
        } else {
            size_t n = utf8_sequence(u + i, len - i);
            if (n == 0) {
                put("\\ufffd", 6);
                i++;
            } else {
                put(s + i, n);
                i += n;
            }
        }
    }
}

void
line_writer::minify(const char *s, size_t len) noexcept
{
    const char *e = s + len;

    while (s < e) {
        const char *run = s;

        if (*s == '"') {
            s = skip_string(s, e);
            put(run, static_cast<size_t>(s - run));
            continue;
        }

        while (s < e && *s != '"' && !is_ws(*s)) {
            s++;
        }
        put(run, static_cast<size_t>(s - run));

        while (s < e && is_ws(*s)) {
            s++;
        }
    }
}

int
dump_to_writer(const char *buffer, size_t size, void *data)
{
    line_writer *w = static_cast<line_writer *>(data);

    w->put(buffer, size);
    return w->ok ? 0 : -1;
}

constexpr size_t dump_flags = JSON_COMPACT | JSON_ENCODE_ANY;

/* DECODE_ANY: a scalar root is reported as the wrong shape, not as junk */
constexpr size_t parse_flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;

} // namespace

/* ------------------------------------------------------------------ */
/* names and messages                                                  */

const char *
cdr_dialect_name(cdr_dialect d) noexcept
{
    return d == cdr_dialect::huawei ? "huawei" : "aliyun";
}

const char *
cdr_status_name(cdr_status s) noexcept
{
    switch (s) {
    case cdr_status::ok:
        return "ok";
    case cdr_status::too_large:
        return "too_large";
    case cdr_status::not_json:
        return "not_json";
    case cdr_status::duplicate_key:
        return "duplicate_key";
    case cdr_status::not_an_object:
        return "not_an_object";
    case cdr_status::not_an_array:
        return "not_an_array";
    case cdr_status::wrong_event_type:
        return "wrong_event_type";
    case cdr_status::no_records:
        return "no_records";
    case cdr_status::too_many_records:
        return "too_many_records";
    case cdr_status::no_memory:
        return "no_memory";
    }
    return "unknown";
}

const char *
cdr_status_message(cdr_status s, cdr_dialect d) noexcept
{
    bool hw = d == cdr_dialect::huawei;

    switch (s) {
    case cdr_status::ok:
        return "ok";
    case cdr_status::too_large:
        return "request body is too large";
    case cdr_status::not_json:
        return "request body is not valid JSON";
    case cdr_status::duplicate_key:
        return "request body repeats a key within one JSON object";
    case cdr_status::not_an_object:
        return "request body must be a JSON object";
    case cdr_status::not_an_array:
        return hw ? "\"feeLst\" must be an array of FeeInfo objects"
                  : "request body must be a JSON array of receipts";
    case cdr_status::wrong_event_type:
        return "\"eventType\" must be \"fee\"";
    case cdr_status::no_records:
        return hw ? "\"feeLst\" is empty" : "receipt array is empty";
    case cdr_status::too_many_records:
        return hw ? "\"feeLst\" has too many records"
                  : "receipt array has too many records";
    case cdr_status::no_memory:
        return "out of memory while parsing the request body";
    }
    return "unknown error";
}

const char *
cdr_problem_message(cdr_problem p) noexcept
{
    switch (p) {
    case cdr_problem::none:
        return "ok";
    case cdr_problem::not_an_object:
        return "is not a JSON object";
    case cdr_problem::missing:
        return "is missing";
    case cdr_problem::wrong_type:
        return "has the wrong type";
    case cdr_problem::too_short:
        return "is too short";
    case cdr_problem::too_long:
        return "is too long";
    case cdr_problem::out_of_range:
        return "is out of range";
    }
    return "is invalid";
}

size_t
cdr_max_records(cdr_dialect d, const cdr_limits &limits) noexcept
{
    if (limits.max_records != 0) {
        return limits.max_records;
    }
    return d == cdr_dialect::huawei ? cdr_huawei_max_records
                                    : cdr_aliyun_max_records;
}

bool
cdr_body_digest(const char *data, size_t len,
                unsigned char out[cdr_body_digest_size]) noexcept
{
    return sha256(data, len, out);
}

/* ------------------------------------------------------------------ */
/* cdr_push                                                            */

cdr_push::cdr_push() noexcept
    : dialect_(cdr_dialect::huawei), status_(cdr_status::ok),
      root_owned_(false), root_(nullptr), records_(nullptr), count_(0),
      valid_(0), dups_(0),
      local_(json_arena_malloc_backend(), nullptr, 0, 16 * 1024), detail_()
{
}

cdr_push::~cdr_push()
{
    clear();
}

void
cdr_push::clear() noexcept
{
    if (root_ != nullptr && root_owned_) {
        json_decref(root_);
    }

    root_ = nullptr;
    root_owned_ = false;
    records_ = nullptr;
    count_ = 0;
    valid_ = 0;
    dups_ = 0;
    status_ = cdr_status::ok;
    detail_[0] = '\0';
    local_.reset();
}

namespace {

void
format_reason(cdr_record &r, const field_rule *bad) noexcept
{
    const char *type = "a number";

    if (bad != nullptr && bad->type == field_type::string) {
        type = "a string";
    } else if (bad != nullptr && bad->type == field_type::integer) {
        type = "an integer";
    }

    switch (r.problem) {
    case cdr_problem::none:
    case cdr_problem::not_an_object:
        break;
    case cdr_problem::missing:
        std::snprintf(r.reason, sizeof(r.reason),
                      "missing required field \"%s\"", r.field);
        break;
    case cdr_problem::wrong_type:
        std::snprintf(r.reason, sizeof(r.reason), "field \"%s\" must be %s",
                      r.field, type);
        break;
    case cdr_problem::too_short:
        /* every minimum in the tables is 0 or 1 */
        std::snprintf(r.reason, sizeof(r.reason),
                      "field \"%s\" must not be empty", r.field);
        break;
    case cdr_problem::too_long:
        std::snprintf(r.reason, sizeof(r.reason),
                      "field \"%s\" is longer than %u characters", r.field,
                      bad != nullptr ? unsigned(bad->max_len) : 0u);
        break;
    case cdr_problem::out_of_range:
        std::snprintf(r.reason, sizeof(r.reason),
                      "field \"%s\" must be between %lld and %lld", r.field,
                      bad != nullptr ? static_cast<long long>(bad->lo) : 0LL,
                      bad != nullptr ? static_cast<long long>(bad->hi) : 0LL);
        break;
    }
}

} // namespace

/* ------------------------------------------------------------------ */
/* the parser                                                          */

struct cdr_parser {
    cdr_push &out;
    json_arena &store;
    const char *data;
    size_t len;

    cdr_status fail(cdr_status s) noexcept
    {
        out.status_ = s;
        return s;
    }

    static cdr_status parse(cdr_dialect dialect, const char *data, size_t len,
                            const cdr_limits &limits, json_arena *arena,
                            cdr_push &out) noexcept;

    cdr_status envelope(const cdr_limits &limits, json_t **list,
                        const char **list_start) noexcept;
    bool record(const rule_table &t, json_t *rec, cdr_record &r) noexcept;
    bool make_key(cdr_record &r, const key_part *parts, size_t nparts) noexcept;
    void find_duplicates() noexcept;
    cdr_status run(const cdr_limits &limits) noexcept;
};

cdr_status
cdr_parser::envelope(const cdr_limits &limits, json_t **list,
                     const char **list_start) noexcept
{
    json_t *root = out.root_;
    const char *end = data + len;
    const char *p = skip_ws(data, end);

    if (out.dialect_ == cdr_dialect::aliyun) {
        if (!json_is_array(root)) {
            return fail(cdr_status::not_an_array);
        }
        *list = root;
        *list_start = p;

    } else {
        if (!json_is_object(root)) {
            return fail(cdr_status::not_an_object);
        }

        json_t *ev = json_object_get(root, "eventType");
        if (!json_is_string(ev) || json_string_length(ev) != 3 ||
            std::memcmp(json_string_value(ev), "fee", 3) != 0) {
            return fail(cdr_status::wrong_event_type);
        }

        /*
         * Objects iterate in insertion order, which is document order
         * since duplicates are rejected: the member's index locates its
         * bytes without decoding raw keys.
         */
        size_t index = 0;
        json_t *fee = nullptr;
        for (void *it = json_object_iter(root); it != nullptr;
             it = json_object_iter_next(root, it), index++) {
            if (std::strcmp(json_object_iter_key(it), "feeLst") == 0) {
                fee = json_object_iter_value(it);
                break;
            }
        }

        if (!json_is_array(fee)) {
            return fail(cdr_status::not_an_array);
        }
        *list = fee;
        *list_start = scan_member(p, end, index);
    }

    size_t n = json_array_size(*list);
    size_t max = cdr_max_records(out.dialect_, limits);

    if (n == 0) {
        return fail(cdr_status::no_records);
    }

    if (n > max) {
        std::snprintf(out.detail_, sizeof(out.detail_),
                      "%zu records, at most %zu allowed", n, max);
        return fail(cdr_status::too_many_records);
    }

    return cdr_status::ok;
}

/* false only when memory for the key ran out */
bool
cdr_parser::record(const rule_table &t, json_t *rec, cdr_record &r) noexcept
{
    const field_rule *bad = nullptr;
    cdr_problem problem = cdr_problem::none;
    uint64_t seen = 0;
    json_t *slots[slot_count] = {};
    bool slot_bad[slot_count] = {};
    bool hw = out.dialect_ == cdr_dialect::huawei;

    r.rec = rec;
    r.dup_of = cdr_no_dup;

    if (!json_is_object(rec)) {
        r.problem = cdr_problem::not_an_object;
        std::snprintf(r.reason, sizeof(r.reason),
                      "record is not a JSON object");
        return true;
    }

    const char *name;
    json_t *v;
    json_object_foreach(rec, name, v)
    {
        const field_rule *rule = find_rule(t, name);

        if (rule == nullptr || json_is_null(v)) {
            continue; /* unknown: kept, not checked; null = absent */
        }

        seen |= uint64_t(1) << (rule - t.rules);
        cdr_problem p = cdr_problem::none;

        switch (rule->type) {
        case field_type::string:
            if (!json_is_string(v)) {
                p = cdr_problem::wrong_type;
            } else {
                size_t bytes = json_string_length(v);
                /* bytes >= code points, so count only when needed */
                if (bytes < rule->min_len) {
                    p = cdr_problem::too_short;
                } else if (rule->max_len != 0 && bytes > rule->max_len &&
                           utf8_length(json_string_value(v), bytes) >
                               rule->max_len) {
                    p = cdr_problem::too_long;
                }
            }
            break;
        case field_type::integer:
            if (!json_is_integer(v)) {
                p = cdr_problem::wrong_type;
            } else if (rule->ranged && (json_integer_value(v) < rule->lo ||
                                        json_integer_value(v) > rule->hi)) {
                p = cdr_problem::out_of_range;
            }
            break;
        case field_type::number:
            if (!json_is_number(v)) {
                p = cdr_problem::wrong_type;
            }
            break;
        }

        if (p != cdr_problem::none) {
            slot_bad[rule->slot] = true;
            if (bad == nullptr) {
                bad = rule;
                problem = p;
            }
        } else {
            slots[rule->slot] = v;
        }
    }

    /* a missing required field outranks a type problem */
    for (size_t i = 0; i < t.n; i++) {
        if (t.rules[i].required && !(seen & (uint64_t(1) << i))) {
            bad = &t.rules[i];
            problem = cdr_problem::missing;
            break;
        }
    }

    json_t *tenant = nullptr;
    const char *tenant_kind = nullptr;

    if (hw) {
        tenant = slots[slot_app_key];
    } else if (!slot_bad[slot_pool_key] && !slot_bad[slot_partner_key]) {
        if (json_string_length(slots[slot_pool_key]) != 0) {
            tenant = slots[slot_pool_key];
            tenant_kind = "pool_key";
        } else if (json_string_length(slots[slot_partner_key]) != 0) {
            tenant = slots[slot_partner_key];
            tenant_kind = "partner_key";
        } else if (problem != cdr_problem::missing) {
            bad = nullptr; /* i.e. both */
            problem = cdr_problem::missing;
        }
    }

    if (tenant != nullptr) {
        r.tenant = json_string_value(tenant);
        r.tenant_len = json_string_length(tenant);
    }

    r.problem = problem;
    r.valid = problem == cdr_problem::none;

    if (!r.valid) {
        r.field = bad != nullptr ? bad->name : "pool_key/partner_key";
        format_reason(r, bad);
    }

    /* The key is built whenever its own fields are fine, for logging. */
    char dir[24];
    key_part parts[5];
    size_t nparts = 0;

    if (hw) {
        json_t *session = slots[slot_session_id];
        json_t *d = slots[slot_direction];
        json_t *icid = slots[slot_icid];

        if (tenant == nullptr || session == nullptr || slot_bad[slot_icid] ||
            slot_bad[slot_direction]) {
            return true;
        }

        int dn = 0;
        if (d != nullptr) {
            dn = std::snprintf(dir, sizeof(dir), "%lld",
                               static_cast<long long>(json_integer_value(d)));
        }

        parts[nparts++] = key_part{"huawei", 6, false};
        parts[nparts++] = key_part{r.tenant, r.tenant_len, true};
        parts[nparts++] = key_part{json_string_value(session),
                                   json_string_length(session), true};
        parts[nparts++] = key_part{dir, static_cast<size_t>(dn), false};
        parts[nparts++] = key_part{icid ? json_string_value(icid) : "",
                                   icid ? json_string_length(icid) : 0, true};

    } else {
        json_t *call_id = slots[slot_call_id];

        if (tenant == nullptr || call_id == nullptr) {
            return true;
        }

        parts[nparts++] = key_part{"aliyun", 6, false};
        parts[nparts++] =
            key_part{tenant_kind, std::strlen(tenant_kind), false};
        parts[nparts++] = key_part{r.tenant, r.tenant_len, true};
        parts[nparts++] = key_part{json_string_value(call_id),
                                   json_string_length(call_id), true};
    }

    return make_key(r, parts, nparts);
}

/* parts are joined by '/' */
bool
cdr_parser::make_key(cdr_record &r, const key_part *parts,
                     size_t nparts) noexcept
{
    size_t n = 0;

    for (size_t i = 0; i < nparts; i++) {
        n += parts[i].encode ? key_part_size(parts[i].s, parts[i].len)
                             : parts[i].len;
        n += i + 1 < nparts ? 1 : 0;
    }

    char *key = static_cast<char *>(store.allocate(n));
    if (key == nullptr) {
        return false;
    }

    char *p = key;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].encode) {
            p = key_part_write(p, parts[i].s, parts[i].len);
        } else {
            std::memcpy(p, parts[i].s, parts[i].len);
            p += parts[i].len;
        }
        if (i + 1 < nparts) {
            *p++ = '/';
        }
    }

    unsigned char digest[32];
    if (!sha256(key, n, digest)) {
        return false;
    }

    std::memcpy(r.key_digest, digest, cdr_key_digest_size);
    r.key = key;
    r.key_len = n;
    return true;
}

/* Open addressing on the digest: O(n) for the 1000-record Aliyun case. */
void
cdr_parser::find_duplicates() noexcept
{
    size_t cap = 8;

    while (cap < out.count_ * 2) {
        cap <<= 1;
    }

    uint32_t *slots =
        static_cast<uint32_t *>(store.allocate(cap * sizeof(uint32_t)));

    if (slots == nullptr) {
        /* quadratic fallback rather than failing the push */
        for (size_t i = 1; i < out.count_; i++) {
            cdr_record &r = out.records_[i];
            for (size_t j = 0; r.valid && j < i; j++) {
                const cdr_record &q = out.records_[j];
                if (q.valid && q.dup_of == cdr_no_dup &&
                    std::memcmp(q.key_digest, r.key_digest,
                                cdr_key_digest_size) == 0) {
                    r.dup_of = static_cast<uint32_t>(j);
                    r.conflict = !json_equal(q.rec, r.rec);
                    out.dups_++;
                    break;
                }
            }
        }
        return;
    }

    std::memset(slots, 0xFF, cap * sizeof(uint32_t));

    for (size_t i = 0; i < out.count_; i++) {
        cdr_record &r = out.records_[i];
        if (!r.valid) {
            continue;
        }

        uint64_t h;
        std::memcpy(&h, r.key_digest, sizeof(h));

        for (size_t s = h & (cap - 1);; s = (s + 1) & (cap - 1)) {
            if (slots[s] == cdr_no_dup) {
                slots[s] = static_cast<uint32_t>(i);
                break;
            }
            const cdr_record &q = out.records_[slots[s]];
            if (std::memcmp(q.key_digest, r.key_digest, cdr_key_digest_size) ==
                0) {
                r.dup_of = slots[s];
                r.conflict = !json_equal(q.rec, r.rec);
                out.dups_++;
                break;
            }
        }
    }
}

cdr_status
cdr_parser::run(const cdr_limits &limits) noexcept
{
    json_t *list = nullptr;
    const char *list_start = nullptr;

    cdr_status s = envelope(limits, &list, &list_start);
    if (s != cdr_status::ok) {
        return s;
    }

    size_t n = json_array_size(list);

    void *mem = store.allocate(n * sizeof(cdr_record));
    if (mem == nullptr) {
        return fail(cdr_status::no_memory);
    }

    cdr_record *recs = static_cast<cdr_record *>(mem);
    std::memset(static_cast<void *>(recs), 0, n * sizeof(cdr_record));

    if (list_start == nullptr || !scan_array(list_start, data + len, recs, n)) {
        /* never expected; lines then fall back to json_dump */
        for (size_t i = 0; i < n; i++) {
            recs[i].raw = nullptr;
            recs[i].raw_len = 0;
        }
    }

    rule_table t = out.dialect_ == cdr_dialect::huawei
                       ? rule_table{huawei_rules, std::size(huawei_rules)}
                       : rule_table{aliyun_rules, std::size(aliyun_rules)};

    out.records_ = recs;
    out.count_ = n;

    for (size_t i = 0; i < n; i++) {
        if (!record(t, json_array_get(list, i), recs[i])) {
            out.records_ = nullptr;
            out.count_ = 0;
            out.valid_ = 0;
            return fail(cdr_status::no_memory);
        }
        if (recs[i].valid) {
            out.valid_++;
        }
    }

    find_duplicates();

    return fail(cdr_status::ok);
}

cdr_status
cdr_parser::parse(cdr_dialect dialect, const char *data, size_t len,
                  const cdr_limits &limits, json_arena *arena,
                  cdr_push &out) noexcept
{
    out.clear();
    out.dialect_ = dialect;

    if (limits.max_body != 0 && len > limits.max_body) {
        std::snprintf(out.detail_, sizeof(out.detail_),
                      "%zu bytes, at most %zu allowed", len, limits.max_body);
        out.status_ = cdr_status::too_large;
        return out.status_;
    }

    if (data == nullptr) {
        data = "";
        len = 0;
    }

    /* zeroed: on some allocation failures jansson sets no error at all */
    json_error_t err{};
    json_t *root;

    size_t failures = 0;

    if (arena != nullptr) {
        failures = arena->stats().failures;
        json_arena_scope scope(*arena);
        root = json_loadb(data, len, parse_flags, &err);
    } else {
        root = json_loadb(data, len, parse_flags, &err);
    }

    if (root == nullptr) {
        enum json_error_code code = json_error_code(&err);

        /*
         * jansson reports most allocation failures with no code and no
         * text, some even as a syntax error: trust the arena's counter.
         */
        if (code == json_error_out_of_memory ||
            (arena != nullptr && arena->stats().failures != failures) ||
            (code == json_error_unknown && err.text[0] == '\0')) {
            out.status_ = cdr_status::no_memory;
        } else if (code == json_error_duplicate_key) {
            out.status_ = cdr_status::duplicate_key;
        } else {
            out.status_ = cdr_status::not_json;
        }
        std::snprintf(out.detail_, sizeof(out.detail_),
                      "line %d, column %d: %s", err.line, err.column, err.text);
        return out.status_;
    }

    out.root_ = root;
    out.root_owned_ = arena == nullptr;

    cdr_parser p{out, arena != nullptr ? *arena : out.local_, data, len};
    return p.run(limits);
}

cdr_status
parse_push(cdr_dialect dialect, const char *data, size_t len,
           const cdr_limits &limits, cdr_push &out) noexcept
{
    return cdr_parser::parse(dialect, data, len, limits, nullptr, out);
}

cdr_status
parse_push(cdr_dialect dialect, const char *data, size_t len,
           const cdr_limits &limits, json_arena &arena, cdr_push &out) noexcept
{
    return cdr_parser::parse(dialect, data, len, limits, &arena, out);
}

/* ------------------------------------------------------------------ */
/* lines                                                               */

namespace {

size_t
escaped_bound(std::string_view s) noexcept
{
    return s.size() * 6;
}

std::string_view
line_app(const cdr_record &r, const cdr_line_meta &meta) noexcept
{
    if (!meta.app.empty() || r.tenant == nullptr) {
        return meta.app;
    }
    return std::string_view(r.tenant, r.tenant_len);
}

} // namespace

size_t
cdr_line_bound(const cdr_push &push, size_t i,
               const cdr_line_meta &meta) noexcept
{
    if (i >= push.size()) {
        return 0;
    }

    const cdr_record &r = push[i];
    size_t body = r.raw != nullptr ? r.raw_len
                                   : json_dumpb(r.rec, nullptr, 0, dump_flags);

    return sizeof("{\"dialect\":\"\",\"app\":\"\",\"key\":\"\","
                  "\"received\":\"\",\"error\":\"\",\"record\":}") +
           6 /* "huawei" */ + escaped_bound(line_app(r, meta)) +
           escaped_bound(r.key_view()) + escaped_bound(meta.received) +
           escaped_bound(r.reason) + body;
}

size_t
cdr_write_line(const cdr_push &push, size_t i, const cdr_line_meta &meta,
               char *buf, size_t cap) noexcept
{
    if (i >= push.size() || buf == nullptr) {
        return 0;
    }

    const cdr_record &r = push[i];
    std::string_view app = line_app(r, meta);
    line_writer w{buf, buf + cap, true};

    w.put("{\"dialect\":\"");
    w.put(cdr_dialect_name(push.dialect()));
    w.put("\",\"app\":\"");
    w.escape(app.data(), app.size());
    w.put("\",\"key\":\"");
    w.escape(r.key, r.key_len);
    w.put("\",\"received\":\"");
    w.escape(meta.received.data(), meta.received.size());
    if (!r.valid) {
        w.put("\",\"error\":\"");
        w.escape(r.reason, std::strlen(r.reason));
    }
    w.put("\",\"record\":");

    if (r.raw != nullptr) {
        w.minify(r.raw, r.raw_len);
    } else if (json_dump_callback(r.rec, dump_to_writer, &w, dump_flags) != 0) {
        w.ok = false;
    }

    w.put('}');

    return w.ok ? static_cast<size_t>(w.p - buf) : 0;
}

bool
cdr_append_line(const cdr_push &push, size_t i, const cdr_line_meta &meta,
                std::string &out) noexcept
{
    size_t bound = cdr_line_bound(push, i, meta);
    size_t old = out.size();

    if (bound == 0) {
        return false;
    }

    try {
        out.resize(old + bound);
    } catch (...) {
        return false;
    }

    size_t n = cdr_write_line(push, i, meta, &out[old], bound);
    out.resize(old + n);
    return n != 0;
}

} // namespace provision_x
