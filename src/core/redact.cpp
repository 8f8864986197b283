/*
 * Log redaction (redact.hpp says what is masked and why).
 */
#include "core/redact.hpp"

#include <cstring>

#include "core/bytes16.hpp"

namespace provision_x {

namespace {

constexpr size_t mask_len = sizeof(redact_mask) - 1;

char
lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool
blank(char c) noexcept
{
    return c == ' ' || c == '\t';
}

/* Does in[at..) start with word (lower case), in any case? */
bool
starts(const char *in, size_t len, size_t at, const char *word) noexcept
{
    size_t n = std::strlen(word);

    if (len - at < n) {
        return false;
    }

    for (size_t i = 0; i < n; i++) {
        if (lower(in[at + i]) != word[i]) {
            return false;
        }
    }

    return true;
}

size_t
skip_blanks(const char *in, size_t len, size_t at) noexcept
{
    while (at < len && blank(in[at])) {
        at++;
    }

    return at;
}

/* The bytes that end an unquoted value. */
constexpr byte_set<'&', '"', ',', ';', '\n', '\r', ' ', '\t'> value_ends;

/* The bytes a parameter name follows. */
constexpr byte_set<'?', '&', ';', '"', ' ', '\t'> param_delimiters;

/* Where the unquoted value that starts at p ends: 16 bytes at a time. */
size_t
unquoted_value_end(const char *in, size_t len, size_t p) noexcept
{
    for (; p + sizeof(bytes16) <= len; p += sizeof(bytes16)) {
        size_t i = lanes16(value_ends.lanes_in(load16(in + p))).first();

        if (i < sizeof(bytes16)) {
            return p + i;
        }
    }

    while (p < len && !value_ends(in[p])) {
        p++;
    }

    return p;
}

int
hex(char c) noexcept
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c = lower(c);

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/*
 * Where the '=' after a parameter name starting at `at` that decodes to
 * "signature" (any case) is, or 0.  Walked and compared at once: a plain
 * byte decodes to itself, so the first one that differs (secretNo), or
 * anything but '=' after the ninth letter (signatureMethod), settles it.
 */
size_t
signature_name_end(const char *in, size_t len, size_t at) noexcept
{
    static const char want[] = "signature";
    size_t p = at;

    for (size_t k = 0; k < sizeof(want) - 1; k++, p++) {
        if (p == len) {
            return 0;
        }

        char c = in[p];

        if (c == '%' && p + 2 < len && hex(in[p + 1]) >= 0
            && hex(in[p + 2]) >= 0) {
            c = static_cast<char>(hex(in[p + 1]) * 16 + hex(in[p + 2]));
            p += 2;
        }

        if (lower(c) != want[k]) {
            return 0;
        }
    }

    return (p < len && in[p] == '=') ? p : 0;
}

bool
param_start(const char *in, size_t at) noexcept
{
    return at == 0 || param_delimiters(in[at - 1]);
}

/*
 * Can a credential start at `at`?  "X-", "Au", "Pa" (X-AKSK/X-WSSE,
 * Authorization, PasswordDigest), or a parameter whose name may decode to
 * "signature".
 */
inline bool
may_start(const char *in, size_t len, size_t at) noexcept
{
    char next = (at + 1 < len) ? lower(in[at + 1]) : '\0';

    switch (lower(in[at])) {
    case 'x':
        return next == '-';
    case 'a':
        return next == 'u';
    case 'p':
        return next == 'a';
    case 's':
    case '%':
        return param_start(in, at);
    default:
        return false;
    }
}

constexpr size_t block = sizeof(bytes16);

/*
 * Where in in[at..at+16) a credential may start.  Needs in[at - 1] and
 * in[at + 16].  This is may_start's test on sixteen positions at once, on
 * pairs of bytes: a query's names and values are full of the single
 * letters a credential starts with, its pairs rarely.  With bit 0x20 set
 * a few other bytes pass too ("x\r" looks like "x-"), which may_start
 * then passes over.
 */
lanes16
block_may_start(const char *in, size_t at) noexcept
{
    bytes16 prev = load16(in + at - 1);
    bytes16 cur = load16(in + at) | 0x20;
    bytes16 next = load16(in + at + 1) | 0x20;

    bytes16 after_delimiter = param_delimiters.lanes_in(prev);
    auto hit = ((cur == 'x') & (next == '-')) | ((cur == 'a') & (next == 'u'))
               | ((cur == 'p') & (next == 'a'))
               | (after_delimiter & ((cur == 's') | (cur == '%')));

    return lanes16(reinterpret_cast<bytes16>(hit));
}

/* The first position from `at` where a credential may start, or len. */
size_t
next_candidate(const char *in, size_t len, size_t at) noexcept
{
    /* the block test needs the byte before the block */
    if (at == 0) {
        if (len == 0 || may_start(in, len, 0)) {
            return 0;
        }

        at = 1;
    }

    for (; at + block < len; at += block) {
        lanes16 hits = block_may_start(in, at);

        for (size_t i = hits.first(); i < block; i = hits.first()) {
            if (may_start(in, len, at + i)) {
                return at + i;
            }

            hits.clear(i);
        }
    }

    /* the last sixteen, one by one */
    for (; at < len; at++) {
        if (may_start(in, len, at)) {
            return at;
        }
    }

    return len;
}

/*
 * Where the credential that starts at `at` has its value: [*from, *to),
 * or false when no credential starts here.
 */
bool
credential(const char *in, size_t len, size_t at, size_t *from,
           size_t *to) noexcept
{
    char c = lower(in[at]);
    size_t p;

    if (c == 'x'
        && (starts(in, len, at, "x-aksk") || starts(in, len, at, "x-wsse")))
    {
        p = skip_blanks(in, len, at + 6);
        if (p == len || in[p] != ':') {
            return false;
        }

        /* the whole header value: its attributes have many spellings */
        *from = skip_blanks(in, len, p + 1);
        *to = *from;

        while (*to < len && in[*to] != '\n') {
            ++*to;
        }

        return true;
    }

    if (c == 'a' && starts(in, len, at, "authorization")) {
        p = skip_blanks(in, len, at + 13);
        if (p == len || in[p] != ':') {
            return false;
        }

        p = skip_blanks(in, len, p + 1);
        if (!starts(in, len, p, "bearer") || p + 6 == len || !blank(in[p + 6]))
        {
            return false;
        }

        p = skip_blanks(in, len, p + 6);

    } else if (c == 'p' && starts(in, len, at, "passworddigest")) {
        p = skip_blanks(in, len, at + 14);
        if (p == len || in[p] != '=') {
            return false;
        }

        p = skip_blanks(in, len, p + 1);

    } else if (param_start(in, at)) {
        p = signature_name_end(in, len, at);

        if (p == 0) {
            return false;
        }

        p++;

    } else {
        return false;
    }

    if (p < len && in[p] == '"') {
        *from = p + 1;
        *to = *from;

        while (*to < len && in[*to] != '"' && in[*to] != '\n') {
            ++*to;
        }

        return true;
    }

    *from = p;
    *to = unquoted_value_end(in, len, p);

    return true;
}

/* Values found but not reached yet, in a line being written out. */
class pending_values {
public:
    /* false when full: the caller masks to the end of the line */
    bool add(size_t from, size_t to) noexcept
    {
        if (n_ == capacity) {
            return false;
        }

        ranges_[n_].from = from;
        ranges_[n_].to = to;
        n_++;

        return true;
    }

    /* where the first of the values starts, or limit when that is sooner */
    size_t first_start(size_t limit) const noexcept
    {
        for (size_t i = 0; i < n_; i++) {
            if (ranges_[i].from < limit) {
                limit = ranges_[i].from;
            }
        }

        return limit;
    }

    /* the end of the masked stretch that covers position p, or end */
    size_t reach(size_t p, size_t end) noexcept
    {
        size_t i = 0;

        if (n_ == 0) {
            return end;
        }

        while (i < n_) {
            if (ranges_[i].from > p) {
                i++;
                continue;
            }

            if (ranges_[i].to > end) {
                end = ranges_[i].to;
            }

            ranges_[i] = ranges_[--n_];
        }

        return end;
    }

private:
    static constexpr size_t capacity = 16;

    struct range {
        size_t from, to;
    } ranges_[capacity];
    size_t n_ = 0;
};

size_t
line_end(const char *in, size_t len, size_t p) noexcept
{
    while (p < len && in[p] != '\n') {
        p++;
    }

    return p;
}

} // namespace

/*
 * What is masked changes only where a credential may start (may_start) or
 * where a value found starts or ends: between those positions the line is
 * copied, or counted as masked, at once.  Positions inside a masked
 * stretch are looked at too: a quoted value can end at the quote that
 * opens the next one, which must be masked as well.  Each masked stretch
 * becomes one mask.
 */
size_t
redact(const char *in, size_t len, char *out) noexcept
{
    pending_values pending;
    size_t n = 0;
    size_t masked_to = 0; /* positions before it are masked */
    size_t run = 0;       /* length of the current masked stretch */
    size_t p = 0;

    while (p < len) {
        size_t from, to;

        if (may_start(in, len, p) && credential(in, len, p, &from, &to)
            && from != to && !pending.add(from, to))
        {
            masked_to = line_end(in, len, from);
        }

        masked_to = pending.reach(p, masked_to);

        size_t next = pending.first_start(next_candidate(in, len, p + 1));

        if (p < masked_to) {
            next = (next < masked_to) ? next : masked_to;
            run += next - p;
            p = next;
            continue;
        }

        if (run != 0) {
            size_t m = (run < mask_len) ? run : mask_len;
            std::memset(out + n, '.', m);
            n += m;
            run = 0;
        }

        std::memcpy(out + n, in + p, next - p);
        n += next - p;
        p = next;
    }

    if (run != 0) {
        size_t m = (run < mask_len) ? run : mask_len;
        std::memset(out + n, '.', m);
        n += m;
    }

    return n;
}

} // namespace provision_x
