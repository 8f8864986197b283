/*
 * Log redaction (redact.hpp says what is masked and why).
 */
#include "core/redact.hpp"

#include <cstdint>
#include <cstring>

namespace provision_x {

namespace {

constexpr size_t mask_len = sizeof(redact_mask) - 1;
constexpr size_t max_name = 32; /* "signature" percent-encoded is 27 */

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

bool
value_end(char c) noexcept
{
    return c == '&' || c == '"' || c == ',' || c == ';' || c == '\n'
           || c == '\r' || blank(c);
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

/* Is in[from..to) a parameter name that decodes to "signature"? */
bool
signature_name(const char *in, size_t from, size_t to) noexcept
{
    static const char want[] = "signature";
    size_t k = 0;

    for (size_t i = from; i < to; i++) {
        char c = in[i];

        if (c == '%' && i + 2 < to && hex(in[i + 1]) >= 0
            && hex(in[i + 2]) >= 0) {
            c = static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
            i += 2;
        }

        if (k == sizeof(want) - 1 || lower(c) != want[k]) {
            return false;
        }

        k++;
    }

    return k == sizeof(want) - 1;
}

bool
param_start(const char *in, size_t at) noexcept
{
    if (at == 0) {
        return true;
    }

    char p = in[at - 1];

    return p == '?' || p == '&' || p == ';' || p == '"' || blank(p);
}

/* The bytes a credential can start with: x, a, p, s (any case), %. */
struct first_bytes {
    bool may[256] = {};

    constexpr first_bytes() noexcept
    {
        for (const char *c = "xXaApPsS%"; *c != '\0'; c++) {
            may[static_cast<unsigned char>(*c)] = true;
        }
    }
};

constexpr first_bytes credential_first;

/*
 * Can a credential start at `at`?  "X-", "Au", "Pa" (X-AKSK/X-WSSE,
 * Authorization, PasswordDigest), or a parameter whose name may decode to
 * "signature".  Every byte of a line is asked: one table look-up answers
 * for almost all of them.
 */
inline bool
may_start(const char *in, size_t len, size_t at) noexcept
{
    if (!credential_first.may[static_cast<unsigned char>(in[at])]) {
        return false;
    }

    char c = lower(in[at]);
    char next = (at + 1 < len) ? lower(in[at + 1]) : '\0';

    switch (c) {
    case 'x':
        return next == '-';
    case 'a':
        return next == 'u';
    case 'p':
        return next == 'a';
    default: /* 's', '%' */
        return param_start(in, at);
    }
}

/* 16 bytes at a time, in the compiler's portable vector type (SSE2, NEON) */
typedef unsigned char bytes16 __attribute__((vector_size(16)));

/*
 * The first position from `at` whose byte a credential can start with,
 * or len.  Sixteen bytes are tested at once: with bit 0x20 set, every
 * such byte is one of "xaps%" (and only a few others are, which the
 * byte-wise test that follows passes over).
 */
size_t
next_first_byte(const char *in, size_t len, size_t at) noexcept
{
    for (; at + sizeof(bytes16) <= len; at += sizeof(bytes16)) {
        bytes16 v;
        std::memcpy(&v, in + at, sizeof(v));
        v |= 0x20;

        auto hit =
            (v == 'x') | (v == 'a') | (v == 'p') | (v == 's') | (v == '%');
        uint64_t half[2];
        std::memcpy(half, &hit, sizeof(half));

        if ((half[0] | half[1]) != 0) {
            break;
        }
    }

    while (at < len
           && !credential_first.may[static_cast<unsigned char>(in[at])]) {
        at++;
    }

    return at;
}

/* The first position from `at` where a credential may start, or len. */
size_t
next_candidate(const char *in, size_t len, size_t at) noexcept
{
    for (;;) {
        at = next_first_byte(in, len, at);

        if (at == len || may_start(in, len, at)) {
            return at;
        }

        at++;
    }
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
        p = at;

        while (p < len && p - at <= max_name && in[p] != '='
               && !value_end(in[p]) && in[p] != '?')
        {
            p++;
        }

        if (p == len || in[p] != '=' || !signature_name(in, at, p)) {
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
    *to = p;

    while (*to < len && !value_end(in[*to])) {
        ++*to;
    }

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

    bool empty() const noexcept
    {
        return n_ == 0;
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
 * Every position is looked at, masked or not: a quoted value can end at
 * the quote that opens the next one, which must be masked as well.  Each
 * masked stretch becomes one mask.
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
        bool found = may_start(in, len, p) && credential(in, len, p, &from, &to)
                     && from != to;

        if (found && !pending.add(from, to)) {
            masked_to = line_end(in, len, from);
        }

        masked_to = pending.reach(p, masked_to);

        if (p < masked_to) {
            run++;
            p++;
            continue;
        }

        if (run != 0) {
            size_t m = (run < mask_len) ? run : mask_len;
            std::memset(out + n, '.', m);
            n += m;
            run = 0;
        }

        /* nothing found or pending: copy up to the next credential */
        size_t end = p + 1;

        if (!found && pending.empty()) {
            end = next_candidate(in, len, end);
        }

        std::memcpy(out + n, in + p, end - p);
        n += end - p;
        p = end;
    }

    if (run != 0) {
        size_t m = (run < mask_len) ? run : mask_len;
        std::memset(out + n, '.', m);
        n += m;
    }

    return n;
}

} // namespace provision_x
