#include "core/params.hpp"

#include <algorithm>
#include <cstring>

#include "core/bytes16.hpp"
#include "core/encoding.hpp"
#include "core/json_doc.hpp"

namespace provision_x {

namespace {

enum byte_class : unsigned char {
    plain, // copied as it is
    high,  // copied, part of a UTF-8 sequence
    plus,  // a space
    percent,
    equals,
    ampersand,
};

struct byte_class_table {
    unsigned char of[256];

    constexpr byte_class_table() : of()
    {
        for (int c = 0; c < 256; c++) {
            of[c] = c >= 0x80  ? high
                    : c == '+' ? plus
                    : c == '%' ? percent
                    : c == '=' ? equals
                    : c == '&' ? ampersand
                               : plain;
        }
    }
};

constexpr byte_class_table classes;

/*
 * Copies the run of plain bytes at p to w; returns the first byte that is
 * not plain, or end, and advances w past the copy.  Sixteen at a time: a
 * query is mostly runs of plain bytes between its few '=' and '&'.  A
 * block is stored whole and w advances past its plain lanes only; the
 * store stays inside the arena, whose room for what is left of the input
 * (decoding never writes more bytes than it reads) is at least the
 * sixteen bytes still to be read.
 */
const unsigned char *
copy_plain_run(const unsigned char *p, const unsigned char *end,
               char *&w) noexcept
{
    constexpr ptrdiff_t block = sizeof(bytes16);

    for (; end - p >= block; p += block, w += block) {
        bytes16 v = load16(p);
        auto special =
            (v >= 0x80) | (v == '+') | (v == '%') | (v == '=') | (v == '&');
        size_t i = lanes16(reinterpret_cast<bytes16>(special)).first();

        std::memcpy(w, p, block);

        if (i < block) {
            w += i;
            return p + i;
        }
    }

    while (p < end && classes.of[*p] == plain) {
        *w++ = static_cast<char>(*p++);
    }

    return p;
}

int
hex_digit(unsigned char c) noexcept
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

// Bytewise name order, inline: names are a few bytes long and differ
// early (the longest shared prefix of the protocol's is "signature"), so
// a call to memcmp for every comparison costs more than the comparison.
bool
name_less(std::string_view a, std::string_view b) noexcept
{
    size_t n = std::min(a.size(), b.size());

    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return static_cast<unsigned char>(a[i])
                   < static_cast<unsigned char>(b[i]);
        }
    }

    return a.size() < b.size();
}

bool
param_before(const param &p, std::string_view name) noexcept
{
    return name_less(p.name, name);
}

// is_utf8() one decoded byte at a time (Unicode table 3-7: no overlong
// forms, no surrogates, nothing above U+10FFFF), so the parse never looks
// at what it wrote a second time.
struct utf8_check {
    unsigned char need = 0; // continuation bytes still expected
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf; // range of the next continuation byte
    bool bad = false;

    void byte(unsigned char c) noexcept
    {
        if (need != 0) {
            if (c < lo || c > hi) {
                bad = true;
                need = 0;
                return;
            }
            need--;
            lo = 0x80;
            hi = 0xbf;
            return;
        }

        if (c < 0x80) {
            return;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80; // overlong
            hi = c == 0xed ? 0x9f : 0xbf; // surrogates
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            lo = c == 0xf0 ? 0x90 : 0x80; // overlong
            hi = c == 0xf4 ? 0x8f : 0xbf; // above U+10FFFF
        } else {
            bad = true;
        }
    }

    bool complete() const noexcept
    {
        return !bad && need == 0;
    }
};

} // namespace

std::string_view
describe(params_error e) noexcept
{
    switch (e) {
    case params_error::ok:
        return "ok";
    case params_error::too_large:
        return "parameters too large";
    case params_error::too_many:
        return "too many parameters";
    case params_error::duplicate:
        return "duplicate parameter";
    case params_error::bad_percent:
        return "bad percent-encoding";
    case params_error::not_utf8:
        return "parameter is not UTF-8";
    case params_error::empty_name:
        return "empty parameter name";
    case params_error::arena_too_small:
        return "parameter arena too small";
    case params_error::no_memory:
        return "out of memory";
    case params_error::not_json:
        return "body is not valid JSON";
    case params_error::not_an_object:
        return "JSON body is not an object";
    case params_error::not_a_string:
        return "JSON member is not a string";
    }
    return "unknown";
}

param_list::param_list(std::size_t max_count) : max_count_(max_count)
{
    items_.reserve(max_count);
}

params_error
param_list::add(std::string_view name, std::string_view value) noexcept
{
    if (name.empty()) {
        return params_error::empty_name;
    }

    if (!is_utf8(name) || !is_utf8(value)) {
        return params_error::not_utf8;
    }

    return insert(name, value);
}

params_error
param_list::insert(std::string_view name, std::string_view value) noexcept
{
    // Senders usually sort their parameters already: append in O(1).
    auto pos = items_.empty() || name_less(items_.back().name, name)
                   ? items_.end()
                   : std::lower_bound(items_.begin(), items_.end(), name,
                                      param_before);

    if (pos != items_.end() && pos->name == name) {
        return params_error::duplicate;
    }

    if (items_.size() >= max_count_) {
        return params_error::too_many;
    }

    // Within the reserved capacity this cannot allocate; the catch only
    // keeps the noexcept promise honest.
    try {
        items_.insert(pos, param{name, value});
    } catch (...) {
        return params_error::no_memory;
    }

    return params_error::ok;
}

const param *
param_list::find(std::string_view name) const noexcept
{
    auto pos =
        std::lower_bound(items_.begin(), items_.end(), name, param_before);

    if (pos != items_.end() && pos->name == name) {
        return &*pos;
    }

    return nullptr;
}

params_error
parse_urlencoded(std::string_view raw, std::size_t max_bytes, param_list &list,
                 std::string &arena) noexcept
{
    if (raw.size() > max_bytes) {
        return params_error::too_large;
    }

    if (arena.capacity() - arena.size() < raw.size()) {
        return params_error::arena_too_small;
    }

    // Decoding never writes more bytes than it reads: grown within the
    // capacity checked above (so arena.data() never moves) and trimmed to
    // what was written, whatever the outcome.
    std::size_t old = arena.size();

    arena.resize(old + raw.size());

    char *w = &arena[old];
    auto done = [&arena, &w](params_error rc) noexcept {
        arena.resize(static_cast<std::size_t>(w - arena.data()));
        return rc;
    };

    const unsigned char *p =
        reinterpret_cast<const unsigned char *>(raw.data());
    const unsigned char *end = p + raw.size();

    while (p < end) {
        char *name_at = w;
        char *value_at = nullptr;
        utf8_check name_check;
        utf8_check value_check;
        utf8_check *check = &name_check;

        for (; p < end; p++) {
            /* most bytes: a run copied as it is; only its first can end a
             * UTF-8 sequence too early */
            const unsigned char *run = p;

            p = copy_plain_run(p, end, w);

            if (p != run && check->need != 0) {
                check->byte(*run);
            }

            if (p == end) {
                break;
            }

            unsigned char c = *p;
            unsigned char cls = classes.of[c];

            if (cls == high) {
                check->byte(c);
                *w++ = static_cast<char>(c);
                continue;
            }

            if (cls == ampersand) {
                break;
            }

            if (cls == plus) {
                check->byte(' ');
                *w++ = ' ';

            } else if (cls == percent) {
                int hi = end - p > 2 ? hex_digit(p[1]) : -1;
                int lo = hi >= 0 ? hex_digit(p[2]) : -1;

                if (lo < 0) {
                    return done(params_error::bad_percent);
                }

                c = static_cast<unsigned char>(hi << 4 | lo);
                check->byte(c);
                *w++ = static_cast<char>(c);
                p += 2;

            } else if (value_at == nullptr) { /* the first '=' */
                if (w == name_at) {
                    return done(params_error::empty_name);
                }
                value_at = w;
                check = &value_check;

            } else { /* a later '=' is part of the value */
                check->byte('=');
                *w++ = '=';
            }
        }

        p++; /* the '&', or past the end */

        if (value_at == nullptr) {
            if (w == name_at) {
                continue; /* an empty segment */
            }
            value_at = w;
        }

        if (!name_check.complete() || !value_check.complete()) {
            return done(params_error::not_utf8);
        }

        params_error added = list.insert(
            std::string_view(name_at, static_cast<size_t>(value_at - name_at)),
            std::string_view(value_at, static_cast<size_t>(w - value_at)));

        if (added != params_error::ok) {
            return done(added);
        }
    }

    return done(params_error::ok);
}

namespace {

/* A copy of `text` in the arena's reserved capacity; nullptr when full. */
const char *
arena_copy(std::string &arena, std::string_view text) noexcept
{
    if (arena.capacity() - arena.size() < text.size()) {
        return nullptr;
    }

    size_t at = arena.size();
    arena.append(text); /* within capacity: no reallocation, no throw */
    return arena.data() + at;
}

} // namespace

params_error
parse_json_object(std::string_view raw, std::size_t max_bytes, param_list &list,
                  std::string &arena) noexcept
{
    if (raw.size() > max_bytes) {
        return params_error::too_large;
    }

    json_doc doc(raw);

    if (doc.root == nullptr) {
        return params_error::not_json;
    }

    if (!json_is_object(doc.root)) {
        return params_error::not_an_object;
    }

    const char *key;
    json_t *member;

    json_object_foreach(doc.root, key, member)
    {
        if (!json_is_string(member)) {
            return params_error::not_a_string;
        }

        std::string_view name_text(key);
        std::string_view value_text = json_text(member);
        const char *name = arena_copy(arena, name_text);
        const char *value = arena_copy(arena, value_text);

        if (name == nullptr || value == nullptr) {
            return params_error::arena_too_small;
        }

        params_error rc =
            list.add({name, name_text.size()}, {value, value_text.size()});
        if (rc != params_error::ok) {
            return rc;
        }
    }

    return params_error::ok;
}

} // namespace provision_x
