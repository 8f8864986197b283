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
 * Envelope.  The body is parsed by jansson with JSON_REJECT_DUPLICATES and
 * JSON_DECODE_ANY: invalid UTF-8, NUL escapes, trailing data, integers
 * beyond int64 and nesting beyond 2048 are not_json; a duplicated object
 * key anywhere is its own status, duplicate_key, because it is the one
 * "valid-looking" JSON that we refuse on purpose (which value would the
 * consumer see?) and an operator should be able to tell it apart.  The
 * body size is checked before parsing (too_large).  Huawei: root must be
 * an object (not_an_object), "eventType" must be the string "fee"
 * (wrong_event_type, also when absent), "feeLst" must be an array
 * (not_an_array, also when absent).  Aliyun: root must be an array
 * (not_an_array).  An empty list is no_records; more than the limit is
 * too_many_records.  Limits: Huawei 50 (documented maximum); Aliyun 1000
 * (undocumented batch size; 1000 records of ~1 KB still fit a 1 MB body
 * and a few ms of parsing inside the platform's 700 ms ack deadline).
 *
 * Records.  A bad record does not fail the envelope; it is marked invalid
 * with a reason "field \"x\": problem" and the glue decides.  Rules:
 *   - Required fields must be present, non-null, of the right type and
 *     within their documented length (in characters, i.e. UTF-8 code
 *     points).  Huawei: spId(1-32) appKey(1-128) bindNum(1-32)
 *     sessionId(1-256) callerNum(1-32) calleeNum(1-32).  Aliyun: call_id
 *     (1-100) and at least one of pool_key / partner_key non-empty (both
 *     are String(0-256) when present [I]).
 *   - Optional known fields are type-checked when present: a string where
 *     an integer belongs means a dialect mismatch, not a cosmetic issue.
 *     Integers must be JSON integers (1.0 and "1" are wrong types).  Only
 *     documented ([D]) maximum lengths are enforced; the minimum of an
 *     optional string is relaxed to 0 (an empty optional field is as good
 *     as an absent one; §3.4.1 itself shows recordDomain (0-256)), except
 *     icid String(1-64), which is a key part.  recordFlag must be 0..1.
 *     direction is an integer of any value.  Aliyun id is any JSON
 *     number; sub_id and its alias subs_id are integers (Long).
 *   - null on an optional field is treated as absent; null on a required
 *     field is "missing".
 *   - Unknown fields are never validated and are kept.
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
 * unique call id.  key_digest = the first 16 bytes of SHA-256(key), for
 * the shared-memory dedup table.  Records of one push that share a key are
 * flagged (dup_of), and conflict is set when their content differs
 * (json_equal) [A-20: keep the first, log the conflict].
 *
 * NDJSON line.  A wrapper, so the record itself stays exactly as received:
 *   {"dialect":"huawei","app":"...","key":"...","received":"...",
 *    "record":{...}}
 * plus "error":"<reason>" before "record" for an invalid record.  "record"
 * is the record's own bytes from the body with insignificant whitespace
 * removed: key order, escapes (\u4e2d stays \u4e2d) and number spellings
 * (1.50e3 stays 1.50e3) are byte-for-byte those of the platform, which a
 * jansson re-serialisation would not guarantee.  "app" is the caller's
 * name for the application, or, when the caller gives none, the record's
 * tenant (Huawei appKey; Aliyun pool_key or partner_key).  "received" is
 * whatever timestamp string the caller passes.  All wrapper strings are
 * JSON-escaped (invalid UTF-8 becomes U+FFFD), so a line never contains a
 * raw newline.  No newline is appended: framing is the caller's.
 *
 * Memory.  Parsing with a json_arena puts jansson's nodes, the record
 * views and the keys in the arena: no malloc per node, everything goes
 * with the arena (see json_arena.hpp, THE RULE).  Without an arena jansson
 * mallocs and the push json_decref's its root in clear()/destruction.
 * A push borrows the body: keep `data` alive and unchanged while the push
 * (its raw record spans) is in use.
 */
#ifndef PROVISION_X_CORE_CDR_HPP
#define PROVISION_X_CORE_CDR_HPP

#include "core/json_arena.hpp"

#include <cstddef>
#include <cstdint>
#include <jansson.h>
#include <string>
#include <string_view>

namespace provision_x {

enum class cdr_dialect : uint8_t { huawei, aliyun };

/* "huawei", "aliyun" */
const char *cdr_dialect_name(cdr_dialect d) noexcept;

enum class cdr_status : uint8_t {
    ok,
    too_large,        /* body over cdr_limits::max_body */
    not_json,         /* syntax, UTF-8, trailing data, overflow, depth */
    duplicate_key,    /* a key repeated within one object */
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
const char *cdr_status_message(cdr_status s, cdr_dialect d) noexcept;

constexpr size_t cdr_huawei_max_records = 50;
constexpr size_t cdr_aliyun_max_records = 1000;
constexpr size_t cdr_default_max_body = 1024 * 1024;

struct cdr_limits {
    size_t max_body = cdr_default_max_body; /* bytes; 0 = no limit */
    size_t max_records = 0; /* 0 = the dialect's default above */
};

size_t cdr_max_records(cdr_dialect d, const cdr_limits &limits) noexcept;

enum class cdr_problem : uint8_t {
    none,
    not_an_object, /* the list element is not an object */
    missing,       /* required field absent or null */
    wrong_type,
    too_short,
    too_long,
    out_of_range,
};

constexpr size_t cdr_key_digest_size = 16;
constexpr size_t cdr_body_digest_size = 32;
constexpr uint32_t cdr_no_dup = UINT32_MAX;
constexpr size_t cdr_reason_size = 96;

/*
 * One record of a push.  Plain data (it may live in an arena); pointers
 * point into the body, the jansson tree or the push's storage.
 */
struct cdr_record {
    json_t *rec;        /* the list element as parsed */
    const char *raw;    /* its bytes in the body */
    size_t raw_len;     /* (raw == nullptr only if the span scan failed) */
    const char *tenant; /* huawei appKey, aliyun pool_key/partner_key */
    size_t tenant_len;  /* (nullptr when missing) */
    const char *key;    /* printable key, not NUL-terminated */
    size_t key_len;     /* 0 when the key fields are missing or bad */
    unsigned char key_digest[cdr_key_digest_size];
    uint32_t dup_of; /* index of an earlier valid record, same key */
    bool valid;
    bool conflict; /* same key as dup_of, different content */
    cdr_problem problem;
    const char *field; /* static name of the offending field, or nullptr */
    char reason[cdr_reason_size]; /* "" when valid */

    std::string_view key_view() const noexcept
    {
        return std::string_view(key, key_len);
    }
};

class cdr_push {
public:
    cdr_push() noexcept;
    ~cdr_push();

    cdr_push(const cdr_push &) = delete;
    cdr_push &operator=(const cdr_push &) = delete;

    /* Drop the parse; arena-owned memory is dropped, never freed. */
    void clear() noexcept;

    cdr_dialect dialect() const noexcept
    {
        return dialect_;
    }

    cdr_status status() const noexcept
    {
        return status_;
    }

    /* e.g. "line 1, column 17: duplicate object key"; "" when ok */
    const char *detail() const noexcept
    {
        return detail_;
    }

    json_t *root() const noexcept
    {
        return root_;
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
    friend struct cdr_parser;

    cdr_dialect dialect_;
    cdr_status status_;
    bool root_owned_;
    json_t *root_;
    cdr_record *records_;
    size_t count_;
    size_t valid_;
    size_t dups_;
    json_arena local_; /* records and keys when no arena is given */
    char detail_[200];
};

/*
 * Parse and validate one push.  Returns out.status().  The first form uses
 * jansson's current allocator; the second parses inside a
 * json_arena_scope(arena) and keeps records and keys in the arena too: the
 * arena must outlive every use of `out`, and must not be reset before
 * out.clear() (or out's destruction, or the next parse into out).
 */
cdr_status parse_push(cdr_dialect dialect, const char *data, size_t len,
                      const cdr_limits &limits, cdr_push &out) noexcept;

cdr_status parse_push(cdr_dialect dialect, const char *data, size_t len,
                      const cdr_limits &limits, json_arena &arena,
                      cdr_push &out) noexcept;

/* Text for a record problem, e.g. "must be an integer". */
const char *cdr_problem_message(cdr_problem p) noexcept;

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
