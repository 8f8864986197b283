/*
 * Shared body of the push fuzz harnesses (CDRs and events): parse the
 * input three ways
 * (malloc'd push, pool push, body padded and parsed in place) and check
 * the invariants the glue relies on.  Any broken invariant aborts, so
 * libFuzzer reports it like a crash.
 *
 *   - the parses give the same status, records, validity, keys and
 *     digests (with '}' as padding: the same acceptance), and the padded
 *     body is never written;
 *   - every line is one line of UTF-8 JSON; its "record" equals (jansson's
 *     json_equal) the record's raw bytes, or its "record_base64" decodes
 *     to them for a not_utf8 record;
 *   - cdr_line_bound really bounds cdr_write_line, cdr_write_key writes
 *     key_len bytes of the key alphabet;
 *   - dup_of points back to an earlier valid record with the same key.
 * fuzz/cdr_diff_fuzz.cpp compares the verdicts with jansson's.
 */
#ifndef PROVISION_X_FUZZ_CDR_FUZZ_CHECK_HPP
#define PROVISION_X_FUZZ_CDR_FUZZ_CHECK_HPP

#include "core/cdr.hpp"
#include "core/encoding.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <jansson.h>
#include <memory>
#include <string>
#include <vector>

namespace provision_x {
namespace fuzz {

/* CHECK(condition): abort, naming the condition, when it does not hold */
#define CHECK(c) provision_x::fuzz::check((c), #c, __LINE__)

inline void
check(bool ok, const char *what, int line)
{
    if (!ok) {
        std::fprintf(stderr, "cdr_fuzz_check.hpp:%d: %s\n", line, what);
        std::abort();
    }
}

/* A request pool's stand-in: blocks freed all at once. */
struct pool {
    std::vector<std::unique_ptr<char[]>> blocks;

    static void *alloc(void *ctx, size_t size) noexcept
    {
        try {
            auto *p = static_cast<pool *>(ctx);
            p->blocks.emplace_back(new char[size ? size : 1]);
            return p->blocks.back().get();
        } catch (...) {
            return nullptr;
        }
    }
};

inline cdr_parser &
shared_parser()
{
    static cdr_parser parser;
    return parser;
}

inline std::string
key_of(const cdr_push &p, size_t i)
{
    std::string k(p[i].key_len, '\0');
    CHECK(cdr_write_key(p, i, &k[0], k.size()) == p[i].key_len);
    return k;
}

inline void
check_lines(const cdr_push &p)
{
    static const cdr_line_meta metas[] = {
        {"", ""},
        {"a\"\\\n\xff\xe4\xb8\xad", "2026-11-28T12:00:00Z"},
    };

    for (size_t i = 0; i < p.size(); i++) {
        const cdr_record &r = p[i];
        bool decodable = r.problem != cdr_problem::not_utf8;

        CHECK(r.valid == (r.problem == cdr_problem::none));
        CHECK(r.valid || r.reason[0] != '\0');
        CHECK(r.raw.data() != nullptr && !r.raw.empty());
        CHECK(is_utf8(r.raw) == decodable);

        std::string k = key_of(p, i);
        for (char c : k) {
            CHECK(c > ' ' && c < 0x7F && c != '"' && c != '\\');
        }

        if (r.dup_of != cdr_no_dup) {
            CHECK(r.dup_of < i && r.valid && p[r.dup_of].valid);
            CHECK(k == key_of(p, r.dup_of));
        }

        json_error_t rec_err{};
        json_t *rec = nullptr;
        if (decodable) {
            rec = json_loadb(r.raw.data(), r.raw.size(),
                             JSON_DECODE_ANY | JSON_ALLOW_NUL, &rec_err);
        }

        for (const cdr_line_meta &m : metas) {
            size_t bound = cdr_line_bound(p, i, m);
            std::unique_ptr<char[]> buf(new char[bound]);
            size_t n = cdr_write_line(p, i, m, buf.get(), bound);

            CHECK(n > 0 && n <= bound);

            /* the queue's pieces join into the same line */
            std::unique_ptr<char[]> head(new char[bound]);
            cdr_line_pieces pieces;
            CHECK(cdr_write_line_pieces(p, i, m, head.get(), bound, &pieces)
                  > 0);
            std::string joined(pieces.size(), '\0');
            pieces.join(reinterpret_cast<unsigned char *>(&joined[0]));
            CHECK(joined == std::string_view(buf.get(), n));

            CHECK(std::memchr(buf.get(), '\n', n) == nullptr);
            CHECK(std::memchr(buf.get(), '\r', n) == nullptr);
            CHECK(is_utf8(std::string_view(buf.get(), n)));

            json_error_t err{};
            json_t *line = json_loadb(buf.get(), n, JSON_ALLOW_NUL, &err);
            if (line == nullptr) {
                /*
                 * What jansson cannot hold (a number beyond its types, a
                 * NUL in a key) is in the record itself, which then fails
                 * alike; the differential harness covers those records.
                 */
                CHECK(rec == nullptr
                      && json_error_code(&err) == json_error_code(&rec_err));
                CHECK(json_error_code(&err) == json_error_numeric_overflow
                      || json_error_code(&err) == json_error_null_byte_in_key);
                continue;
            }
            CHECK(json_is_string(json_object_get(line, "key")));
            CHECK(std::strcmp(json_string_value(json_object_get(line, "type")),
                              push_type_name(p.type()))
                  == 0);
            if (decodable) {
                CHECK(rec == nullptr
                      || json_equal(json_object_get(line, "record"), rec));
            } else {
                std::string back;
                CHECK(base64_decode(json_string_value(
                                        json_object_get(line, "record_base64")),
                                    back)
                      == codec_error::ok);
                CHECK(back == r.raw);
            }
            json_decref(line);
        }
        json_decref(rec);
    }
}

inline void
same(const cdr_push &a, const cdr_push &b)
{
    CHECK(a.status() == b.status());
    CHECK(a.size() == b.size());
    CHECK(a.status() != cdr_status::ok || a.type() == b.type());
    CHECK(a.valid_count() == b.valid_count());
    CHECK(a.duplicate_count() == b.duplicate_count());

    for (size_t i = 0; i < a.size(); i++) {
        CHECK(a[i].valid == b[i].valid);
        CHECK(a[i].problem == b[i].problem);
        CHECK(a[i].raw == b[i].raw);
        CHECK(a[i].compact == b[i].compact);
        CHECK(key_of(a, i) == key_of(b, i));
        CHECK(std::memcmp(a[i].key_digest, b[i].key_digest, cdr_key_digest_size)
              == 0);
        CHECK(std::strcmp(a[i].reason, b[i].reason) == 0);
    }
}

/* types: what the location accepts (cdr_options::types) */
inline void
run(dialect which, const uint8_t *data, size_t size,
    uint32_t types = push_type_bit(push_type::cdr))
{
    /* an exact-size copy, so ASan sees any read past the body */
    std::unique_ptr<char[]> body(new char[size ? size : 1]);
    std::memcpy(body.get(), data, size);

    cdr_options options;
    options.max_body = 512 * 1024;
    options.types = types;

    cdr_push plain;
    parse_push(shared_parser(), which, body.get(), size, options, plain);

    CHECK(cdr_status_message(plain.status(), which) != nullptr);
    CHECK(cdr_push_message(plain) != nullptr);
    CHECK(plain.status() != cdr_status::ok || plain.size() > 0);
    CHECK(plain.status() != cdr_status::ok
          || (types & push_type_bit(plain.type())) != 0);

    /* as the glue does it: pool memory, the body followed by zeros */
    pool mem;
    cdr_push pooled(cdr_allocator{pool::alloc, &mem});
    std::vector<char> padded(size + cdr_padding, '\0');
    std::memcpy(padded.data(), data, size);
    cdr_options in_place = options;
    in_place.padded = true;
    parse_push(shared_parser(), which, padded.data(), size, in_place, pooled);

    CHECK(std::memcmp(padded.data(), data, size) == 0);
    same(plain, pooled);
    check_lines(plain);

    /*
     * Padding that looks like JSON ('}' closes what an unclosed body left
     * open) may change which refusal a broken body gets, never whether
     * the body is accepted, nor what is accepted.
     */
    std::memset(padded.data() + size, '}', cdr_padding);
    pooled.clear();
    parse_push(shared_parser(), which, padded.data(), size, in_place, pooled);
    if (plain.status() == cdr_status::ok || pooled.status() == cdr_status::ok) {
        same(plain, pooled);
    }

    /* reuse after clear must be clean too */
    pooled.clear();
    plain.clear();
}

} // namespace fuzz
} // namespace provision_x

#endif /* PROVISION_X_FUZZ_CDR_FUZZ_CHECK_HPP */
