#include "core/cdr.hpp"

#include "core/encoding.hpp"
#include "core/hmac.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <simdjson.h>
#include <type_traits>

namespace provision_x {

static_assert(std::is_trivially_destructible_v<cdr_record>,
              "cdr_record lives in pools and is never destroyed");
static_assert(cdr_padding == simdjson::SIMDJSON_PADDING,
              "cdr_padding is what simdjson reads past the end");

namespace od = simdjson::ondemand;

namespace {

/* ------------------------------------------------------------------ */
/* field rules                                                         */

constexpr cdr_field_rule
req_str(const char *name, uint16_t min, uint16_t max,
        cdr_field_role role = cdr_field_role::none)
{
    return cdr_field_rule{
        name, cdr_field_type::string, true, min, max, false, 0, 0, role};
}

constexpr cdr_field_rule
opt_str(const char *name, uint16_t min = 0, uint16_t max = 0,
        cdr_field_role role = cdr_field_role::none)
{
    return cdr_field_rule{
        name, cdr_field_type::string, false, min, max, false, 0, 0, role};
}

constexpr cdr_field_rule
req_int(const char *name, cdr_field_role role)
{
    return cdr_field_rule{
        name, cdr_field_type::integer, true, 0, 0, false, 0, 0, role};
}

constexpr cdr_field_rule
opt_int(const char *name, cdr_field_role role = cdr_field_role::none)
{
    return cdr_field_rule{
        name, cdr_field_type::integer, false, 0, 0, false, 0, 0, role};
}

constexpr cdr_field_rule
opt_int_range(const char *name, int64_t lo, int64_t hi)
{
    return cdr_field_rule{name, cdr_field_type::integer, false, 0, 0, true, lo,
                          hi,   cdr_field_role::none};
}

constexpr cdr_field_rule
opt_num(const char *name)
{
    return cdr_field_rule{name, cdr_field_type::number, false, 0, 0, false, 0,
                          0,    cdr_field_role::none};
}

/* a time that is a string or an integer, a key component */
constexpr cdr_field_rule
opt_time(const char *name, uint16_t max, cdr_field_role role)
{
    return cdr_field_rule{
        name, cdr_field_type::string_or_integer, false, 0, max, false, 0, 0,
        role};
}

/* the tenants of every Aliyun receipt */
constexpr cdr_field_rule aliyun_partner_key =
    opt_str("partner_key", 0, 256, cdr_field_role::partner_key);
constexpr cdr_field_rule aliyun_pool_key =
    opt_str("pool_key", 0, 256, cdr_field_role::pool_key);

/* the call id of Aliyun's call receipts, §2.6.1 */
constexpr cdr_field_rule aliyun_call_id =
    req_str("call_id", 1, 100, cdr_field_role::key1);

/*
 * Huawei FeeInfo, §3.4.1, sorted by name.  Only [D] maximum lengths are
 * enforced; [I] and unbounded strings are type-checked only.
 */
constexpr cdr_field_rule huawei_rules[] = {
    req_str("appKey", 1, 128, cdr_field_role::app_key),
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
    opt_int("direction", cdr_field_role::key2),
    opt_str("extendNum"),
    opt_str("failTime", 0, 128),
    opt_str("fwdAlertingTime", 0, 128),
    opt_str("fwdAnswerTime"),
    opt_str("fwdDisplayNum"),
    opt_str("fwdDstNum"),
    opt_str("fwdStartTime", 0, 128),
    opt_int("fwdUnaswRsn"),
    opt_str("hostName"),
    opt_str("icid", 1, 64, cdr_field_role::key3),
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
    req_str("sessionId", 1, 256, cdr_field_role::key1),
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
 * optional; "at least one non-empty" is checked after the fields.
 */
constexpr cdr_field_rule aliyun_rules[] = {
    aliyun_call_id, /* key1 */
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
    aliyun_partner_key,
    opt_str("peer_no"),
    opt_str("phone_no"),
    aliyun_pool_key,
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

/*
 * Huawei statusInfo of every call event, §3.3.1 and §3.3.3 (one table:
 * the events differ in which fields they carry, not in what a field
 * means).  The String(1-32/128/256) maxima are the spec's; userData's is
 * the CDR's and the Block answer's, whose value it echoes.
 */
constexpr cdr_field_rule huawei_call_rules[] = {
    opt_str("called", 0, 32),
    opt_str("caller", 0, 32),
    opt_str("digitInfo"),
    opt_str("displayCallerNum"),
    opt_str("notifyMode", 0, 0, cdr_field_role::mode),
    opt_str("origCalleeNum"),
    req_str("sessionId", 1, 256, cdr_field_role::key1),
    opt_int("stateCode"),
    opt_str("stateDesc"),
    opt_str("subscriptionId"),
    opt_time("timestamp", 128, cdr_field_role::key2),
    opt_str("userData", 0, 256),
};

/* Huawei numInfo entry, §3.5; status and cause are strings there */
constexpr cdr_field_rule huawei_number_rules[] = {
    opt_str("cause", 0, 0, cdr_field_role::key3),
    req_str("number", 1, 0, cdr_field_role::key1),
    req_str("status", 1, 0, cdr_field_role::key2),
};

/*
 * Huawei smsEvent, §3.6.  extInfo (an object) and sendResult (no type
 * given) are unknown fields: kept, not checked.
 */
constexpr cdr_field_rule huawei_sms_rules[] = {
    opt_str("called"),
    opt_str("calling"),
    opt_str("event", 0, 0, cdr_field_role::key2),
    opt_str("notificationMode", 0, 0, cdr_field_role::mode),
    opt_str("smsContent"),
    req_str("smsIdentifier", 1, 64, cdr_field_role::key1),
    opt_str("subscriptionId"),
    opt_time("timeStamp", 0, cdr_field_role::key3),
    opt_str("virtualNumber"),
};

/* Aliyun SecretStartReport, §2.6.2 */
constexpr cdr_field_rule aliyun_start_rules[] = {
    aliyun_call_id, /* key1 */
    opt_str("call_time", 0, 0, cdr_field_role::key2),
    opt_int("call_type"),
    opt_str("called_display_no"),
    opt_str("control_msg"),
    opt_str("out_id"),
    aliyun_partner_key,
    opt_str("peer_no"),
    opt_str("phone_no"),
    aliyun_pool_key,
    opt_str("secret_no"),
    opt_int("sub_id"),
};

/* Aliyun SecretRingReport, §2.6.2 */
constexpr cdr_field_rule aliyun_ring_rules[] = {
    aliyun_call_id, /* key1 */
    opt_str("call_time"),
    opt_int("call_type"),
    opt_str("city"),
    opt_str("out_id"),
    aliyun_partner_key,
    opt_str("peer_no"),
    opt_str("phone_no"),
    aliyun_pool_key,
    opt_str("ring_time", 0, 0, cdr_field_role::key2),
    opt_str("secret_no"),
    opt_int("sub_id"),
};

/* Aliyun SecretRecording, §2.6.2: call_time in epoch milliseconds; A-7 */
constexpr cdr_field_rule aliyun_recording_rules[] = {
    aliyun_call_id, /* key1 */
    opt_int("call_time", cdr_field_role::key2),
    opt_str("out_id"),
    aliyun_partner_key,
    aliyun_pool_key,
    opt_int("sub_id"),
    opt_int("subs_id"),
};

/* Aliyun NumberManagementReport, §2.6.2: status Number, Vendor long */
constexpr cdr_field_rule aliyun_number_rules[] = {
    opt_int("Vendor"),
    opt_str("city"),
    opt_str("operating_time", 0, 0, cdr_field_role::key3),
    aliyun_partner_key,
    aliyun_pool_key,
    req_str("secret_no", 1, 0, cdr_field_role::key1),
    req_int("status", cdr_field_role::key2),
};

constexpr size_t
const_strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

constexpr int
const_strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

/*
 * Known names are found through a small open-addressing table built at
 * compile time: a field costs a few instructions instead of a binary
 * search of strcmp calls, and the walk meets ~1,750 fields per push.  The
 * multipliers were picked by a search so that no known name of either
 * dialect needs more than two probes (asserted below).
 */
constexpr size_t name_slots = 128;

constexpr uint32_t
name_hash(const char *s, size_t n)
{
    return (static_cast<uint32_t>(n) * 0xD5F4B3B3u
            ^ static_cast<unsigned char>(s[0]) * 0x63CA828Du
            ^ static_cast<unsigned char>(s[n - 1]) * 0x6EC9D287u
            ^ static_cast<unsigned char>(s[n / 2]) * 0x9B810E77u)
           >> 25;
}

/* longer than every known name, so names compare as whole words */
constexpr size_t name_width = 24;

/* a name as three little-endian words, and which of their bytes count */
struct name_words {
    uint64_t word[3];
    uint64_t mask[3];
};

struct name_table {
    uint8_t slot[name_slots]; /* rule index + 1; 0 = empty */
    uint8_t length[name_slots];
    char text[name_slots][name_width]; /* the name, zero-padded */
    name_words words[name_slots];
    uint8_t longest_probe;
    uint64_t required; /* bit i: rules[i] is required */
};

template <size_t N>
constexpr name_table
make_name_table(const cdr_field_rule (&rules)[N])
{
    name_table t{};

    for (size_t i = 0; i < N; i++) {
        const char *name = rules[i].name;
        size_t h = name_hash(name, const_strlen(name));
        uint8_t probe = 1;
        while (t.slot[h] != 0) {
            h = (h + 1) % name_slots;
            probe++;
        }
        t.slot[h] = static_cast<uint8_t>(i + 1);
        t.length[h] = static_cast<uint8_t>(const_strlen(name));
        for (size_t k = 0; k < t.length[h]; k++) {
            t.text[h][k] = name[k];
            t.words[h].word[k / 8] |=
                uint64_t(static_cast<unsigned char>(name[k])) << (8 * (k % 8));
            t.words[h].mask[k / 8] |= uint64_t(0xFF) << (8 * (k % 8));
        }
        t.longest_probe = std::max(t.longest_probe, probe);
        if (rules[i].required) {
            t.required |= uint64_t(1) << i;
        }
    }

    return t;
}

template <size_t N>
constexpr bool
rules_sorted(const cdr_field_rule (&t)[N])
{
    for (size_t i = 1; i < N; i++) {
        if (const_strcmp(t[i - 1].name, t[i].name) >= 0) {
            return false;
        }
    }
    for (size_t i = 0; i < N; i++) {
        if (const_strlen(t[i].name) >= name_width) {
            return false;
        }
    }
    return N <= 64 && N < name_slots / 2; /* 64-bit masks; a sparse table */
}

static_assert(rules_sorted(huawei_rules) && rules_sorted(aliyun_rules)
                  && rules_sorted(huawei_call_rules)
                  && rules_sorted(huawei_number_rules)
                  && rules_sorted(huawei_sms_rules)
                  && rules_sorted(aliyun_start_rules)
                  && rules_sorted(aliyun_ring_rules)
                  && rules_sorted(aliyun_recording_rules)
                  && rules_sorted(aliyun_number_rules),
              "rule tables must be sorted");

constexpr name_table huawei_names = make_name_table(huawei_rules);
constexpr name_table aliyun_names = make_name_table(aliyun_rules);
constexpr name_table huawei_call_names = make_name_table(huawei_call_rules);
constexpr name_table huawei_number_names = make_name_table(huawei_number_rules);
constexpr name_table huawei_sms_names = make_name_table(huawei_sms_rules);
constexpr name_table aliyun_start_names = make_name_table(aliyun_start_rules);
constexpr name_table aliyun_ring_names = make_name_table(aliyun_ring_rules);
constexpr name_table aliyun_recording_names =
    make_name_table(aliyun_recording_rules);
constexpr name_table aliyun_number_names = make_name_table(aliyun_number_rules);

static_assert(huawei_names.longest_probe <= 2 && aliyun_names.longest_probe <= 2
                  && huawei_call_names.longest_probe <= 2
                  && huawei_number_names.longest_probe <= 2
                  && huawei_sms_names.longest_probe <= 2
                  && aliyun_start_names.longest_probe <= 2
                  && aliyun_ring_names.longest_probe <= 2
                  && aliyun_recording_names.longest_probe <= 2
                  && aliyun_number_names.longest_probe <= 2,
              "name_hash spreads the known names badly");

struct rule_table {
    const cdr_field_rule *rules;
    size_t n;
    const name_table *names;
    uint8_t components;     /* key1.. used: the key's components */
    const char *mode_field; /* the field with the mode role, or nullptr */
    bool key_fits_stack;    /* every key part has a maximum length */
};

/*
 * A key whose parts all have a maximum is built on the stack (every CDR
 * key); one with parts without one (some events) in the push's memory.
 */
constexpr size_t key_stack_max = 6144;

template <size_t N>
constexpr rule_table
make_rule_table(const cdr_field_rule (&rules)[N], const name_table &names)
{
    rule_table t{rules, N, &names, 0, nullptr, true};
    size_t components = 0;
    size_t tenant = 0;

    for (size_t i = 0; i < N; i++) {
        cdr_field_role r = rules[i].role;
        /* 4 bytes a character, percent-encoded: 12; an integer: 20 */
        size_t max = rules[i].type == cdr_field_type::integer
                         ? 20
                         : size_t(12) * rules[i].max_len;

        if (r != cdr_field_role::none && r != cdr_field_role::mode) {
            t.key_fits_stack &= max != 0;
        }
        if (r >= cdr_field_role::app_key && r <= cdr_field_role::partner_key) {
            tenant = std::max(tenant, max); /* one of them is the tenant */
        } else if (r >= cdr_field_role::key1 && r <= cdr_field_role::key3) {
            components += max;
        }
        if (r >= cdr_field_role::key1 && r <= cdr_field_role::key3) {
            t.components = std::max<uint8_t>(
                t.components,
                static_cast<uint8_t>(static_cast<int>(r)
                                     - static_cast<int>(cdr_field_role::key1)
                                     + 1));
        } else if (r == cdr_field_role::mode) {
            t.mode_field = rules[i].name;
        }
    }

    /* 64: the prefix, the tenant's kind, the separators */
    t.key_fits_stack &= 64 + tenant + components <= key_stack_max;
    return t;
}

/* Where a type's tenant comes from. */
enum class tenant_source : uint8_t {
    none,             /* huawei call events, numStatus: no appKey */
    record_app_key,   /* huawei cdr */
    envelope_app_key, /* huawei smsEvent */
    pool_or_partner,  /* aliyun */
};

/* How a push of one type is laid out, checked and keyed. */
struct type_shape {
    push_type type;
    provision_x::dialect dialect;
    std::string_view prefix; /* the key's first segment */
    const char *event;       /* huawei "eventType"; nullptr: none */
    const char *member;      /* huawei: the member holding the records */
    bool list;               /* an array of records, or one record */
    uint16_t max_records;
    rule_table rules;
    tenant_source tenant;
    const char *mode; /* what the mode field must hold; nullptr: any */

    /* the 400 sentences of not_an_array, no_records, too_many_records */
    const char *not_a_list;
    const char *empty;
    const char *too_many;
};

constexpr rule_table huawei_table = make_rule_table(huawei_rules, huawei_names);
constexpr rule_table aliyun_table = make_rule_table(aliyun_rules, aliyun_names);

static_assert(huawei_table.key_fits_stack && aliyun_table.key_fits_stack,
              "CDR keys are built on the stack");
constexpr rule_table huawei_call_table =
    make_rule_table(huawei_call_rules, huawei_call_names);

/* The call events differ only in name and callin's mode rule. */
constexpr type_shape call_event = {push_type::callin,
                                   dialect::huawei,
                                   "",
                                   nullptr,
                                   "statusInfo",
                                   false,
                                   1,
                                   huawei_call_table,
                                   tenant_source::none,
                                   nullptr,
                                   nullptr,
                                   "\"statusInfo\" is missing",
                                   nullptr};

/* Aliyun's receipts differ only in name and fields. */
constexpr type_shape aliyun_receipt = {
    push_type::cdr,
    dialect::aliyun,
    "aliyun",
    nullptr,
    nullptr,
    true,
    cdr_aliyun_max_records,
    aliyun_table,
    tenant_source::pool_or_partner,
    nullptr,
    "request body must be a JSON array of receipts",
    "receipt array is empty",
    "receipt array has too many records"};

constexpr type_shape
variant(type_shape s, push_type t, std::string_view prefix, const char *event,
        const rule_table &rules, const char *mode) noexcept
{
    s.type = t;
    s.prefix = prefix;
    s.event = event;
    s.rules = rules;
    s.mode = mode;
    return s;
}

/*
 * Indexed by push_type; Aliyun's cdr, the one type of both dialects,
 * comes last.
 */
constexpr type_shape shapes[push_type_count + 1] = {
    {push_type::cdr, dialect::huawei, "huawei", "fee", "feeLst", true,
     cdr_huawei_max_records, huawei_table, tenant_source::record_app_key,
     nullptr, "\"feeLst\" must be an array of FeeInfo objects",
     "\"feeLst\" is empty", "\"feeLst\" has too many records"},
    variant(call_event, push_type::callin, "huawei.callin", "callin",
            huawei_call_table, "Notify"),
    variant(call_event, push_type::callout, "huawei.callout", "callout",
            huawei_call_table, nullptr),
    variant(call_event, push_type::alerting, "huawei.alerting", "alerting",
            huawei_call_table, nullptr),
    variant(call_event, push_type::answer, "huawei.answer", "answer",
            huawei_call_table, nullptr),
    variant(call_event, push_type::disconnect, "huawei.disconnect",
            "disconnect", huawei_call_table, nullptr),
    {push_type::num_status, dialect::huawei, "huawei.numStatus", "numStatus",
     "numInfo", true, cdr_huawei_max_numbers,
     make_rule_table(huawei_number_rules, huawei_number_names),
     tenant_source::none, nullptr,
     "\"numInfo\" must be an array of numInfo objects", "\"numInfo\" is empty",
     "\"numInfo\" has too many entries"},
    {push_type::sms, dialect::huawei, "huawei.smsEvent", nullptr, "smsEvent",
     false, 1, make_rule_table(huawei_sms_rules, huawei_sms_names),
     tenant_source::envelope_app_key, "Notify", nullptr,
     "\"smsEvent\" is missing", nullptr},
    variant(aliyun_receipt, push_type::start_report, "aliyun.SecretStartReport",
            nullptr, make_rule_table(aliyun_start_rules, aliyun_start_names),
            nullptr),
    variant(aliyun_receipt, push_type::ring_report, "aliyun.SecretRingReport",
            nullptr, make_rule_table(aliyun_ring_rules, aliyun_ring_names),
            nullptr),
    variant(aliyun_receipt, push_type::recording, "aliyun.SecretRecording",
            nullptr,
            make_rule_table(aliyun_recording_rules, aliyun_recording_names),
            nullptr),
    variant(aliyun_receipt, push_type::number_report,
            "aliyun.NumberManagementReport", nullptr,
            make_rule_table(aliyun_number_rules, aliyun_number_names), nullptr),
    aliyun_receipt,
};

constexpr bool
shapes_indexed()
{
    for (size_t i = 0; i < push_type_count; i++) {
        if (static_cast<size_t>(shapes[i].type) != i) {
            return false;
        }
    }
    return shapes[push_type_count].type == push_type::cdr;
}

static_assert(shapes_indexed(), "shapes[] is indexed by push_type");

/* The shape of type t in dialect d, or nullptr when d has no such type. */
const type_shape *
shape_of(dialect d, push_type t) noexcept
{
    size_t i = static_cast<size_t>(t);

    if (i >= push_type_count) {
        return nullptr;
    }
    if (t == push_type::cdr && d == dialect::aliyun) {
        return &shapes[push_type_count];
    }
    return shapes[i].dialect == d ? &shapes[i] : nullptr;
}

/*
 * Whether the bytes at key are the name of these words, without a branch
 * per byte; name_width bytes at key must be readable (the padded body
 * guarantees it for keys read in place).
 */
inline bool
same_name(const char *key, const name_words &n) noexcept
{
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                  "name_words are little-endian words");
    uint64_t w[3];
    std::memcpy(w, key, sizeof(w));
    return (((w[0] ^ n.word[0]) & n.mask[0]) | ((w[1] ^ n.word[1]) & n.mask[1])
            | ((w[2] ^ n.word[2]) & n.mask[2]))
           == 0;
}

/*
 * The index of the known field `name`, or -1.  in_place: name lies in the
 * padded body, so whole words of it may be read.
 */
inline int
find_rule(const rule_table &t, std::string_view name, bool in_place) noexcept
{
    if (name.empty()) {
        return -1;
    }

    for (size_t h = name_hash(name.data(), name.size());;
         h = (h + 1) % name_slots) {
        uint8_t s = t.names->slot[h];
        if (s == 0) {
            return -1;
        }
        if (t.names->length[h] == name.size()
            && (in_place
                    ? same_name(name.data(), t.names->words[h])
                    : std::memcmp(t.names->text[h], name.data(), name.size())
                          == 0))
        {
            return s - 1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* bytes                                                                */

inline bool
is_ws(char c) noexcept
{
    /* most bytes asked about are printable: one comparison for them */
    return static_cast<unsigned char>(c) <= ' '
           && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/* Code points of valid UTF-8. */
size_t
utf8_length(std::string_view s) noexcept
{
    size_t n = 0;

    for (char c : s) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
            n++;
        }
    }

    return n;
}

/* Length of a valid UTF-8 sequence at s (RFC 3629), or 0. */
size_t
utf8_sequence(const unsigned char *s, size_t len) noexcept
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80) {
        return 1;
    } else if (c < 0xC2) {
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

    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    {
        return 0;
    }

    return n;
}

/*
 * Replace every byte that is not part of a valid UTF-8 sequence with '?':
 * inside a string that is an ordinary character, outside one a syntax
 * error, as the original byte was.
 */
void
replace_invalid_utf8(char *s, size_t len) noexcept
{
    unsigned char *u = reinterpret_cast<unsigned char *>(s);

    for (size_t i = 0; i < len;) {
        size_t n = u[i] < 0x80 ? 1 : utf8_sequence(u + i, len - i);
        if (n == 0) {
            u[i] = '?';
            n = 1;
        }
        i += n;
    }
}

enum class number_kind : uint8_t { invalid, integer, real };

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
number_kind
scan_number(std::string_view t) noexcept
{
    size_t i = 0;
    size_t n = t.size();
    auto digit = [&t](size_t k) { return t[k] >= '0' && t[k] <= '9'; };
    number_kind kind = number_kind::integer;

    if (i < n && t[i] == '-') {
        i++;
    }
    if (i == n || !digit(i)) {
        return number_kind::invalid;
    }
    if (t[i++] != '0') {
        while (i < n && digit(i)) {
            i++;
        }
    }
    if (i < n && t[i] == '.') {
        size_t start = ++i;
        while (i < n && digit(i)) {
            i++;
        }
        if (i == start) {
            return number_kind::invalid;
        }
        kind = number_kind::real;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-')) {
            i++;
        }
        size_t start = i;
        while (i < n && digit(i)) {
            i++;
        }
        if (i == start) {
            return number_kind::invalid;
        }
        kind = number_kind::real;
    }

    return i == n ? kind : number_kind::invalid;
}

/* The value of an integer token that scan_number accepted; false beyond
 * int64. */
bool
integer_value(std::string_view t, int64_t &v) noexcept
{
    bool negative = t[0] == '-';
    size_t digits = t.size() - negative;
    uint64_t n = 0;

    /* no leading zeros: 20 digits are beyond int64, 19 fit a uint64 */
    if (digits > 19) {
        return false;
    }

    for (size_t i = negative; i < t.size(); i++) {
        n = n * 10 + static_cast<uint64_t>(t[i] - '0');
    }

    uint64_t limit = negative ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX);
    if (n > limit) {
        return false;
    }

    v = negative ? static_cast<int64_t>(0 - n) : static_cast<int64_t>(n);
    return true;
}

/* FNV-1a: keys of one object are told apart by this first */
uint32_t
key_hash(std::string_view k) noexcept
{
    uint32_t h = 2166136261u;

    for (char c : k) {
        h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    }

    return h;
}

/*
 * The decoded bytes of a JSON string that simdjson has already validated,
 * read from its raw text (p just past the opening quote): the duplicate
 * check keeps offsets, not decoded copies.
 */
struct raw_string_reader {
    const char *p;
    unsigned char pending[4];
    unsigned npending = 0;
    unsigned next_pending = 0;

    static unsigned hex(const char *s) noexcept
    {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
            char c = s[i];
            v = v * 16
                + static_cast<unsigned>(c <= '9'   ? c - '0'
                                        : c <= 'F' ? c - 'A' + 10
                                                   : c - 'a' + 10);
        }
        return v;
    }

    /* the next byte, or -1 at the closing quote */
    int next() noexcept
    {
        if (next_pending < npending) {
            return pending[next_pending++];
        }

        char c = *p;
        if (c == '"') {
            return -1;
        }
        p++;
        if (c != '\\') {
            return static_cast<unsigned char>(c);
        }

        c = *p++;
        switch (c) {
        case 'b':
            return '\b';
        case 'f':
            return '\f';
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        case 'u':
            break;
        default:
            return static_cast<unsigned char>(c); /* " \ / */
        }

        uint32_t cp = hex(p);
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (hex(p + 2) - 0xDC00);
            p += 6;
        }

        if (cp < 0x80) {
            return static_cast<int>(cp);
        }
        if (cp < 0x800) {
            pending[0] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
            npending = 1;
            next_pending = 0;
            return static_cast<int>(0xC0 | (cp >> 6));
        }
        if (cp < 0x10000) {
            pending[0] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
            pending[1] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
            npending = 2;
            next_pending = 0;
            return static_cast<int>(0xE0 | (cp >> 12));
        }
        pending[0] = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F));
        pending[1] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
        pending[2] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
        npending = 3;
        next_pending = 0;
        return static_cast<int>(0xF0 | (cp >> 18));
    }
};

/* <0, 0, >0 like memcmp, between two raw (validated) JSON strings */
int
raw_string_compare(const char *a, const char *b) noexcept
{
    raw_string_reader x{a, {}};
    raw_string_reader y{b, {}};

    for (;;) {
        int ca = x.next();
        int cb = y.next();
        if (ca != cb) {
            return ca < cb ? -1 : 1;
        }
        if (ca < 0) {
            return 0;
        }
    }
}

bool
raw_string_equals(const char *raw, std::string_view decoded) noexcept
{
    raw_string_reader x{raw, {}};

    for (char c : decoded) {
        if (x.next() != static_cast<unsigned char>(c)) {
            return false;
        }
    }

    return x.next() < 0;
}

/* ------------------------------------------------------------------ */
/* keys                                                                 */

struct key_char_table {
    bool unreserved[256];
};

constexpr key_char_table
make_key_chars()
{
    key_char_table t{};
    for (int c = 0; c < 256; c++) {
        t.unreserved[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                          || (c >= '0' && c <= '9') || c == '-' || c == '.'
                          || c == '_' || c == '~' || c == '@' || c == ':'
                          || c == '+';
    }
    return t;
}

constexpr key_char_table key_chars = make_key_chars();

/*
 * Percent-encode one key component.  Keys are mostly unreserved bytes, so
 * eight of them at a time are tested and copied at once.
 */
char *
key_part_write(char *p, std::string_view s) noexcept
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = reinterpret_cast<const unsigned char *>(s.data());
    const unsigned char *e = u + s.size();
    const bool *ok = key_chars.unreserved;

    while (u < e) {
        if (e - u >= 8
            && (ok[u[0]] & ok[u[1]] & ok[u[2]] & ok[u[3]] & ok[u[4]] & ok[u[5]]
                & ok[u[6]] & ok[u[7]]))
        {
            std::memcpy(p, u, 8);
            p += 8;
            u += 8;
        } else if (ok[*u]) {
            *p++ = static_cast<char>(*u++);
        } else {
            p[0] = '%';
            p[1] = hex[*u >> 4];
            p[2] = hex[*u & 0x0F];
            p += 3;
            u++;
        }
    }

    return p;
}

std::string_view
tenant_kind_name(cdr_tenant_kind k) noexcept
{
    using namespace std::string_view_literals;
    return k == cdr_tenant_kind::pool_key ? "pool_key"sv : "partner_key"sv;
}

/* The literal bytes of a key: its prefix, separators, the tenant kind. */
size_t
key_literal_size(const type_shape &shape, const cdr_record &r) noexcept
{
    size_t n = shape.prefix.size() + shape.rules.components;

    if (shape.tenant == tenant_source::pool_or_partner) {
        n += 2 + tenant_kind_name(r.tenant_kind).size();
    } else if (shape.tenant != tenant_source::none) {
        n += 1;
    }
    return n;
}

/* The key's length if no component needed percent-encoding. */
size_t
plain_key_size(const type_shape &shape, const cdr_record &r) noexcept
{
    size_t n = key_literal_size(shape, r) + r.tenant.size();

    for (size_t i = 0; i < shape.rules.components; i++) {
        n += r.key_parts[i].size();
    }
    return n;
}

/*
 * The printable key (see cdr.hpp).  encode = false copies the components
 * as they are: the record knows when none needs percent-encoding, as
 * with nearly every real key, and a line then costs a few memcpy.
 */
char *
key_write(const type_shape &shape, const cdr_record &r, char *p,
          bool encode) noexcept
{
    auto part = [encode](char *at, std::string_view s) {
        if (encode) {
            return key_part_write(at, s);
        }
        if (!s.empty()) { /* an absent component has no data() */
            std::memcpy(at, s.data(), s.size());
        }
        return at + s.size();
    };

    std::memcpy(p, shape.prefix.data(), shape.prefix.size());
    p += shape.prefix.size();

    if (shape.tenant == tenant_source::pool_or_partner) {
        std::string_view kind = tenant_kind_name(r.tenant_kind);
        *p++ = '/';
        std::memcpy(p, kind.data(), kind.size());
        p += kind.size();
    }
    if (shape.tenant != tenant_source::none) {
        *p++ = '/';
        p = part(p, r.tenant);
    }

    for (size_t i = 0; i < shape.rules.components; i++) {
        *p++ = '/';
        p = part(p, r.key_parts[i]);
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* NDJSON writing                                                       */

/* bytes a JSON string holds as they are: printable ASCII but '"' '\\' */
struct plain_char_table {
    bool plain[256];
};

constexpr plain_char_table
make_plain_chars()
{
    plain_char_table t{};
    for (int c = 0x20; c < 0x80; c++) {
        t.plain[c] = c != '"' && c != '\\';
    }
    return t;
}

constexpr plain_char_table plain_chars = make_plain_chars();

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

    template <size_t N> void put(const char (&s)[N]) noexcept
    {
        put(s, N - 1);
    }

    /* JSON string body; invalid UTF-8 becomes U+FFFD */
    void escape(std::string_view s) noexcept;

    /* the record's own bytes without insignificant whitespace */
    void minify(std::string_view s) noexcept;
};

void
line_writer::escape(std::string_view s) noexcept
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = reinterpret_cast<const unsigned char *>(s.data());
    size_t len = s.size();
    size_t i = 0;

    while (i < len) {
        /* runs of plain ASCII are copied at once */
        size_t run = i;
        while (run < len && plain_chars.plain[u[run]]) {
            run++;
        }
        put(s.data() + i, run - i);
        i = run;
        if (i == len) {
            break;
        }

        unsigned char c = u[i];

        if (c == '"' || c == '\\') {
            put('\\');
            put(static_cast<char>(c));
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0F]};
            put(esc, sizeof(esc));
            i++;
        } else {
            size_t n = utf8_sequence(u + i, len - i);
            if (n == 0) {
                put("\\ufffd", 6);
                i++;
            } else {
                put(s.data() + i, n);
                i += n;
            }
        }
    }
}

/* The bytes of a validated JSON text without insignificant whitespace. */
struct minified_reader {
    const char *p;
    const char *end;
    bool in_string = false;
    bool escaped = false;

    /* the next byte, or -1 at the end */
    int next() noexcept
    {
        while (p < end) {
            char c = *p++;
            if (in_string) {
                if (escaped) {
                    escaped = false;
                } else if (c == '\\') {
                    escaped = true;
                } else if (c == '"') {
                    in_string = false;
                }
                return static_cast<unsigned char>(c);
            }
            if (!is_ws(c)) {
                in_string = c == '"';
                return static_cast<unsigned char>(c);
            }
        }
        return -1;
    }
};

void
line_writer::minify(std::string_view s) noexcept
{
    minified_reader m{s.data(), s.data() + s.size()};

    for (int c = m.next(); c >= 0; c = m.next()) {
        put(static_cast<char>(c));
    }
}

/* Equal once insignificant whitespace is removed (see the header). */
bool
minified_equal(const cdr_record &a, const cdr_record &b) noexcept
{
    if (a.compact && b.compact) {
        return a.raw == b.raw;
    }

    minified_reader x{a.raw.data(), a.raw.data() + a.raw.size()};
    minified_reader y{b.raw.data(), b.raw.data() + b.raw.size()};

    for (;;) {
        int c = x.next();
        if (c != y.next()) {
            return false;
        }
        if (c < 0) {
            return true;
        }
    }
}

} // namespace

/* ------------------------------------------------------------------ */
/* names and messages                                                  */

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
    case cdr_status::bad_app_key:
        return "bad_app_key";
    case cdr_status::no_memory:
        return "no_memory";
    }
    return "unknown";
}

namespace {

constexpr std::string_view type_names[push_type_count] = {
    "cdr",
    "callin",
    "callout",
    "alerting",
    "answer",
    "disconnect",
    "numStatus",
    "smsEvent",
    "SecretStartReport",
    "SecretRingReport",
    "SecretRecording",
    "NumberManagementReport",
};

const char *
status_message(cdr_status s, dialect d, const type_shape *shape,
               uint32_t types) noexcept
{
    const char *m = nullptr;

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
        m = shape != nullptr ? shape->not_a_list : nullptr;
        break;
    case cdr_status::wrong_event_type:
        if (d == dialect::aliyun) {
            return "the location receives no single Aliyun receipt type";
        }
        return types == push_type_bit(push_type::cdr)
                   ? "\"eventType\" must be \"fee\""
                   : "\"eventType\" is missing or names an event this "
                     "location does not receive";
    case cdr_status::no_records:
        m = shape != nullptr ? shape->empty : nullptr;
        break;
    case cdr_status::too_many_records:
        m = shape != nullptr ? shape->too_many : nullptr;
        break;
    case cdr_status::bad_app_key:
        return "\"appKey\" must be a string of 1 to 32 characters";
    case cdr_status::no_memory:
        return "out of memory while parsing the request body";
    }
    return m != nullptr ? m : "request body has the wrong shape";
}

} // namespace

const char *
cdr_status_message(cdr_status s, dialect d) noexcept
{
    return status_message(s, d, shape_of(d, push_type::cdr),
                          push_type_bit(push_type::cdr));
}

const char *
cdr_push_message(const cdr_push &push) noexcept
{
    return status_message(push.status(), push.dialect(),
                          shape_of(push.dialect(), push.type()), push.types());
}

const char *
push_type_name(push_type t) noexcept
{
    size_t i = static_cast<size_t>(t);
    return i < push_type_count ? type_names[i].data() : "unknown";
}

bool
push_type_from_name(dialect d, std::string_view name, push_type *t) noexcept
{
    for (size_t i = 0; i < push_type_count; i++) {
        push_type c = static_cast<push_type>(i);
        if (type_names[i] == name && shape_of(d, c) != nullptr) {
            *t = c;
            return true;
        }
    }
    return false;
}

bool
push_types_valid(dialect d, uint32_t types) noexcept
{
    size_t count = 0;

    for (size_t i = 0; i < 32; i++) {
        if ((types >> i & 1) == 0) {
            continue;
        }
        if (i >= push_type_count
            || shape_of(d, static_cast<push_type>(i)) == nullptr) {
            return false;
        }
        count++;
    }
    return d == dialect::huawei ? count > 0 : count == 1;
}

std::string_view
push_ack_body(dialect d, push_type t) noexcept
{
    if (d == dialect::aliyun) {
        return "{\"code\":0,\"msg\":\"接收成功\"}";
    }
    return t == push_type::cdr ? "{}" : "";
}

const char *
cdr_problem_message(cdr_problem p) noexcept
{
    switch (p) {
    case cdr_problem::none:
        return "ok";
    case cdr_problem::not_utf8:
        return "is not valid UTF-8";
    case cdr_problem::not_an_object:
        return "is not a JSON object";
    case cdr_problem::contains_nul:
        return "contains \\u0000";
    case cdr_problem::duplicate_key:
        return "repeats a key";
    case cdr_problem::foreign_tenant:
        return "belongs to another tenant";
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
    case cdr_problem::wrong_value:
        return "has a value the type does not allow";
    }
    return "is invalid";
}

const cdr_field_rule *
cdr_field_rules(dialect d, push_type t, size_t *count) noexcept
{
    const type_shape *shape = shape_of(d, t);

    *count = shape != nullptr ? shape->rules.n : 0;
    return shape != nullptr ? shape->rules.rules : nullptr;
}

size_t
cdr_max_records(dialect d, push_type t, const cdr_options &options) noexcept
{
    const type_shape *shape = shape_of(d, t);

    if (shape == nullptr) {
        return 0;
    }
    if (!shape->list) {
        return 1;
    }
    return options.max_records != 0 ? options.max_records : shape->max_records;
}

/*
 * SHA-256 of data bound to a scope (an app): le64(scope length) || scope
 * || data, so no split of the bytes between the two parts is ambiguous;
 * plain SHA-256(data) for no scope.
 */
static bool
scoped_sha256(std::string_view scope, std::string_view data,
              sha256_digest &d) noexcept
{
    if (scope.empty()) {
        return sha256({data}, d);
    }

    char n[8];
    uint64_t size = scope.size();
    for (size_t i = 0; i < sizeof(n); i++) {
        n[i] = static_cast<char>(size >> (8 * i));
    }

    return sha256({std::string_view(n, sizeof(n)), scope, data}, d);
}

bool
cdr_body_digest(std::string_view scope, std::string_view body,
                unsigned char out[cdr_body_digest_size]) noexcept
{
    sha256_digest d;

    if (!scoped_sha256(scope, body, d)) {
        return false;
    }

    std::memcpy(out, d.data(), cdr_body_digest_size);
    return true;
}

/* ------------------------------------------------------------------ */
/* cdr_push                                                            */

struct alignas(std::max_align_t) cdr_push::block {
    block *next;
};

cdr_push::cdr_push() noexcept : cdr_push(cdr_allocator{nullptr, nullptr})
{
}

cdr_push::cdr_push(cdr_allocator pool) noexcept
    : pool_(pool), blocks_(nullptr), dialect_(dialect::huawei),
      type_(push_type::cdr), types_(push_type_bit(push_type::cdr)),
      status_(cdr_status::ok), records_(nullptr), count_(0), valid_(0),
      dups_(0), detail_()
{
}

cdr_push::~cdr_push()
{
    clear();
}

void
cdr_push::clear() noexcept
{
    while (blocks_ != nullptr) {
        block *b = blocks_;
        blocks_ = b->next;
        std::free(b);
    }

    records_ = nullptr;
    count_ = 0;
    valid_ = 0;
    dups_ = 0;
    type_ = push_type::cdr;
    status_ = cdr_status::ok;
    detail_[0] = '\0';
}

void *
cdr_push::allocate(size_t size) noexcept
{
    if (pool_.alloc != nullptr) {
        return pool_.alloc(pool_.ctx, size);
    }

    auto *b = static_cast<block *>(std::malloc(sizeof(block) + size));
    if (b == nullptr) {
        return nullptr;
    }

    b->next = blocks_;
    blocks_ = b;
    return b + 1;
}

/* ------------------------------------------------------------------ */
/* cdr_parser                                                          */

namespace {

/* A key of an open object: where its raw text is, and its hash. */
struct key_entry {
    uint32_t offset;
    uint32_t hash;
};

/* Keys of one object are compared one by one up to this many. */
constexpr size_t key_linear_limit = 8;

/*
 * Each key has its own ':' and at least its two quotes, so a body of n
 * bytes holds fewer than n / 3 + 1 keys.
 */
constexpr size_t
key_stack_size(size_t body)
{
    return body / 3 + 1;
}

} // namespace

struct cdr_parser::state {
    od::parser json;
    char *input;     /* the body, then SIMDJSON_PADDING zeros */
    key_entry *keys; /* the keys of the open objects */
    size_t capacity;

    /*
     * The limit goes to the constructor: set_max_capacity() of simdjson
     * 3.0.1 clamps every value of 32 or more to 32.  With it, iterate()
     * can never allocate behind our back.
     */
    explicit state(size_t cap) noexcept
        : json(cap), input(nullptr), keys(nullptr), capacity(0)
    {
    }

    ~state()
    {
        std::free(input);
        std::free(keys);
    }
};

cdr_parser::cdr_parser() noexcept : state_(nullptr)
{
}

cdr_parser::~cdr_parser()
{
    delete state_;
}

size_t
cdr_parser::capacity() const noexcept
{
    return state_ != nullptr ? state_->capacity : 0;
}

bool
cdr_parser::reserve(size_t max_body) noexcept
{
    if (state_ != nullptr && state_->capacity >= max_body) {
        return true;
    }

    /* simdjson wants room for at least one 64-byte block */
    size_t cap = std::max<size_t>(max_body, 64);

    delete state_;
    state_ = new (std::nothrow) state(cap);
    if (state_ == nullptr) {
        return false;
    }

    state_->input = static_cast<char *>(std::malloc(cap + cdr_padding));
    state_->keys = static_cast<key_entry *>(
        std::malloc(key_stack_size(cap) * sizeof(key_entry)));

    if (state_->input == nullptr || state_->keys == nullptr
        || state_->json.allocate(cap) != simdjson::SUCCESS)
    {
        delete state_;
        state_ = nullptr;
        return false;
    }

    state_->capacity = cap;
    return true;
}

/* ------------------------------------------------------------------ */
/* the walk                                                            */

namespace {

/*
 * One field of a record that may become its tenant or part of its key:
 * a string, or an integer's token (its decimal spelling).
 */
struct slot_text {
    std::string_view decoded; /* in simdjson's buffer: this parse only */
    const char *raw;          /* past the opening quote, in the copy */
    bool escaped;             /* decoded is not the bytes at raw */
    bool set;
};

constexpr size_t role_count = static_cast<size_t>(cdr_field_role::mode) + 1;

/* What a record's fields said, gathered while walking it. */
struct record_scan {
    uint64_t present; /* known fields met (null or not): repeats */
    uint64_t seen;    /* known fields with a value: required */
    const cdr_field_rule *bad;
    cdr_problem problem;
    const cdr_field_rule *repeated; /* a known field met twice */
    bool compact;
    bool nul;
    bool duplicate;
    bool role_bad[role_count];
    slot_text role[role_count];

    const slot_text &text(cdr_field_role r) const noexcept
    {
        return role[static_cast<size_t>(r)];
    }

    bool bad_role(cdr_field_role r) const noexcept
    {
        return role_bad[static_cast<size_t>(r)];
    }
};

void
format_reason(cdr_record &r, const cdr_field_rule *bad,
              const type_shape &shape) noexcept
{
    static const char *const type_text[] = {
        "a string", "a string or an integer", "an integer", "a number"};
    const char *type =
        bad != nullptr ? type_text[static_cast<size_t>(bad->type)] : "";

    switch (r.problem) {
    case cdr_problem::none:
        break;
    case cdr_problem::not_utf8:
        std::snprintf(r.reason, sizeof(r.reason), "record is not valid UTF-8");
        break;
    case cdr_problem::not_an_object:
        std::snprintf(r.reason, sizeof(r.reason),
                      "record is not a JSON object");
        break;
    case cdr_problem::contains_nul:
        std::snprintf(r.reason, sizeof(r.reason), "record contains \\u0000");
        break;
    case cdr_problem::duplicate_key:
        if (r.field != nullptr) {
            std::snprintf(r.reason, sizeof(r.reason),
                          "record repeats the field \"%s\"", r.field);
        } else {
            std::snprintf(r.reason, sizeof(r.reason),
                          "record repeats a key within one object");
        }
        break;
    case cdr_problem::foreign_tenant:
        std::snprintf(r.reason, sizeof(r.reason),
                      shape.dialect == dialect::huawei
                          ? "field \"%s\" is not the app that signed the push"
                          : "field \"%s\" is not an allowed tenant",
                      r.field);
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
        if (bad != nullptr && bad->ranged) {
            std::snprintf(r.reason, sizeof(r.reason),
                          "field \"%s\" must be between %lld and %lld", r.field,
                          static_cast<long long>(bad->lo),
                          static_cast<long long>(bad->hi));
        } else {
            std::snprintf(r.reason, sizeof(r.reason),
                          "field \"%s\" does not fit 64 bits", r.field);
        }
        break;
    case cdr_problem::wrong_value:
        std::snprintf(r.reason, sizeof(r.reason), "field \"%s\" must be \"%s\"",
                      r.field, shape.mode);
        break;
    }
}

/* the token without the whitespace simdjson leaves up to the next one */
inline std::string_view
trimmed(std::string_view t) noexcept
{
    size_t n = t.size();
    while (n > 0 && is_ws(t[n - 1])) {
        n--;
    }
    return std::string_view(t.data(), n);
}

inline char
first_char(std::string_view t) noexcept
{
    return t.empty() ? '\0' : t[0];
}

inline bool
starts_number(char c) noexcept
{
    return c == '-' || (c >= '0' && c <= '9');
}

} // namespace

/*
 * One parse.  Every value of the body is visited exactly once, in
 * document order, and records are judged as they are walked.  The walk_*
 * functions return false on a fatal error, with the status set.
 *
 * Whitespace: a record is compact when every byte of it belongs to a token
 * or is punctuation, so each token checks what touches it: a key follows
 * '{' or ',', a member's value follows '":', an element follows '[' or
 * ',', no token or nested container is followed by whitespace, and an
 * empty container is two bytes.
 */
struct cdr_walk {
    cdr_push &out;
    cdr_parser::state &st;
    const cdr_options &opt;
    const char *data; /* the caller's body */
    const char *base; /* what simdjson reads: data, or the parser's copy */
    size_t len;
    const type_shape *shape = nullptr; /* nullptr: type not accepted */
    rule_table rules{};                /* the shape's */
    size_t max_records = 0;
    slot_text envelope_app_key{}; /* smsEvent */
    bool fallback = false;        /* bytes of the copy were replaced */
    size_t nkeys = 0;             /* entries of st.keys in use */
    size_t records = 0;           /* list elements met, kept or not */
    size_t table_size = 0;
    cdr_status status = cdr_status::ok;

    void use_shape(const type_shape *s) noexcept;
    bool fail(cdr_status s, const char *what, const char *at) noexcept;
    bool json_error(simdjson::error_code e, const char *at) noexcept;

    bool add_key(size_t first, std::string_view key, const char *raw,
                 record_scan *rec) noexcept;
    bool close_object(size_t first, record_scan *rec) noexcept;

    const char *after(od::value &v) noexcept;
    bool walk_value(od::value &v, size_t depth, record_scan *rec) noexcept;
    bool walk_object(od::value &v, const char *at, size_t depth,
                     record_scan *rec) noexcept;
    bool walk_members(od::object &obj, const char *at, size_t depth,
                      record_scan *rec, od::value *v) noexcept;
    bool walk_array(od::value &v, const char *at, size_t depth,
                    record_scan *rec) noexcept;
    bool walk_elements(od::array &arr, const char *at, size_t depth,
                       record_scan *rec, od::value *v) noexcept;
    bool walk_string(od::value &v, std::string_view tok, record_scan *rec,
                     std::string_view *decoded) noexcept;
    bool key_text(od::field &f, const char *raw, const char *value,
                  record_scan *rec, std::string_view *key) noexcept;
    bool walk_scalar(std::string_view tok, record_scan *rec,
                     number_kind *kind) noexcept;

    bool walk_list(od::array &arr, const char *at, size_t depth) noexcept;
    cdr_record *record_slot() noexcept;
    bool walk_record(od::value &v, size_t depth, cdr_record *r,
                     record_scan &rec) noexcept;
    bool walk_field(od::value &v, std::string_view tok, size_t depth,
                    size_t index, record_scan &rec) noexcept;
    bool finish_record(cdr_record &r, record_scan &rec) noexcept;
    const slot_text *tenant_of(const record_scan &rec,
                               cdr_tenant_kind *kind) noexcept;
    bool judge(cdr_record &r, record_scan &rec) noexcept;
    bool digest_key(cdr_record &r) noexcept;
    bool keep(std::string_view &dst, const slot_text &s) noexcept;

    simdjson::error_code huawei_shape(od::document &doc,
                                      const type_shape **found) noexcept;
    simdjson::error_code find_event_type(od::object &obj, bool *found,
                                         std::string_view *event) noexcept;
    bool walk_root(od::document &doc, bool *shape_ok) noexcept;
    bool walk_root_scalar(od::document &doc, std::string_view tok) noexcept;
    bool walk_huawei(od::object &obj, const char *at, bool *shape_ok) noexcept;
    bool walk_member(od::value &v, std::string_view tok, bool *list_ok,
                     cdr_record **single, record_scan &scan) noexcept;
    bool walk_app_key(od::value &v, std::string_view tok, bool *ok) noexcept;
    void find_duplicates() noexcept;

    cdr_status run() noexcept;
};

void
cdr_walk::use_shape(const type_shape *s) noexcept
{
    shape = s;
    if (s != nullptr) {
        rules = s->rules;
        max_records = cdr_max_records(s->dialect, s->type, opt);
        out.type_ = s->type;
    }
}

bool
cdr_walk::fail(cdr_status s, const char *what, const char *at) noexcept
{
    status = s;
    if (at != nullptr && at >= base && at <= base + len) {
        std::snprintf(out.detail_, sizeof(out.detail_), "offset %zu: %s",
                      static_cast<size_t>(at - base), what);
    } else {
        std::snprintf(out.detail_, sizeof(out.detail_), "%s", what);
    }
    return false;
}

bool
cdr_walk::json_error(simdjson::error_code e, const char *at) noexcept
{
    if (e == simdjson::MEMALLOC) {
        return fail(cdr_status::no_memory, "simdjson ran out of memory", at);
    }
    return fail(cdr_status::not_json, simdjson::error_message(e), at);
}

/*
 * Where the token after a container walked inside a list begins: a ','
 * or a bracket of the list, unless the body ends there (not JSON).
 */
const char *
cdr_walk::after(od::value &v) noexcept
{
    simdjson::simdjson_result<const char *> at = v.current_location();

    if (at.error() != simdjson::SUCCESS) {
        fail(cdr_status::not_json, "unexpected end of the body", nullptr);
        return nullptr;
    }
    return at.value_unsafe();
}

/*
 * A key of the object whose keys start at st.keys[first].  Small objects
 * are checked as each key comes; larger ones once they close (sorted, so
 * a hostile object of 100,000 keys costs n log n, not n^2).  Outside a
 * record a repeated key refuses the push; inside one it marks the record.
 */
bool
cdr_walk::add_key(size_t first, std::string_view key, const char *raw,
                  record_scan *rec) noexcept
{
    uint32_t h = key_hash(key);
    key_entry *keys = st.keys;

    if (nkeys - first < key_linear_limit) {
        for (size_t i = first; i < nkeys; i++) {
            if (keys[i].hash == h
                && raw_string_equals(base + keys[i].offset, key)) {
                if (rec == nullptr) {
                    return fail(cdr_status::duplicate_key,
                                "duplicate object key", raw);
                }
                rec->duplicate = true;
            }
        }
    }

    keys[nkeys].offset = static_cast<uint32_t>(raw - base);
    keys[nkeys].hash = h;
    nkeys++;
    return true;
}

bool
cdr_walk::close_object(size_t first, record_scan *rec) noexcept
{
    key_entry *b = st.keys + first;
    key_entry *e = st.keys + nkeys;

    nkeys = first;

    if (e - b <= static_cast<ptrdiff_t>(key_linear_limit)) {
        return true;
    }

    const char *text = base;
    std::sort(b, e, [text](const key_entry &x, const key_entry &y) {
        if (x.hash != y.hash) {
            return x.hash < y.hash;
        }
        return raw_string_compare(text + x.offset, text + y.offset) < 0;
    });

    for (key_entry *k = b + 1; k < e; k++) {
        if (k[-1].hash == k->hash
            && raw_string_compare(text + k[-1].offset, text + k->offset) == 0)
        {
            if (rec == nullptr) {
                return fail(cdr_status::duplicate_key, "duplicate object key",
                            text + std::max(k[-1].offset, k->offset));
            }
            rec->duplicate = true;
            break;
        }
    }

    return true;
}

/*
 * Numbers and literals: simdjson leaves them to whoever reads them, so
 * their grammar is checked here, on the token.
 */
bool
cdr_walk::walk_scalar(std::string_view tok, record_scan *rec,
                      number_kind *kind) noexcept
{
    std::string_view t = trimmed(tok);

    if (rec != nullptr && t.size() != tok.size()) {
        rec->compact = false;
    }

    switch (first_char(t)) {
    case 't':
        if (t == "true") {
            return true;
        }
        break;
    case 'f':
        if (t == "false") {
            return true;
        }
        break;
    case 'n':
        if (t == "null") {
            return true;
        }
        break;
    default:
        number_kind k = scan_number(t);
        if (k == number_kind::invalid) {
            return fail(cdr_status::not_json, "invalid number", t.data());
        }
        if (kind != nullptr) {
            *kind = k;
        }
        return true;
    }

    return fail(cdr_status::not_json, "invalid literal", t.data());
}

/*
 * Most strings have no escape: the bytes between the quotes are then the
 * text, already checked by simdjson's first pass (UTF-8, no control
 * character), and only strings with a backslash are decoded.
 */
bool
cdr_walk::walk_string(od::value &v, std::string_view tok, record_scan *rec,
                      std::string_view *decoded) noexcept
{
    std::string_view t = trimmed(tok);
    std::string_view s;

    if (rec != nullptr) {
        rec->compact &= t.size() == tok.size();
    }

    simdjson::error_code e = v.get_string().get(s);
    if (e != simdjson::SUCCESS) {
        return json_error(e, tok.data());
    }
    if (rec != nullptr && s.size() != t.size() - 2
        && std::memchr(s.data(), '\0', s.size()) != nullptr)
    {
        rec->nul = true;
    }

    if (decoded != nullptr) {
        *decoded = s;
    }
    return true;
}

/* The same for keys, whose end is the '"' just before the ':'. */
bool
cdr_walk::key_text(od::field &f, const char *raw, const char *value,
                   record_scan *rec, std::string_view *key) noexcept
{
    if (value[-1] == ':' && value[-2] == '"') {
        size_t n = static_cast<size_t>(value - 2 - raw);
        if (std::memchr(raw, '\\', n) == nullptr) {
            *key = std::string_view(raw, n);
            return true;
        }
    }

    simdjson::error_code e = f.unescaped_key().get(*key);
    if (e != simdjson::SUCCESS) {
        return json_error(e, raw);
    }

    if (rec != nullptr
        && std::memchr(key->data(), '\0', key->size()) != nullptr) {
        rec->nul = true;
    }
    return true;
}

bool
cdr_walk::walk_value(od::value &v, size_t depth, record_scan *rec) noexcept
{
    std::string_view tok = v.raw_json_token();
    char c = first_char(tok);

    if (depth > cdr_max_depth) {
        return fail(cdr_status::not_json, "nesting too deep", tok.data());
    }

    if (c == '{') {
        return walk_object(v, tok.data(), depth, rec);
    }
    if (c == '[') {
        return walk_array(v, tok.data(), depth, rec);
    }
    if (c == '"') {
        return walk_string(v, tok, rec, nullptr);
    }
    if (c == 't' || c == 'f' || c == 'n' || starts_number(c)) {
        return walk_scalar(tok, rec, nullptr);
    }
    return fail(cdr_status::not_json, "unexpected character", tok.data());
}

bool
cdr_walk::walk_object(od::value &v, const char *at, size_t depth,
                      record_scan *rec) noexcept
{
    od::object obj;
    simdjson::error_code e = v.get_object().get(obj);
    if (e != simdjson::SUCCESS) {
        return json_error(e, at);
    }
    return walk_members(obj, at, depth, rec, &v);
}

/* v: the object as a value, to see what follows it inside a record */
bool
cdr_walk::walk_members(od::object &obj, const char *at, size_t depth,
                       record_scan *rec, od::value *v) noexcept
{
    size_t first = nkeys;
    size_t members = 0;

    for (auto item : obj) {
        od::field f;
        simdjson::error_code e = std::move(item).get(f);
        if (e != simdjson::SUCCESS) {
            return json_error(e, at);
        }

        const char *raw = f.key().raw();
        od::value &fv = f.value();
        const char *vp = fv.raw_json_token().data();
        std::string_view key;

        if (!key_text(f, raw, vp, rec, &key)) {
            return false;
        }

        if (rec != nullptr) {
            rec->compact &= (raw[-2] == '{' || raw[-2] == ',') && vp[-1] == ':'
                            && vp[-2] == '"';
        }

        if (!add_key(first, key, raw, rec) || !walk_value(fv, depth + 1, rec)) {
            return false;
        }
        members++;
    }

    if (rec != nullptr) {
        const char *end = after(*v);
        if (end == nullptr) {
            return false;
        }
        rec->compact &= end[-1] == '}' && (members > 0 || end - 2 == at);
    }

    return close_object(first, rec);
}

bool
cdr_walk::walk_array(od::value &v, const char *at, size_t depth,
                     record_scan *rec) noexcept
{
    od::array arr;
    simdjson::error_code e = v.get_array().get(arr);
    if (e != simdjson::SUCCESS) {
        return json_error(e, at);
    }
    return walk_elements(arr, at, depth, rec, &v);
}

bool
cdr_walk::walk_elements(od::array &arr, const char *at, size_t depth,
                        record_scan *rec, od::value *v) noexcept
{
    size_t elements = 0;

    for (auto item : arr) {
        od::value ev;
        simdjson::error_code e = std::move(item).get(ev);
        if (e != simdjson::SUCCESS) {
            return json_error(e, at);
        }

        if (rec != nullptr) {
            const char *p = ev.raw_json_token().data();
            rec->compact &= p[-1] == '[' || p[-1] == ',';
        }

        if (!walk_value(ev, depth + 1, rec)) {
            return false;
        }
        elements++;
    }

    if (rec != nullptr) {
        const char *end = after(*v);
        if (end == nullptr) {
            return false;
        }
        rec->compact &= end[-1] == ']' && (elements > 0 || end - 2 == at);
    }

    return true;
}

/* A known field's value: its type, length or range, and its role. */
bool
cdr_walk::walk_field(od::value &v, std::string_view tok, size_t depth,
                     size_t index, record_scan &rec) noexcept
{
    const cdr_field_rule *rule = &rules.rules[index];
    uint64_t bit = uint64_t(1) << index;
    char c = first_char(tok);
    size_t role = static_cast<size_t>(rule->role);
    bool string_ok = rule->type <= cdr_field_type::string_or_integer;
    cdr_problem p = cdr_problem::none;

    if (rec.present & bit) {
        /* the first value is the one the key and the checks use */
        rec.duplicate = true;
        if (rec.repeated == nullptr) {
            rec.repeated = rule;
        }
        return walk_value(v, depth, &rec);
    }
    rec.present |= bit;

    if (c == 'n') {
        return walk_scalar(tok, &rec, nullptr); /* null = absent */
    }
    rec.seen |= bit;

    if (c == '"' && string_ok) {
        std::string_view s;
        if (!walk_string(v, tok, &rec, &s)) {
            return false;
        }
        /* bytes >= code points, so count only when needed */
        if (s.size() < rule->min_len) {
            p = cdr_problem::too_short;
        } else if (rule->max_len != 0 && s.size() > rule->max_len
                   && utf8_length(s) > rule->max_len)
        {
            p = cdr_problem::too_long;
        } else if (role != 0) {
            std::string_view t = trimmed(tok);
            rec.role[role] =
                slot_text{s, t.data() + 1, s.size() != t.size() - 2, true};
        }

    } else if (rule->type == cdr_field_type::string || !starts_number(c)) {
        p = cdr_problem::wrong_type;

    } else {
        number_kind k = number_kind::invalid;
        int64_t n = 0;

        if (!walk_scalar(tok, &rec, &k)) {
            return false;
        }

        if (rule->type == cdr_field_type::number) {
            /* any JSON number */
        } else if (k != number_kind::integer) {
            p = cdr_problem::wrong_type;
        } else if (std::string_view t = trimmed(tok);
                   !integer_value(t, n)
                   || (rule->ranged && (n < rule->lo || n > rule->hi)))
        {
            p = cdr_problem::out_of_range;
        } else if (role != 0) {
            /* its decimal spelling is the token, but for -0 */
            rec.role[role] = t == "-0" ? slot_text{"0", t.data(), true, true}
                                       : slot_text{t, t.data(), false, true};
        }
    }

    if (p != cdr_problem::none) {
        rec.role_bad[role] = true;
        if (rec.bad == nullptr) {
            rec.bad = rule;
            rec.problem = p;
        }
    }

    /* a value of another type than the rule's is still JSON to check */
    bool checked =
        c == '"' ? string_ok
                 : rule->type != cdr_field_type::string && starts_number(c);
    return checked || walk_value(v, depth, &rec);
}

/* A tenant or key component outlives this parse: the body's bytes, or a
 * copy. */
bool
cdr_walk::keep(std::string_view &dst, const slot_text &s) noexcept
{
    if (!s.escaped) {
        dst = std::string_view(data + (s.raw - base), s.decoded.size());
        return true;
    }

    char *copy = static_cast<char *>(out.allocate(s.decoded.size() + 1));
    if (copy == nullptr) {
        return fail(cdr_status::no_memory, "no memory for a key", nullptr);
    }

    std::memcpy(copy, s.decoded.data(), s.decoded.size());
    dst = std::string_view(copy, s.decoded.size());
    return true;
}

/* The record's tenant and its kind, per its type (see cdr.hpp). */
const slot_text *
cdr_walk::tenant_of(const record_scan &rec, cdr_tenant_kind *kind) noexcept
{
    switch (shape->tenant) {
    case tenant_source::none:
        return nullptr;
    case tenant_source::record_app_key:
        *kind = cdr_tenant_kind::app_key;
        return rec.text(cdr_field_role::app_key).set
                   ? &rec.text(cdr_field_role::app_key)
                   : nullptr;
    case tenant_source::envelope_app_key:
        *kind = cdr_tenant_kind::app_key;
        return &envelope_app_key; /* else the push is bad_app_key */
    case tenant_source::pool_or_partner:
        break;
    }

    const slot_text &pool = rec.text(cdr_field_role::pool_key);
    const slot_text &partner = rec.text(cdr_field_role::partner_key);

    if (rec.bad_role(cdr_field_role::pool_key)
        || rec.bad_role(cdr_field_role::partner_key))
    {
        return nullptr;
    }
    if (pool.set && !pool.decoded.empty()) {
        *kind = cdr_tenant_kind::pool_key;
        return &pool;
    }
    if (partner.set && !partner.decoded.empty()) {
        *kind = cdr_tenant_kind::partner_key;
        return &partner;
    }
    return nullptr;
}

/* The verdict, in the order documented in cdr.hpp, then the key. */
bool
cdr_walk::judge(cdr_record &r, record_scan &rec) noexcept
{
    bool pools = shape->tenant == tenant_source::pool_or_partner;
    const cdr_field_rule *bad = rec.bad;
    cdr_problem problem = rec.problem;
    const char *name = bad != nullptr ? bad->name : nullptr;
    const slot_text &mode = rec.text(cdr_field_role::mode);
    const slot_text *tenant = tenant_of(rec, &r.tenant_kind);

    if (bad == nullptr && shape->mode != nullptr && mode.set
        && mode.decoded != shape->mode)
    {
        problem = cdr_problem::wrong_value;
        name = rules.mode_field;
    }

    /* a missing required field outranks a type problem */
    uint64_t missing = rules.names->required & ~rec.seen;
    if (missing != 0) {
        bad = &rules.rules[__builtin_ctzll(missing)];
        problem = cdr_problem::missing;
        name = bad->name;
    }

    if (pools && tenant == nullptr && !rec.bad_role(cdr_field_role::pool_key)
        && !rec.bad_role(cdr_field_role::partner_key)
        && problem != cdr_problem::missing)
    {
        problem = cdr_problem::missing;
        name = "pool_key/partner_key";
    }

    if (tenant != nullptr) {
        std::string_view t = tenant->decoded;
        bool allowed = true;

        if (!pools) {
            allowed = opt.signer.empty() || t == opt.signer;
        } else if (opt.tenants != nullptr) {
            const std::string_view *end = opt.tenants + opt.tenant_count;
            allowed = std::find(opt.tenants, end, t) != end;
        }

        if (!allowed) {
            problem = cdr_problem::foreign_tenant;
            name = pools ? tenant_kind_name(r.tenant_kind).data() : "appKey";
        }
    }

    if (rec.duplicate) {
        problem = cdr_problem::duplicate_key;
        name = rec.repeated != nullptr ? rec.repeated->name : nullptr;
    }

    if (rec.nul) {
        problem = cdr_problem::contains_nul;
        name = nullptr;
    }

    r.problem = problem;
    r.field = name;
    r.valid = problem == cdr_problem::none;
    format_reason(r, bad, *shape);

    if (tenant != nullptr && !keep(r.tenant, *tenant)) {
        return false;
    }

    /* the key is built whenever its own fields are fine, for logging */
    if ((shape->tenant != tenant_source::none && tenant == nullptr)
        || !rec.text(cdr_field_role::key1).set
        || rec.bad_role(cdr_field_role::key2)
        || rec.bad_role(cdr_field_role::key3))
    {
        return true;
    }

    for (size_t i = 0; i < rules.components; i++) {
        const slot_text &part =
            rec.role[static_cast<size_t>(cdr_field_role::key1) + i];
        if (part.set && !keep(r.key_parts[i], part)) {
            return false;
        }
    }

    return digest_key(r);
}

/*
 * The key's length and digest.  Percent-encoding at most triples a
 * component; a key that may not fit the stack is built in the push's
 * memory.
 */
bool
cdr_walk::digest_key(cdr_record &r) noexcept
{
    char stack[key_stack_max];
    char *key = stack;
    size_t bound = 0;

    if (!rules.key_fits_stack) {
        bound = key_literal_size(*shape, r) + 3 * r.tenant.size();
        for (size_t i = 0; i < rules.components; i++) {
            bound += 3 * r.key_parts[i].size();
        }
    }
    if (bound > sizeof(stack)) {
        key = static_cast<char *>(out.allocate(bound));
        if (key == nullptr) {
            return fail(cdr_status::no_memory, "no memory for a key", nullptr);
        }
    }

    r.key_len = static_cast<size_t>(key_write(*shape, r, key, true) - key);
    r.key_encoded = r.key_len != plain_key_size(*shape, r);

    sha256_digest d;

    if (!scoped_sha256(opt.scope, std::string_view(key, r.key_len), d)) {
        return fail(cdr_status::no_memory, "SHA-256 failed", nullptr);
    }

    std::memcpy(r.key_digest, d.data(), cdr_key_digest_size);
    return true;
}

/*
 * One record, walked into rec; r == nullptr past max_records.  Its
 * verdict is finish_record's: a smsEvent's tenant may come after it.
 */
bool
cdr_walk::walk_record(od::value &v, size_t depth, cdr_record *r,
                      record_scan &rec) noexcept
{
    std::string_view tok = v.raw_json_token();
    const char *start = tok.data();
    bool is_object = first_char(tok) == '{';
    const char *end;

    rec = record_scan{};
    rec.compact = true;

    if (!is_object) {
        if (!walk_value(v, depth, &rec)) {
            return false;
        }
        end = first_char(tok) == '[' ? after(v) : start + trimmed(tok).size();
        if (end == nullptr) {
            return false;
        }

    } else {
        od::object obj;
        simdjson::error_code e = v.get_object().get(obj);
        if (e != simdjson::SUCCESS) {
            return json_error(e, start);
        }

        size_t first = nkeys;
        size_t members = 0;

        for (auto item : obj) {
            od::field f;
            e = std::move(item).get(f);
            if (e != simdjson::SUCCESS) {
                return json_error(e, start);
            }

            const char *raw = f.key().raw();
            od::value &fv = f.value();
            std::string_view vt = fv.raw_json_token();
            const char *vp = vt.data();
            bool tight = vp[-1] == ':' && vp[-2] == '"';
            std::string_view key;

            rec.compact &= tight && (raw[-2] == '{' || raw[-2] == ',');

            /*
             * Known names have no escape: raw bytes equal to one are that
             * name, and the usual record needs no key decoding at all.
             */
            int index = -1;

            if (tight) {
                key = std::string_view(raw, static_cast<size_t>(vp - 2 - raw));
                index = find_rule(rules, key, true);
            }
            if (index < 0) {
                if (!key_text(f, raw, vp, &rec, &key)) {
                    return false;
                }
                if (key.data() != raw) {
                    index = find_rule(rules, key, false);
                }
            }
            bool ok;

            if (index >= 0) {
                ok = walk_field(fv, vt, depth + 1, index, rec);
            } else {
                ok = add_key(first, key, raw, &rec)
                     && walk_value(fv, depth + 1, &rec);
            }
            if (!ok) {
                return false;
            }
            members++;
        }

        if (!close_object(first, &rec)) {
            return false;
        }

        end = after(v);
        if (end == nullptr) {
            return false;
        }
        rec.compact &=
            members > 0
            || trimmed(std::string_view(start, end - start)).size() == 2;
    }

    if (r == nullptr) {
        return true;
    }

    while (is_ws(end[-1])) {
        end--;
    }

    std::memset(static_cast<void *>(r), 0, sizeof(*r));
    r->raw = std::string_view(data + (start - base),
                              static_cast<size_t>(end - start));
    r->dup_of = cdr_no_dup;
    r->compact = rec.compact;

    if (fallback && std::memcmp(start, r->raw.data(), r->raw.size()) != 0) {
        r->problem = cdr_problem::not_utf8;
    } else if (!is_object) {
        r->problem = cdr_problem::not_an_object;
    }
    return true;
}

bool
cdr_walk::finish_record(cdr_record &r, record_scan &rec) noexcept
{
    if (r.problem != cdr_problem::none) {
        format_reason(r, nullptr, *shape);
        return true;
    }
    if (!judge(r, rec)) {
        return false;
    }
    out.valid_ += r.valid;
    return true;
}

/* The table entry of the next record; nullptr (no_memory) if none. */
cdr_record *
cdr_walk::record_slot() noexcept
{
    if (records == table_size) {
        size_t n = std::min(std::max<size_t>(table_size * 2, 64), max_records);
        auto *t =
            static_cast<cdr_record *>(out.allocate(n * sizeof(cdr_record)));
        if (t == nullptr) {
            fail(cdr_status::no_memory, "no memory for the records", nullptr);
            return nullptr;
        }
        if (records != 0) {
            std::memcpy(static_cast<void *>(t), out.records_,
                        records * sizeof(cdr_record));
        }
        out.records_ = t;
        table_size = n;
    }
    return &out.records_[records];
}

/* The records' array: every element walked, at most max_records kept. */
bool
cdr_walk::walk_list(od::array &arr, const char *at, size_t depth) noexcept
{
    for (auto item : arr) {
        od::value ev;
        simdjson::error_code e = std::move(item).get(ev);
        if (e != simdjson::SUCCESS) {
            return json_error(e, at);
        }

        cdr_record *r = nullptr;
        record_scan rec;

        if (records < max_records && (r = record_slot()) == nullptr) {
            return false;
        }
        if (!walk_record(ev, depth + 1, r, rec)
            || (r != nullptr && !finish_record(*r, rec)))
        {
            return false;
        }
        records++;
    }

    return true;
}

/*
 * huawei: the type of the push, told by its "eventType" (see cdr.hpp);
 * nullptr when the location does not accept it.  An error that leaves
 * the document usable is left to the walk, which meets it again; one
 * that does not is returned.
 */
simdjson::error_code
cdr_walk::huawei_shape(od::document &doc, const type_shape **found) noexcept
{
    od::object obj;
    std::string_view event;
    bool event_type = false;
    simdjson::error_code e = doc.get_object().get(obj);

    *found = nullptr;

    if (e == simdjson::SUCCESS) {
        e = find_event_type(obj, &event_type, &event);
    }
    /* an error that killed the document was returned by what met it */
    if (!doc.is_alive()) {
        return e;
    }
    doc.rewind();

    for (const type_shape &s : shapes) {
        bool told = event_type ? s.event != nullptr && event == s.event
                               : s.type == push_type::sms;
        if (told && (opt.types & push_type_bit(s.type)) != 0) {
            *found = &s;
        }
    }
    return simdjson::SUCCESS;
}

/*
 * The envelope's members up to "eventType": whether there is one, and
 * its value (an error when that is no string).  Stops at the first
 * error.
 */
simdjson::error_code
cdr_walk::find_event_type(od::object &obj, bool *found,
                          std::string_view *event) noexcept
{
    for (auto item : obj) {
        od::field f;
        std::string_view key;
        simdjson::error_code e = std::move(item).get(f);
        if (e == simdjson::SUCCESS) {
            e = f.unescaped_key().get(key);
        }
        if (e != simdjson::SUCCESS) {
            return e;
        }
        if (key == "eventType") {
            *found = true;
            return f.value().get_string().get(*event);
        }
    }
    return simdjson::SUCCESS;
}

/* smsEvent: the envelope's appKey, the record's tenant (§3.6). */
bool
cdr_walk::walk_app_key(od::value &v, std::string_view tok, bool *ok) noexcept
{
    constexpr cdr_field_rule rule = req_str("appKey", 1, 32);
    std::string_view t = trimmed(tok);
    std::string_view s;

    if (first_char(tok) != '"') {
        return walk_value(v, 2, nullptr);
    }
    if (!walk_string(v, tok, nullptr, &s)) {
        return false;
    }

    size_t n = utf8_length(s);
    *ok = n >= rule.min_len && n <= rule.max_len;
    envelope_app_key =
        slot_text{s, t.data() + 1, s.size() != t.size() - 2, true};
    return true;
}

/* The member that holds the records: a list, or one record. */
bool
cdr_walk::walk_member(od::value &v, std::string_view tok, bool *list_ok,
                      cdr_record **single, record_scan &scan) noexcept
{
    if (!shape->list) {
        *single = record_slot();
        if (*single == nullptr || !walk_record(v, 2, *single, scan)) {
            return false;
        }
        records = 1;
        return true;
    }

    if (first_char(tok) != '[') {
        return walk_value(v, 2, nullptr);
    }

    od::array arr;
    simdjson::error_code e = v.get_array().get(arr);
    if (e != simdjson::SUCCESS) {
        return json_error(e, tok.data());
    }
    *list_ok = true;
    return walk_list(arr, tok.data(), 2);
}

bool
cdr_walk::walk_huawei(od::object &obj, const char *at, bool *shape_ok) noexcept
{
    bool event_ok = shape != nullptr && shape->event == nullptr;
    bool sms =
        shape != nullptr && shape->tenant == tenant_source::envelope_app_key;
    bool member_seen = false;
    bool list_ok = false;
    bool app_key_seen = false;
    bool app_key_ok = !sms;
    cdr_record *single = nullptr;
    record_scan scan;
    size_t first = nkeys;

    for (auto item : obj) {
        od::field f;
        simdjson::error_code e = std::move(item).get(f);
        if (e != simdjson::SUCCESS) {
            return json_error(e, at);
        }

        const char *raw = f.key().raw();
        od::value &fv = f.value();
        std::string_view vt = fv.raw_json_token();
        std::string_view key;

        if (!key_text(f, raw, vt.data(), nullptr, &key)
            || !add_key(first, key, raw, nullptr))
        {
            return false;
        }

        bool ok;

        if (shape != nullptr && !member_seen && key == shape->member) {
            member_seen = true;
            ok = walk_member(fv, vt, &list_ok, &single, scan);
        } else if (key == "eventType" && first_char(vt) == '"') {
            std::string_view s;
            ok = walk_string(fv, vt, nullptr, &s);
            event_ok = shape != nullptr && shape->event != nullptr
                       && s == shape->event;
        } else if (sms && !app_key_seen && key == "appKey") {
            app_key_seen = true;
            ok = walk_app_key(fv, vt, &app_key_ok);
        } else {
            ok = walk_value(fv, 2, nullptr);
        }
        if (!ok) {
            return false;
        }
    }

    if (!close_object(first, nullptr)) {
        return false;
    }

    if (!event_ok) {
        status = cdr_status::wrong_event_type;
    } else if (shape->list && !list_ok) {
        status = cdr_status::not_an_array;
    } else if (!app_key_ok) {
        status = cdr_status::bad_app_key;
    }
    *shape_ok = status == cdr_status::ok;
    return !*shape_ok || single == nullptr || finish_record(*single, scan);
}

/*
 * The root value and the envelope's shape.  A scalar root is JSON (and
 * the wrong shape) as long as its token is; simdjson only hands out
 * containers as values.
 */
bool
cdr_walk::walk_root(od::document &doc, bool *shape_ok) noexcept
{
    bool hw = out.dialect_ == dialect::huawei;
    std::string_view tok;
    simdjson::error_code e = doc.raw_json_token().get(tok);
    if (e != simdjson::SUCCESS) {
        return json_error(e, base);
    }

    char c = first_char(tok);

    if (c != '{' && c != '[') {
        return walk_root_scalar(doc, tok);
    }

    /*
     * The root is started as the root, so that simdjson checks the body
     * closes what it opens: past the end it reads padding, whatever that
     * holds.
     */
    bool walked;

    if (c == '{') {
        od::object obj;
        e = doc.get_object().get(obj);
        if (e != simdjson::SUCCESS) {
            return json_error(e, tok.data());
        }
        walked = hw ? walk_huawei(obj, tok.data(), shape_ok)
                    : walk_members(obj, tok.data(), 1, nullptr, nullptr);
    } else {
        od::array arr;
        e = doc.get_array().get(arr);
        if (e != simdjson::SUCCESS) {
            return json_error(e, tok.data());
        }
        walked = hw ? walk_elements(arr, tok.data(), 1, nullptr, nullptr)
                    : walk_list(arr, tok.data(), 1);
        *shape_ok = walked && !hw;
    }

    if (!walked) {
        return false;
    }

    if (hw != (c == '{')) {
        status = hw ? cdr_status::not_an_object : cdr_status::not_an_array;
    }

    /* trailing data: anything after the root */
    simdjson::simdjson_result<const char *> rest = doc.current_location();
    if (rest.error() != simdjson::OUT_OF_BOUNDS) {
        return fail(cdr_status::not_json, "data after the JSON value",
                    rest.error() == simdjson::SUCCESS ? rest.value_unsafe()
                                                      : nullptr);
    }
    return true;
}

/*
 * A scalar root is JSON (and the wrong shape) as long as its token is;
 * simdjson hands out only containers as values.
 */
bool
cdr_walk::walk_root_scalar(od::document &doc, std::string_view tok) noexcept
{
    char c = first_char(tok);

    if (c == '"') {
        std::string_view s;
        simdjson::error_code e = doc.get_string().get(s);
        if (e != simdjson::SUCCESS) {
            return json_error(e, tok.data());
        }
    } else if (c == 't' || c == 'f' || c == 'n' || starts_number(c)) {
        if (!walk_scalar(tok, nullptr, nullptr)) {
            return false;
        }
    } else {
        return fail(cdr_status::not_json, "unexpected character", tok.data());
    }

    /* a scalar's token runs up to the next one, or to the end */
    if (tok.data() + tok.size() != base + len) {
        return fail(cdr_status::not_json, "data after the JSON value",
                    tok.data() + tok.size());
    }

    status = out.dialect_ == dialect::huawei ? cdr_status::not_an_object
                                             : cdr_status::not_an_array;
    return true;
}

/* Open addressing on the digest: O(n) for the 1000-record Aliyun case. */
void
cdr_walk::find_duplicates() noexcept
{
    size_t cap = 8;

    while (cap < out.count_ * 2) {
        cap <<= 1;
    }

    auto *slots = static_cast<uint32_t *>(out.allocate(cap * sizeof(uint32_t)));

    if (slots == nullptr) {
        /* quadratic fallback rather than failing the push */
        for (size_t i = 1; i < out.count_; i++) {
            cdr_record &r = out.records_[i];
            for (size_t j = 0; r.valid && j < i; j++) {
                const cdr_record &q = out.records_[j];
                if (q.valid && q.dup_of == cdr_no_dup
                    && std::memcmp(q.key_digest, r.key_digest,
                                   cdr_key_digest_size)
                           == 0)
                {
                    r.dup_of = static_cast<uint32_t>(j);
                    r.conflict = !minified_equal(q, r);
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
            if (std::memcmp(q.key_digest, r.key_digest, cdr_key_digest_size)
                == 0) {
                r.dup_of = slots[s];
                r.conflict = !minified_equal(q, r);
                out.dups_++;
                break;
            }
        }
    }
}

cdr_status
cdr_walk::run() noexcept
{
    char *copy = st.input;

    /* simdjson reads up to cdr_padding bytes past the end */
    if (!opt.padded || len == 0) {
        std::memcpy(copy, data, len);
        std::memset(copy + len, 0, cdr_padding);
        base = copy;
    }

    od::document doc;
    simdjson::error_code e =
        st.json.iterate(base, len, len + cdr_padding).get(doc);

    if (e == simdjson::UTF8_ERROR) {
        if (base != copy) {
            std::memcpy(copy, data, len);
            std::memset(copy + len, 0, cdr_padding);
            base = copy;
        }
        replace_invalid_utf8(copy, len);
        fallback = true;
        e = st.json.iterate(base, len, len + cdr_padding).get(doc);
    }

    bool shape_ok = false;

    if (e != simdjson::SUCCESS) {
        json_error(e, nullptr);
        return status;
    }

    if (out.dialect_ == dialect::huawei) {
        const type_shape *told;
        e = huawei_shape(doc, &told);
        if (e != simdjson::SUCCESS) {
            json_error(e, nullptr);
            return status;
        }
        use_shape(told);
    }

    if (!walk_root(doc, &shape_ok)) {
        return status;
    }

    if (fallback) {
        /* replaced bytes are tolerated only inside records of a good push */
        for (size_t i = 0; shape_ok && i < std::min(records, max_records); i++)
        {
            const cdr_record &r = out.records_[i];
            if (r.problem == cdr_problem::not_utf8) {
                std::memcpy(copy + (r.raw.data() - data), r.raw.data(),
                            r.raw.size());
            }
        }
        if (!shape_ok || records > max_records
            || std::memcmp(copy, data, len) != 0) {
            fail(cdr_status::not_json, "invalid UTF-8 outside the records",
                 nullptr);
            return status;
        }
    }

    if (!shape_ok) {
        return status;
    }

    if (records == 0) {
        status = cdr_status::no_records;
        return status;
    }

    if (records > max_records) {
        std::snprintf(out.detail_, sizeof(out.detail_),
                      "%zu records, at most %zu allowed", records, max_records);
        status = cdr_status::too_many_records;
        return status;
    }

    out.count_ = records;
    find_duplicates();
    return status;
}

cdr_status
parse_push(cdr_parser &parser, dialect which, const char *data, size_t len,
           const cdr_options &options, cdr_push &out) noexcept
{
    out.clear();
    out.dialect_ = which;
    out.types_ = options.types;

    if (options.max_body != 0 && len > options.max_body) {
        std::snprintf(out.detail_, sizeof(out.detail_),
                      "%zu bytes, at most %zu allowed", len, options.max_body);
        out.status_ = cdr_status::too_large;
        return out.status_;
    }

    if (len > UINT32_MAX - cdr_padding) {
        /* the key stack keeps 32-bit offsets */
        out.status_ = cdr_status::too_large;
        return out.status_;
    }

    if (!parser.reserve(len)) {
        out.status_ = cdr_status::no_memory;
        return out.status_;
    }

    if (data == nullptr) {
        data = "";
        len = 0;
    }

    cdr_walk w{out, *parser.state_, options, data, data, len};

    /* huawei: the envelope tells the type (run) */
    if (which == dialect::aliyun) {
        if (!push_types_valid(which, options.types)) {
            std::snprintf(out.detail_, sizeof(out.detail_),
                          "types 0x%x name no single Aliyun type",
                          static_cast<unsigned>(options.types));
            out.status_ = cdr_status::wrong_event_type;
            return out.status_;
        }
        w.use_shape(shape_of(
            which, static_cast<push_type>(__builtin_ctz(options.types))));
    }

    out.status_ = w.run();

    if (out.status_ != cdr_status::ok) {
        out.records_ = nullptr;
        out.count_ = 0;
        out.valid_ = 0;
        out.dups_ = 0;
    }

    return out.status_;
}

/* ------------------------------------------------------------------ */
/* keys and lines                                                      */

size_t
cdr_write_key(const cdr_push &push, size_t i, char *buf, size_t cap) noexcept
{
    if (i >= push.size() || push[i].key_len == 0 || cap < push[i].key_len) {
        return 0;
    }

    const cdr_record &r = push[i];
    const type_shape &shape = *shape_of(push.dialect(), push.type());
    key_write(shape, r, buf, r.key_encoded);
    return r.key_len;
}

namespace {

constexpr size_t
escaped_bound(std::string_view s) noexcept
{
    return s.size() * 6;
}

std::string_view
line_app(const cdr_record &r, const cdr_line_meta &meta) noexcept
{
    if (!meta.app.empty() || r.tenant.data() == nullptr) {
        return meta.app;
    }
    return r.tenant;
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
    size_t body = r.problem == cdr_problem::not_utf8
                      ? base64_encoded_length(r.raw.size()) + 2
                      : r.raw.size();

    return sizeof("{\"dialect\":\"\",\"type\":\"\",\"app\":\"\","
                  "\"key\":\"\",\"received\":\"\",\"error\":\"\","
                  "\"record_base64\":}")
           + 6 /* "huawei" */
           + type_names[static_cast<size_t>(push.type())].size()
           + escaped_bound(line_app(r, meta)) + r.key_len
           + escaped_bound(meta.received) + escaped_bound(r.reason) + body;
}

namespace {

/*
 * Writes record i's line into w up to where its record goes; true when
 * the record's own bytes go there as they came (the caller copies them
 * and closes the line), false when w got the whole line.
 */
bool
write_line(line_writer &w, const cdr_push &push, size_t i,
           const cdr_line_meta &meta) noexcept
{
    const cdr_record &r = push[i];
    std::string_view type = type_names[static_cast<size_t>(push.type())];

    w.put("{\"dialect\":\"");
    w.put(dialect_name(push.dialect()), 6);
    w.put("\",\"type\":\"");
    w.put(type.data(), type.size());
    w.put("\",\"app\":\"");
    w.escape(line_app(r, meta));
    w.put("\",\"key\":\"");
    if (static_cast<size_t>(w.end - w.p) >= r.key_len) {
        w.p += cdr_write_key(push, i, w.p, r.key_len);
    } else {
        w.ok = false;
    }
    w.put("\",\"received\":\"");
    w.escape(meta.received);
    if (!r.valid) {
        w.put("\",\"error\":\"");
        w.escape(r.reason);
    }

    if (r.problem == cdr_problem::not_utf8) {
        w.put("\",\"record_base64\":\"");
        size_t n = base64_encoded_length(r.raw.size());
        if (static_cast<size_t>(w.end - w.p) >= n) {
            w.p += base64_encode(
                reinterpret_cast<const unsigned char *>(r.raw.data()),
                r.raw.size(), w.p);
        } else {
            w.ok = false;
        }
        w.put("\"}");
        return false;
    }

    w.put("\",\"record\":");
    if (r.compact) {
        return true;
    }

    w.minify(r.raw);
    w.put('}');
    return false;
}

} // namespace

size_t
cdr_write_line(const cdr_push &push, size_t i, const cdr_line_meta &meta,
               char *buf, size_t cap) noexcept
{
    if (i >= push.size() || buf == nullptr) {
        return 0;
    }

    line_writer w{buf, buf + cap, true};

    if (write_line(w, push, i, meta)) {
        w.put(push[i].raw.data(), push[i].raw.size());
        w.put('}');
    }

    return w.ok ? static_cast<size_t>(w.p - buf) : 0;
}

size_t
cdr_write_line_pieces(const cdr_push &push, size_t i, const cdr_line_meta &meta,
                      char *buf, size_t cap, cdr_line_pieces *out) noexcept
{
    *out = cdr_line_pieces{};

    if (i >= push.size() || buf == nullptr) {
        return 0;
    }

    line_writer w{buf, buf + cap, true};
    bool copied = write_line(w, push, i, meta);

    if (!w.ok) {
        return 0;
    }

    size_t n = static_cast<size_t>(w.p - buf);

    out->piece[0] = std::string_view(buf, n);
    if (copied) {
        out->piece[1] = push[i].raw;
        out->piece[2] = "}";
    }

    return n;
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
