/*
 * Shared body of the two CDR fuzz harnesses: parse the input both with
 * and without an arena and check the invariants the glue relies on.  Any
 * broken invariant aborts, so libFuzzer reports it like a crash.
 *
 *   - both allocators give the same status, records, validity and keys;
 *   - every line is one line, is JSON, and its "record" equals (json_equal)
 *     the record jansson parsed: the raw-span scan agrees with jansson;
 *   - cdr_line_bound really bounds cdr_write_line;
 *   - dup_of points back to an earlier valid record with the same key.
 */
#ifndef PROVISION_X_FUZZ_CDR_FUZZ_CHECK_HPP
#define PROVISION_X_FUZZ_CDR_FUZZ_CHECK_HPP

#include "core/cdr.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace provision_x {
namespace fuzz {

inline void
check(bool ok)
{
    if (!ok) {
        std::abort();
    }
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

        check(r.valid == (r.problem == cdr_problem::none));
        check(r.valid || r.reason[0] != '\0');
        check(r.raw != nullptr); /* the span scan never disagrees */

        if (r.dup_of != cdr_no_dup) {
            check(r.dup_of < i && r.valid && p[r.dup_of].valid);
            check(r.key_view() == p[r.dup_of].key_view());
        }

        for (const cdr_line_meta &m : metas) {
            size_t bound = cdr_line_bound(p, i, m);
            std::unique_ptr<char[]> buf(new char[bound]);
            size_t n = cdr_write_line(p, i, m, buf.get(), bound);

            check(n > 0 && n <= bound);
            check(std::memchr(buf.get(), '\n', n) == nullptr);
            check(std::memchr(buf.get(), '\r', n) == nullptr);

            json_error_t err;
            json_t *line =
                json_loadb(buf.get(), n, JSON_REJECT_DUPLICATES, &err);
            check(line != nullptr);
            check(json_equal(json_object_get(line, "record"), r.rec));
            check(json_is_string(json_object_get(line, "key")));
            json_decref(line);
        }
    }
}

inline void
run(cdr_dialect dialect, const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past the body */
    std::unique_ptr<char[]> body(new char[size ? size : 1]);
    std::memcpy(body.get(), data, size);

    cdr_limits limits;
    limits.max_body = 512 * 1024;

    cdr_push plain;
    cdr_status s1 = parse_push(dialect, body.get(), size, limits, plain);

    /* an arena as the glue uses it: reused, reset per request, capped */
    static json_arena arena(json_arena_malloc_backend(), nullptr, 0,
                            json_arena::default_chunk_size, 64 * 1024 * 1024);
    cdr_push pooled;
    arena.reset();
    cdr_status s2 =
        parse_push(dialect, body.get(), size, limits, arena, pooled);

    check(cdr_status_message(s1, dialect) != nullptr);
    check(s1 == s2 || s2 == cdr_status::no_memory);
    check(s1 != cdr_status::ok || plain.size() > 0);

    if (s1 == s2) {
        check(plain.size() == pooled.size());
        check(plain.valid_count() == pooled.valid_count());
        check(plain.duplicate_count() == pooled.duplicate_count());
        for (size_t i = 0; i < plain.size(); i++) {
            check(plain[i].valid == pooled[i].valid);
            check(plain[i].key_view() == pooled[i].key_view());
            check(std::memcmp(plain[i].key_digest, pooled[i].key_digest,
                              cdr_key_digest_size) == 0);
            check(std::strcmp(plain[i].reason, pooled[i].reason) == 0);
        }
    }

    check_lines(plain);
    check_lines(pooled);

    /* reuse after clear must be clean too */
    pooled.clear();
    plain.clear();
}

} // namespace fuzz
} // namespace provision_x

#endif /* PROVISION_X_FUZZ_CDR_FUZZ_CHECK_HPP */
