/*
 * CDR (话单) push envelopes of both dialects: parse once, validate, key,
 * and serialise one NDJSON line per record for the consumers.
 *
 *   huawei  X模式话单通知接口 (spec §3.4):
 *           {"eventType":"fee","feeLst":[...]}
 *           with 1..50 FeeInfo objects (§3.4.1).
 *   aliyun  SecretReport HTTP batch push (spec §2.6, §2.6.1): a JSON array
 *           of receipt objects.
 *
 * Everything here is noexcept and reports through enums: it runs on the
 * request path.  Nothing here knows about nginx.
 *
 * Decisions (spec §9 references in brackets):
 *
 * Parsing.  One pass of simdjson's On-Demand parser (libsimdjson-dev) that
 * visits every value of the body: the structure and UTF-8 are validated by
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
 *   wrong_event_type   huawei: "eventType" missing or not the string "fee";
 *   not_an_array       huawei: "feeLst" missing or not an array; aliyun:
 *                      root is not an array;
 *   no_records         an empty list;
 *   too_many_records   more than the limit: Huawei 50 (documented
 *                      maximum); Aliyun 1000 (undocumented batch size;
 *                      1000 records of ~1 KB fit a 1 MB body and a few ms
 *                      of parsing inside the platform's 700 ms deadline).
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
 * first field problem in document order.  Rules:
 *   - Required fields must be present, non-null, of the right type and
 *     within their documented length (in characters, i.e. UTF-8 code
 *     points).  Huawei: spId(1-32) appKey(1-128) bindNum(1-32)
 *     sessionId(1-256) callerNum(1-32) calleeNum(1-32).  Aliyun: call_id
 *     (1-100) and at least one of pool_key / partner_key non-empty (both
 *     are String(0-256) when present [I]).
 *   - Optional known fields are type-checked when present: a string where
 *     an integer belongs means a dialect mismatch, not a cosmetic issue.
 *     Integers must be JSON integers (1.0 and "1" are wrong types) that fit
 *     64 bits.  Only documented ([D]) maximum lengths are enforced; the
 *     minimum of an optional string is relaxed to 0 (an empty optional
 *     field is as good as an absent one; §3.4.1 itself shows recordDomain
 *     (0-256)), except icid String(1-64), which is a key part.  recordFlag
 *     must be 0..1.  direction is an integer of any value.  Aliyun
 *     id is any JSON number; sub_id and its alias subs_id are
 *     integers (Long).
 *   - null on an optional field is treated as absent; null on a required
 *     field is "missing".
 *   - Unknown fields are never validated beyond JSON and are kept.
 *   - Binding (review F2), when the caller asks for it: a Huawei record
 *     whose appKey is not cdr_options::signer (the app whose secret signed
 *     the push), or an Aliyun record whose tenant (pool_key, or
 *     partner_key when pool_key is empty) is not in cdr_options::tenants,
 *     is foreign_tenant: one app's secret cannot write another app's CDRs.
 *
 * Key (dedup).  A printable, unambiguous string whose components are
 * percent-encoded (every byte outside A-Z a-z 0-9 - . _ ~ @ : + becomes
 * %XX, so '/' only ever separates):
 *   huawei/<appKey>/<sessionId>/<direction>/<icid>     [§3.8, A-20, A-28]
 *   aliyun/pool_key/<pool_key>/<call_id>               [§2.10]
 *   aliyun/partner_key/<partner_key>/<call_id>  (when pool_key is empty)
 * An absent direction or icid is an empty component (icid cannot be
 * empty when present).  direction is part of the Huawei key, as A-20
 * recommends: a retry repeats it, and two legs of one call must not be
 * merged.  The Aliyun receipt "id" is not part of the key: whether a
 * retried push repeats it is undocumented, while call_id is the documented
 * unique call id.  The key is built whenever its own fields are fine, for
 * logging, except for not_utf8 records.  A record keeps the decoded key
 * components and the key's length; cdr_write_key renders it, so a push's
 * memory never exceeds the body's size for keys that percent-encoding
 * would triple.
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
 *   {"dialect":"huawei","app":"...","key":"...","received":"...",
 *    "record":{...}}
 * plus "error":"<reason>" before "record" for an invalid record.  "record"
 * is the record's own bytes from the body with insignificant whitespace
 * removed: key order, escapes (\u4e2d stays \u4e2d) and number spellings
 * (1.50e3 stays 1.50e3) are byte-for-byte those of the platform.  A
 * not_utf8 record cannot be put into a JSON line as it is: its line has
 * "record_base64":"<Base64 of its raw bytes>" instead of "record" (the key
 * is then ""), so the dead-letter file keeps the bytes and stays UTF-8.
 * "app" is the caller's name for the application, or, when the caller
 * gives none, the record's tenant (Huawei appKey; Aliyun pool_key or
 * partner_key).  "received" is whatever timestamp string the caller
 * passes.  All wrapper strings are JSON-escaped (invalid UTF-8 becomes
 * U+FFFD), so a line never contains a raw newline.  No newline is
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
 * check (4 bytes x the power of two >= 2 x records) and decoded copies of
 * escaped key strings (never more than their bytes in the body): under
 * twice the body plus the record tables.  A push borrows the body: keep
 * `data` alive and unchanged while the push (its raw spans and key
 * components) is in use.
 */
#ifndef PROVISION_X_CORE_CDR_HPP
#define PROVISION_X_CORE_CDR_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/dialect.hpp"

namespace provision_x {

enum class cdr_status : uint8_t {
    ok,
    too_large,        /* body over cdr_options::max_body */
    not_json,         /* syntax, trailing data, depth, UTF-8 outside records */
    duplicate_key,    /* a key repeated within one object outside records */
    not_an_object,    /* huawei: root is not an object */
    not_an_array,     /* huawei: feeLst missing/not array; aliyun: root */
    wrong_event_type, /* huawei: eventType missing or not "fee" */
    no_records,       /* empty list */
    too_many_records, /* list longer than the limit */
    no_memory,        /* allocation failed: a server error, retryable */
};

/* Short token for logs, counters, $provision_x_reject_reason. */
const char *cdr_status_name(cdr_status s) noexcept;

/* One human-readable sentence for the 400 body; never nullptr. */
const char *cdr_status_message(cdr_status s, dialect d) noexcept;

constexpr size_t cdr_huawei_max_records = 50;
constexpr size_t cdr_aliyun_max_records = 1000;
constexpr size_t cdr_default_max_body = 1024 * 1024;

/* jansson's limit: a value nested deeper than this is not_json */
constexpr size_t cdr_max_depth = 2048;

/* bytes simdjson may read past the end of a body */
constexpr size_t cdr_padding = 64;

struct cdr_options {
    size_t max_body = cdr_default_max_body; /* bytes; 0 = no limit */
    size_t max_records = 0; /* 0 = the dialect's default above */

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

size_t cdr_max_records(dialect d, const cdr_options &options) noexcept;

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
};

/* Text for a record problem, e.g. "has the wrong type". */
const char *cdr_problem_message(cdr_problem p) noexcept;

enum class cdr_field_type : uint8_t { string, integer, number };

/* What a known field contributes to the key and the tenant. */
enum class cdr_key_part : uint8_t {
    none,
    app_key,     /* huawei tenant */
    id,          /* huawei sessionId, aliyun call_id */
    icid,        /* huawei */
    direction,   /* huawei */
    pool_key,    /* aliyun tenant */
    partner_key, /* aliyun tenant when pool_key is empty */
};

struct cdr_field_rule {
    const char *name;
    cdr_field_type type;
    bool required;
    uint16_t min_len; /* characters (code points) */
    uint16_t max_len; /* 0 = unbounded */
    bool ranged;
    int64_t lo;
    int64_t hi;
    cdr_key_part part;
};

/*
 * The dialect's known fields, sorted by name: what records are checked
 * against (and what the differential fuzzer checks them against).
 */
const cdr_field_rule *cdr_field_rules(dialect d, size_t *count) noexcept;

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
    std::string_view id;     /* huawei sessionId, aliyun call_id */
    std::string_view icid;   /* huawei icid; data() == nullptr when absent */
    int64_t direction;       /* huawei, when has_direction */
    size_t key_len;          /* printable key length; 0 = no key */
    unsigned char key_digest[cdr_key_digest_size];
    uint32_t dup_of; /* index of an earlier valid record, same digest */
    cdr_tenant_kind tenant_kind;
    bool has_direction;
    bool valid;
    bool conflict; /* same key as dup_of, different content */
    bool compact;  /* raw has no insignificant whitespace */
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
    friend cdr_status parse_push(cdr_parser &, dialect, const char *, size_t,
                                 const cdr_options &, cdr_push &) noexcept;

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

/* Append record i's line to out; false on allocation failure. */
bool cdr_append_line(const cdr_push &push, size_t i, const cdr_line_meta &meta,
                     std::string &out) noexcept;

/*
 * SHA-256 of the raw body, so the glue can remember bodies it has fully
 * handed off and answer an identical retry with one hash instead of a
 * parse.  False only if OpenSSL fails.
 */
bool cdr_body_digest(const char *data, size_t len,
                     unsigned char out[cdr_body_digest_size]) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_CDR_HPP */
