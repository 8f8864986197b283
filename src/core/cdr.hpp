/*
 * Pushes of both dialects, CDRs (话单) and the platforms' other
 * callbacks: parse once, validate, key, and serialise one NDJSON line per
 * record for the consumers.  Each push has a type (push_type), which is
 * also the line's "type":
 *
 *   huawei  cdr         X模式话单通知接口 (spec §3.4):
 *                       {"eventType":"fee","feeLst":[...]}, 1..50 FeeInfo
 *                       objects (§3.4.1);
 *           callin, callout, alerting, answer, disconnect
 *                       X模式呼叫事件通知接口 in Notify mode (§3.3):
 *                       {"eventType":"<type>","statusInfo":{...}}, one
 *                       record, the statusInfo object;
 *           numStatus   X号码状态通知接口 (§3.5):
 *                       {"eventType":"numStatus","numInfo":[...]}, 1..100
 *                       entries, each a record;
 *           smsEvent    短信通知接口 in Notify mode (§3.6):
 *                       {"appKey":"...","smsEvent":{...}}, one record, the
 *                       smsEvent object.
 *   aliyun  cdr (SecretReport, §2.6.1), SecretStartReport,
 *           SecretRingReport, SecretRecording, NumberManagementReport
 *           (§2.6.2): the HTTP batch push, a JSON array of receipts.
 *
 * Which type a push is.  A Huawei location may receive several types (the
 * app's status URL gets call events and, unless a dedicated URL is
 * requested, number status, §3.1), so the caller names the set it
 * accepts (cdr_options::types) and the envelope's "eventType" picks one;
 * a body without "eventType" is smsEvent where that is accepted.  The
 * records' rules depend on the type and a JSON object's members come in
 * any order, so the envelope's members are read up to "eventType" first
 * (Huawei sends it first: one member) and the document is then walked
 * once from the start.  An Aliyun receipt says nothing of its type: the
 * platform pushes each type to the URL configured for it (§2.6), so an
 * Aliyun location accepts exactly one type (push_types_valid).  The
 * names keep their cdr_ prefix (the glue and the tools speak it): every
 * type shares the envelope walk, the record checks, the keys, the in-push
 * duplicate check and the lines, and differs only in a table of shapes.
 *
 * Everything here is noexcept and reports through enums: it runs on the
 * request path.  Nothing here knows about nginx.
 *
 * Decisions (spec §9 references in brackets):
 *
 * Parsing.  One pass of simdjson's On-Demand parser (libsimdjson-dev) that
 * visits every value of the body (after a Huawei envelope's members up to
 * "eventType", above): the structure and UTF-8 are validated by
 * simdjson, every string and key with an escape is decoded (escapes
 * checked), every number and literal is checked against RFC 8259's
 * grammar, and keys are compared per object.  Nothing is allocated per
 * value: simdjson works in a cdr_parser (one per worker, sized once for
 * the largest body), and a push keeps only its record table, its
 * duplicate table and the decoded copies of escaped key strings.  A body
 * followed by cdr_padding zero bytes (cdr_options::padded) is read in
 * place, any other is first copied into the parser.
 *
 * The push answers a status other than ok (the glue's 400) only when the
 * body cannot be split into records:
 *   too_large          body over cdr_options::max_body (checked first);
 *   not_json           syntax, trailing data, nesting deeper than 2048
 *                      values (jansson's limit), or invalid UTF-8 outside
 *                      the records of an otherwise good envelope;
 *   duplicate_key      a key repeated in an object outside the records
 *                      (the Huawei envelope): which "feeLst" is meant?
 *   not_an_object      huawei: root is not an object;
 *   wrong_event_type   huawei: "eventType" missing, not a string, or not
 *                      a type the location accepts (without it: no
 *                      smsEvent accepted); aliyun: cdr_options::types
 *                      names no single Aliyun type;
 *   not_an_array       huawei: "feeLst" / "numInfo" missing or not an
 *                      array; aliyun: root is not an array;
 *   no_records         an empty list; huawei: "statusInfo" / "smsEvent"
 *                      missing;
 *   too_many_records   more than the limit: Huawei feeLst 50 and numInfo
 *                      100 (documented maxima); Aliyun 1000 (undocumented
 *                      batch size; 1000 records of ~1 KB fit a 1 MB body
 *                      and a few ms of parsing inside the platform's
 *                      700 ms deadline);
 *   bad_app_key        smsEvent: the envelope's "appKey" missing, not a
 *                      string or not String(1-32) (§3.6): the record's
 *                      tenant cannot be told.
 * A "statusInfo" or "smsEvent" that is not an object is a record that is
 * not an object, as a list element would be.  Other envelope members are
 * checked as JSON only.
 * JSON errors outrank the shape errors: the whole body is validated before
 * the envelope is judged.
 *
 * Never a batch for one value (review F6).  These are RFC 8259 JSON, or
 * nearly, and cost at most the record that holds them:
 *   - integers beyond 64 bits and reals beyond double (2^70, 1e400) are
 *     valid JSON and are accepted; in a known integer field 2^70 is
 *     out_of_range and 1e400 wrong_type (not an integer), in the Aliyun
 *     number field "id" and in unknown fields they are kept as they are;
 *   - "\u0000" anywhere in a record makes that record invalid
 *     (contains_nul), because consumers in C would cut the string there;
 *     outside the records it is accepted;
 *   - a key repeated within any object of a record (nested ones too) makes
 *     that record invalid (duplicate_key);
 *   - bytes that are not UTF-8 inside a record make that record invalid
 *     (not_utf8).  simdjson refuses such a body as a whole, so the parser
 *     then replaces every offending byte of its own copy with '?', parses
 *     that, and marks the records whose bytes differ from the body's.  A
 *     replaced byte outside the records, or in a push whose envelope is
 *     refused anyway, is not_json.
 * Other syntax errors inside a record stay not_json: where such a record
 * ends cannot be known.  These relaxations are the only differences from
 * jansson with JSON_REJECT_DUPLICATES (fuzz/cdr_diff_fuzz.cpp checks it);
 * when a body has several refusable problems the status names one of them.
 *
 * Records.  A bad record does not fail the envelope; it is marked invalid
 * with a problem, the offending field's name and a reason sentence, and
 * the glue decides.  The problem reported is the first that applies in
 * this order: not_utf8, not_an_object, contains_nul, duplicate_key,
 * foreign_tenant, missing (the first required field in table order), the
 * first field problem in document order, wrong_value.  Rules (each type's
 * table: cdr_field_rules):
 *   - Required fields must be present, non-null, of the right type and
 *     within their documented length (in characters, i.e. UTF-8 code
 *     points).  Huawei cdr: spId(1-32) appKey(1-128) bindNum(1-32)
 *     sessionId(1-256) callerNum(1-32) calleeNum(1-32); call events:
 *     sessionId(1-256), the call link (§3.3.1); numInfo: number and
 *     status (§3.5 "yes"; not empty, as key parts); smsEvent:
 *     smsIdentifier(1-64).  Aliyun: call_id(1-100) (NumberManagementReport
 *     instead: secret_no, not empty, and status, an integer), and at
 *     least one of pool_key / partner_key non-empty (both are
 *     String(0-256) when present [I]).
 *   - Optional known fields are type-checked when present: a string where
 *     an integer belongs means a dialect mismatch, not a cosmetic issue.
 *     Integers must be JSON integers (1.0 and "1" are wrong types) that fit
 *     64 bits.  Only maximum lengths the spec states without [I] are
 *     enforced; the minimum of an optional string is relaxed to 0 (an
 *     empty optional field is as good as an absent one; §3.4.1 itself
 *     shows recordDomain (0-256)), except icid String(1-64), which is a
 *     key part.  recordFlag must be 0..1.  direction is an integer of any
 *     value.  Aliyun id is any JSON number; sub_id and its alias
 *     subs_id are integers (Long); SecretRecording's call_time is
 *     an integer (epoch milliseconds, §2.6.2).  The call events'
 *     timestamp and smsEvent's timeStamp are a string or an integer
 *     never refuse an event for its time's spelling].
 *   - callin's notifyMode and smsEvent's notificationMode, when present,
 *     must be "Notify" (wrong_value): in Block mode the platform waits
 *     for a control answer, which belongs to the call-control location;
 *     acknowledging it with an empty 200 would fail the call or the SMS
 *     without a word.  Other call events carry no mode rule (the CDR
 *     marks X mode with notifyMode "Block", §3.4.1).
 *   - null on an optional field is treated as absent; null on a required
 *     field is "missing".
 *   - Unknown fields are never validated beyond JSON and are kept.
 *   - Binding (review F2), when the caller asks for it: a Huawei record
 *     whose appKey (the record's for cdr, the envelope's for smsEvent) is
 *     not cdr_options::signer (the app whose secret signed the push), or
 *     an Aliyun record whose tenant (pool_key, or partner_key when
 *     pool_key is empty) is not in cdr_options::tenants, is
 *     foreign_tenant: one app's secret cannot write another app's
 *     records.  Huawei call events and numStatus carry no appKey: they are
 *     bound by the digest's scope only.
 *
 * Key (dedup).  A printable, unambiguous string whose components are
 * percent-encoded (every byte outside A-Z a-z 0-9 - . _ ~ @ : + becomes
 * %XX, so '/' only ever separates).  CDRs:
 *   huawei/<appKey>/<sessionId>/<direction>/<icid>     [§3.8, A-20, A-28]
 *   aliyun/pool_key/<pool_key>/<call_id>               [§2.10]
 *   aliyun/partner_key/<partner_key>/<call_id>  (when pool_key is empty)
 * An absent direction or icid is an empty component (icid cannot be
 * empty when present).  direction is part of the Huawei key, as A-20
 * recommends: a retry repeats it, and two legs of one call must not be
 * merged.  The Aliyun receipt "id" is not part of the key: whether a
 * retried push repeats it is undocumented, while call_id is the documented
 * unique call id.
 *
 * Events: "<dialect>.<type>", the tenant as for CDRs where the type has
 * one, then the type's components:
 *   huawei.<eventType>/<sessionId>/<timestamp>     callin .. disconnect
 *   huawei.numStatus/<number>/<status>/<cause>
 *   huawei.smsEvent/<appKey>/<smsIdentifier>/<event>/<timeStamp>
 *   aliyun.SecretStartReport/<kind>/<tenant>/<call_id>/<call_time>
 *   aliyun.SecretRingReport/<kind>/<tenant>/<call_id>/<ring_time>
 *   aliyun.SecretRecording/<kind>/<tenant>/<call_id>/<call_time>
 *   aliyun.NumberManagementReport/<kind>/<tenant>/<secret_no>/<status>/
 *       <operating_time>
 * A platform retry re-sends the push it failed to deliver, so every
 * field repeats; the components are the fields that tell one event from
 * another.  Call events: §3.8 keys them by (sessionId, eventType), the
 * call link being "the same value in every event of that call" (§3.3.1);
 * the event's timestamp is added because the spec does not exclude two
 * events of one type on one link (a second alerting), and merging two
 * events loses one, while a retry with a new timestamp (undocumented
 * either way) would only be delivered twice, which at-least-once
 * consumers bear anyway.  numStatus: §3.8's (number, status, cause): an
 * entry has no time and no id, so a number that returns to a status it
 * had is taken for a retry while the dedup entry lives (the "arrival
 * window" of §3.8 is the glue's TTL for this type).  smsEvent:
 * smsIdentifier is the message's id (a long SMS merged into one, §3.6),
 * event and timeStamp tell its notifications apart, appKey binds it as
 * for CDRs.  Aliyun: §2.10 keys receipts by tenant and call_id (unique
 * per call, at most 100 characters); the type keeps a call's start, ring and
 * recording apart (a location receives one type, but consumers and
 * dedup zones may be shared), and the event's own time is added as for
 * Huawei.  NumberManagementReport concerns a number, not a call:
 * secret_no, status and operating_time.  Integer components are written
 * in decimal as received (JSON integers have no leading zeros; -0 is
 * written 0).  No event key can equal a CDR key, whose first segment is
 * the bare dialect, and each type has a fixed number of components, so
 * keys of different types or contents never collide.
 *
 * The key is built whenever its own fields are fine, for logging, except
 * for not_utf8 records.  A record keeps the decoded key components and
 * the key's length; cdr_write_key renders it, so a push's memory never
 * exceeds the body's size for keys that percent-encoding would triple.
 *
 * key_digest = the first 16 bytes of SHA-256(key) for the shared-memory
 * dedup table, or, with a scope (e.g. the verified app, so entries are
 * bound to it), of SHA-256(le64(scope length) || scope || key): the scope
 * changes the digest, never the printable key.  Valid records of one push
 * that share a digest are flagged (dup_of, the first one's index), and
 * conflict is set when their bytes differ once insignificant whitespace is
 * removed [A-20: keep the first, log the conflict].  That is a byte
 * comparison, not JSON equality: another key order or number spelling
 * counts as a conflict, which only costs a log line.
 *
 * NDJSON line.  A wrapper, so the record itself stays exactly as received:
 *   {"dialect":"huawei","type":"cdr","app":"...","key":"...",
 *    "received":"...","record":{...}}
 * "type" is push_type_name(), on CDR lines too, so that one consumer
 * reading one queue tells CDRs and each event apart by one member (JSON
 * consumers of CDR lines are not disturbed by a new member);
 * plus "error":"<reason>" before "record" for an invalid record.  "record"
 * is the record's own bytes from the body with insignificant whitespace
 * removed: key order, escapes (\u4e2d stays \u4e2d) and number spellings
 * (1.50e3 stays 1.50e3) are byte-for-byte those of the platform.  A
 * not_utf8 record cannot be put into a JSON line as it is: its line has
 * "record_base64":"<Base64 of its raw bytes>" instead of "record" (the key
 * is then ""), so the dead-letter file keeps the bytes and stays UTF-8.
 * "app" is the caller's name for the application, or, when the caller
 * gives none, the record's tenant (Huawei appKey; Aliyun pool_key or
 * partner_key; "" for types without one).  "received" is whatever timestamp
 * string the caller passes.  All wrapper strings are JSON-escaped (invalid
 * UTF-8 becomes U+FFFD), so a line never contains a raw newline.  No newline is
 * appended: framing is the caller's.  The parser remembers whether a
 * record has insignificant whitespace, so the usual compact record is one
 * memcpy.
 *
 * Memory.  A cdr_parser holds what scales with the largest body, 9.35
 * bytes per byte of capacity: simdjson's indexes and string buffer (5.7),
 * a padded copy of the body (1) and the key stack of the duplicate check
 * (8 bytes per key, at most body/3 keys: 2.7).  It is allocated once; in
 * nginx, per worker at start-up.  A push takes, from its allocator: the
 * record table (64 records, then doubled up to max_records, so under
 * 2 x records x sizeof(cdr_record)), the table of the in-push duplicate
 * check (4 bytes x the power of two >= 2 x records), decoded copies of
 * escaped key strings (never more than their bytes in the body): under
 * twice the body plus the record tables.  An event key too long for the
 * stack (only events have key fields without a documented maximum) takes
 * a buffer of at most three times its components' bytes while it is
 * hashed, so a hostile event push may take five times its body.  A push borrows
 * the body: keep `data` alive and unchanged while the push (its raw spans and
 * key components) is in use.
 */
#ifndef PROVISION_X_CORE_CDR_HPP
#define PROVISION_X_CORE_CDR_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/dialect.hpp"

namespace provision_x {

/* What a push carries; its name is the line's "type". */
enum class push_type : uint8_t {
    cdr,           /* huawei fee (§3.4), aliyun SecretReport (§2.6.1) */
    callin,        /* huawei call events (§3.3), Notify mode */
    callout,       /*   "  */
    alerting,      /*   "  */
    answer,        /*   "  */
    disconnect,    /*   "  */
    num_status,    /* huawei numStatus (§3.5) */
    sms,           /* huawei smsEvent (§3.6), Notify mode */
    start_report,  /* aliyun SecretStartReport (§2.6.2) */
    ring_report,   /* aliyun SecretRingReport */
    recording,     /* aliyun SecretRecording */
    number_report, /* aliyun NumberManagementReport */
};

constexpr size_t push_type_count =
    static_cast<size_t>(push_type::number_report) + 1;

constexpr uint32_t
push_type_bit(push_type t)
{
    return uint32_t(1) << static_cast<unsigned>(t);
}

/*
 * "cdr", Huawei's eventType ("callin" .. "disconnect", "numStatus"),
 * "smsEvent", or Aliyun's message type ("SecretStartReport", ...).
 */
const char *push_type_name(push_type t) noexcept;

/* The type of dialect d called `name` (push_type_name); false if none. */
bool push_type_from_name(dialect d, std::string_view name,
                         push_type *t) noexcept;

/*
 * Whether a location of dialect d can accept the set `types` (bits of
 * push_type_bit): Huawei, a non-empty set of its types; Aliyun, exactly
 * one of its types (see the top of this file).
 */
bool push_types_valid(dialect d, uint32_t types) noexcept;

/*
 * The body of the dialect's acknowledgement (HTTP 200) of a push of type
 * t, handed off: Huawei CDRs "{}" (§3.4 defines none; an empty body or
 * {} [I], what the gateway has always sent), Huawei events "" (§3.3,
 * §3.6: "200 with an empty body"; §3.5 asks for a 200 only), Aliyun
 * {"code":0,"msg":"接收成功"} for every receipt of the HTTP batch push
 * (§2.6).
 */
std::string_view push_ack_body(dialect d, push_type t) noexcept;

enum class cdr_status : uint8_t {
    ok,
    too_large,        /* body over cdr_options::max_body */
    not_json,         /* syntax, trailing data, depth, UTF-8 outside records */
    duplicate_key,    /* a key repeated within one object outside records */
    not_an_object,    /* huawei: root is not an object */
    not_an_array,     /* huawei: record list missing/not array; aliyun: root */
    wrong_event_type, /* huawei: eventType not accepted; aliyun: no type */
    no_records,       /* empty list, or no statusInfo / smsEvent */
    too_many_records, /* list longer than the limit */
    bad_app_key,      /* smsEvent: the envelope's appKey */
    no_memory,        /* allocation failed: a server error, retryable */
};

/* Short token for logs, counters, $provision_x_reject_reason. */
const char *cdr_status_name(cdr_status s) noexcept;

/* One human-readable sentence for the 400 body of a CDR push. */
const char *cdr_status_message(cdr_status s, dialect d) noexcept;

constexpr size_t cdr_huawei_max_records = 50;
constexpr size_t cdr_huawei_max_numbers = 100; /* numInfo, §3.5 */
constexpr size_t cdr_aliyun_max_records = 1000;
constexpr size_t cdr_default_max_body = 1024 * 1024;

/* jansson's limit: a value nested deeper than this is not_json */
constexpr size_t cdr_max_depth = 2048;

/* bytes simdjson may read past the end of a body */
constexpr size_t cdr_padding = 64;

struct cdr_options {
    size_t max_body = cdr_default_max_body; /* bytes; 0 = no limit */

    /* of a list; 0 = the type's default above (statusInfo, smsEvent: 1) */
    size_t max_records = 0;

    /* the types this location receives (push_types_valid) */
    uint32_t types = push_type_bit(push_type::cdr);

    /*
     * The body is followed by cdr_padding zero bytes: it is parsed in
     * place instead of being copied into the parser first.  (Other bytes
     * there never make a broken body acceptable, but a '}' may change
     * which refusal it gets.)
     */
    bool padded = false;

    /* huawei: the app that signed the push; "" = records are not bound */
    std::string_view signer;

    /* aliyun: the tenants records may belong to; nullptr = any */
    const std::string_view *tenants = nullptr;
    size_t tenant_count = 0;

    /* mixed into every key digest (not the printable key); "" = none */
    std::string_view scope;
};

size_t cdr_max_records(dialect d, push_type t,
                       const cdr_options &options) noexcept;

enum class cdr_problem : uint8_t {
    none,
    not_utf8,       /* the record's bytes are not UTF-8 */
    not_an_object,  /* the list element is not an object */
    contains_nul,   /* a string or key of the record holds \u0000 */
    duplicate_key,  /* a key repeated within an object of the record */
    foreign_tenant, /* not the signer's appKey / not an allowed tenant */
    missing,        /* required field absent or null */
    wrong_type,
    too_short,
    too_long,
    out_of_range,
    wrong_value, /* a mode field that is not "Notify" */
};

/* Text for a record problem, e.g. "has the wrong type". */
const char *cdr_problem_message(cdr_problem p) noexcept;

/* the types that take a string first: one comparison tells them */
enum class cdr_field_type : uint8_t {
    string,
    string_or_integer, /* A-19's times */
    integer,
    number,
};

/* What a known field contributes to the tenant, the key or the checks. */
enum class cdr_field_role : uint8_t {
    none,
    app_key,     /* huawei tenant */
    pool_key,    /* aliyun tenant */
    partner_key, /* aliyun tenant when pool_key is empty */
    key1,        /* the key's components after the tenant, in order */
    key2,
    key3,
    mode, /* must be "Notify" where the type says so */
};

constexpr size_t cdr_key_components = 3;

struct cdr_field_rule {
    const char *name;
    cdr_field_type type;
    bool required;
    uint16_t min_len; /* characters (code points) */
    uint16_t max_len; /* 0 = unbounded */
    bool ranged;
    int64_t lo;
    int64_t hi;
    cdr_field_role role;
};

/*
 * The known fields of a type's records in dialect d, sorted by name: what
 * records are checked against (and what the differential fuzzer checks
 * them against); nullptr and 0 when d has no such type.
 */
const cdr_field_rule *cdr_field_rules(dialect d, push_type t,
                                      size_t *count) noexcept;

enum class cdr_tenant_kind : uint8_t { none, app_key, pool_key, partner_key };

constexpr size_t cdr_key_digest_size = 16;
constexpr size_t cdr_body_digest_size = 32;
constexpr uint32_t cdr_no_dup = UINT32_MAX;
constexpr size_t cdr_reason_size = 96;

/*
 * One record of a push.  Plain data living in the push's memory; the
 * views point into the body or into the push's memory.
 */
struct cdr_record {
    std::string_view raw;    /* its bytes in the body */
    std::string_view tenant; /* decoded; data() == nullptr when missing */

    /* key1..key3, decoded; data() == nullptr when absent */
    std::string_view key_parts[cdr_key_components];

    size_t key_len; /* printable key length; 0 = no key */
    unsigned char key_digest[cdr_key_digest_size];
    uint32_t dup_of; /* index of an earlier valid record, same digest */
    cdr_tenant_kind tenant_kind;
    bool valid;
    bool conflict;    /* same key as dup_of, different content */
    bool compact;     /* raw has no insignificant whitespace */
    bool key_encoded; /* a key component needed percent-encoding */
    cdr_problem problem;
    const char *field; /* static name of the offending field, or nullptr */
    char reason[cdr_reason_size]; /* "" when valid */
};

class cdr_parser;

/*
 * Where a push's memory comes from: alloc returns max_align_t-aligned
 * memory or nullptr, and the memory is reclaimed elsewhere (a pool).
 */
struct cdr_allocator {
    void *(*alloc)(void *ctx, size_t size) noexcept;
    void *ctx;
};

class cdr_push {
public:
    /* malloc'd memory, freed by clear() and the destructor */
    cdr_push() noexcept;

    /* memory from `pool`, never freed by the push */
    explicit cdr_push(cdr_allocator pool) noexcept;

    ~cdr_push();

    cdr_push(const cdr_push &) = delete;
    cdr_push &operator=(const cdr_push &) = delete;

    /* Drop the parse (and, without a pool, its memory). */
    void clear() noexcept;

    provision_x::dialect dialect() const noexcept
    {
        return dialect_;
    }

    /*
     * The type the push was read as: told when status() is ok or a
     * refusal after the type (not_an_array, no_records, too_many_records,
     * bad_app_key); cdr before a parse tells it.
     */
    push_type type() const noexcept
    {
        return type_;
    }

    /* the types the location accepted (cdr_options::types) */
    uint32_t types() const noexcept
    {
        return types_;
    }

    cdr_status status() const noexcept
    {
        return status_;
    }

    /* e.g. "offset 17: duplicate object key"; "" when ok */
    const char *detail() const noexcept
    {
        return detail_;
    }

    size_t size() const noexcept
    {
        return count_;
    }

    const cdr_record &operator[](size_t i) const noexcept
    {
        return records_[i];
    }

    const cdr_record *begin() const noexcept
    {
        return records_;
    }

    const cdr_record *end() const noexcept
    {
        return records_ + count_;
    }

    size_t valid_count() const noexcept
    {
        return valid_;
    }

    size_t invalid_count() const noexcept
    {
        return count_ - valid_;
    }

    /* valid records whose key repeats an earlier one in this push */
    size_t duplicate_count() const noexcept
    {
        return dups_;
    }

private:
    friend struct cdr_walk;
    friend cdr_status parse_push(cdr_parser &, provision_x::dialect,
                                 const char *, size_t, const cdr_options &,
                                 cdr_push &) noexcept;

    struct block;

    void *allocate(size_t size) noexcept;

    cdr_allocator pool_;
    block *blocks_; /* without a pool: what clear() frees */
    provision_x::dialect dialect_;
    push_type type_;
    uint32_t types_;
    cdr_status status_;
    cdr_record *records_;
    size_t count_;
    size_t valid_;
    size_t dups_;
    char detail_[160];
};

/*
 * What parsing needs beyond the push: simdjson's buffers, a padded copy of
 * the body and the key stack of the duplicate check, all sized for the
 * largest body.  Reuse one per thread (nginx: per worker); a parse
 * overwrites what the previous one left.
 */
class cdr_parser {
public:
    cdr_parser() noexcept;
    ~cdr_parser();

    cdr_parser(const cdr_parser &) = delete;
    cdr_parser &operator=(const cdr_parser &) = delete;

    /*
     * Room for bodies of up to `max_body` bytes; allocates only when the
     * capacity is smaller.  False when out of memory (the capacity is then
     * 0).
     */
    bool reserve(size_t max_body) noexcept;

    size_t capacity() const noexcept;

private:
    friend struct cdr_walk;
    friend cdr_status parse_push(cdr_parser &, provision_x::dialect,
                                 const char *, size_t, const cdr_options &,
                                 cdr_push &) noexcept;

    struct state;

    state *state_;
};

/*
 * Parse and validate one push into `out`; returns out.status().  A body
 * larger than the parser's capacity makes it reserve() first (an
 * allocation the nginx glue avoids by reserving at start-up); if that
 * fails, no_memory.
 */
cdr_status parse_push(cdr_parser &parser, dialect which, const char *data,
                      size_t len, const cdr_options &options,
                      cdr_push &out) noexcept;

/*
 * One human-readable sentence for the 400 body of a refused push, naming
 * the members of its type ("\"numInfo\" is empty"); never nullptr.
 */
const char *cdr_push_message(const cdr_push &push) noexcept;

/*
 * Write record i's printable key (exactly key_len bytes) into buf.
 * Returns key_len, or 0 when the record has no key, i is out of range or
 * cap is too small.
 */
size_t cdr_write_key(const cdr_push &push, size_t i, char *buf,
                     size_t cap) noexcept;

/* Caller-supplied parts of the NDJSON wrapper. */
struct cdr_line_meta {
    std::string_view app;      /* "" = the record's tenant */
    std::string_view received; /* e.g. "2026-11-28T12:00:00Z" */
};

/* Upper bound of cdr_write_line's output for record i. */
size_t cdr_line_bound(const cdr_push &push, size_t i,
                      const cdr_line_meta &meta) noexcept;

/*
 * Write record i's NDJSON line (no newline) into buf.  Returns the number
 * of bytes written, or 0 when cap is too small (cdr_line_bound is always
 * enough) or i is out of range.
 */
size_t cdr_write_line(const cdr_push &push, size_t i, const cdr_line_meta &meta,
                      char *buf, size_t cap) noexcept;

/*
 * Record i's line in up to three pieces, joined one after the other, so
 * that a sink which copies them (the queue) needs no line built first:
 * piece[0] is written into buf (the head of the line, or all of it when
 * the record's bytes cannot go as they came), piece[1] the record's own
 * bytes in the push, piece[2] the closing brace; unused pieces are empty.
 * Returns the bytes written into buf, or 0 as cdr_write_line does
 * (cdr_line_bound is always enough).
 */
struct cdr_line_pieces {
    std::string_view piece[3];

    size_t size() const noexcept
    {
        return piece[0].size() + piece[1].size() + piece[2].size();
    }

    /* the line joined at dst (size() bytes); returns its end */
    unsigned char *join(unsigned char *dst) const noexcept
    {
        for (std::string_view p : piece) {
            if (!p.empty()) {
                std::memcpy(dst, p.data(), p.size());
                dst += p.size();
            }
        }
        return dst;
    }
};

size_t cdr_write_line_pieces(const cdr_push &push, size_t i,
                             const cdr_line_meta &meta, char *buf, size_t cap,
                             cdr_line_pieces *out) noexcept;

/* Append record i's line to out; false on allocation failure. */
bool cdr_append_line(const cdr_push &push, size_t i, const cdr_line_meta &meta,
                     std::string &out) noexcept;

/*
 * SHA-256 of the raw body, so the glue can remember bodies it has fully
 * handed off and answer an identical retry with one hash instead of a
 * parse.  A signed push's body is bound to the app that signed it
 * (scope, "" when none): the same bytes from another app are another
 * push, so no app can make a push of another look like a retry.  False
 * only if OpenSSL fails.
 */
bool cdr_body_digest(std::string_view scope, std::string_view body,
                     unsigned char out[cdr_body_digest_size]) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_CDR_HPP */
