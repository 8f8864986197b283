#include "core/encoding.hpp"

#include <cstring>

#include "core/bytes16.hpp"

namespace provision_x {

namespace {

constexpr char lower_hex[] = "0123456789abcdef";
constexpr char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr bool
unreserved_in(int c, url_flavour f) noexcept
{
    bool common = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';

    return common || (f == url_flavour::java ? c == '*' : c == '~');
}

// One bit per flavour: the byte is written as it is.
struct unreserved_table {
    unsigned char bits[256];

    constexpr unreserved_table() : bits()
    {
        for (int c = 0; c < 256; c++) {
            bits[c] = static_cast<unsigned char>(
                (unreserved_in(c, url_flavour::java) ? bit(url_flavour::java)
                                                     : 0)
                | (unreserved_in(c, url_flavour::rfc3986)
                       ? bit(url_flavour::rfc3986)
                       : 0));
        }
    }

    static constexpr unsigned char bit(url_flavour f)
    {
        return static_cast<unsigned char>(1u << static_cast<unsigned>(f));
    }
};

constexpr unreserved_table unreserved;

// Every byte's encoding in one flavour, once or twice: its characters and
// their count in one 8-byte block, which the encoder copies whole, so a
// byte costs a load, a store and an add, whatever it becomes.  The canonical
// string of every Aliyun request passes through here.
//
// The first pass only ever emits unreserved bytes, '+' (java space) and
// "%XY" with upper-case hex digits, which are themselves unreserved.  So
// the second pass turns '+' into "%2B" and every '%' into "%25", and the
// double encoding is one table too.
struct encoded_byte {
    char text[url_encode_slack];
    unsigned char length;
};

static_assert(sizeof(encoded_byte) == 8, "one 8-byte block per byte");

struct encoding_table {
    encoded_byte of[256];

    constexpr encoding_table(url_flavour f, bool twice) : of()
    {
        for (int c = 0; c < 256; c++) {
            encoded_byte &e = of[c];
            unsigned char n = 0;

            if (unreserved_in(c, f)) {
                e.text[n++] = static_cast<char>(c);

            } else if (c == ' ' && f == url_flavour::java) {
                if (twice) {
                    e.text[n++] = '%';
                    e.text[n++] = '2';
                    e.text[n++] = 'B';
                } else {
                    e.text[n++] = '+';
                }

            } else {
                e.text[n++] = '%';
                if (twice) {
                    e.text[n++] = '2';
                    e.text[n++] = '5';
                }
                e.text[n++] = "0123456789ABCDEF"[c >> 4];
                e.text[n++] = "0123456789ABCDEF"[c & 0x0f];
            }

            e.length = n;
        }
    }
};

const encoding_table encodings[2][2] = {
    {encoding_table(url_flavour::java, false),
     encoding_table(url_flavour::java, true)},
    {encoding_table(url_flavour::rfc3986, false),
     encoding_table(url_flavour::rfc3986, true)},
};

// 0xff in the lanes of v that the flavour writes as they are: the same
// set as unreserved_in().  Inlined into the encoder's loops, where it
// runs once per block.
[[gnu::always_inline]] inline bytes16
unreserved_lanes(bytes16 v, url_flavour f) noexcept
{
    bytes16 letter = reinterpret_cast<bytes16>((v | 0x20) - 'a' < 26);
    bytes16 digit = reinterpret_cast<bytes16>(v - '0' < 10);
    unsigned char mark = f == url_flavour::java ? '*' : '~';
    bytes16 flavour_mark = reinterpret_cast<bytes16>(v == mark);

    return letter | digit | flavour_mark | byte_set<'-', '_', '.'>::lanes_in(v);
}

// How many of v's lanes, from the first, the flavour writes as they are
// (inlined too: a call per block costs ~120 instructions a query).
[[gnu::always_inline]] inline size_t
unreserved_prefix(bytes16 v, url_flavour f) noexcept
{
    return lanes16(~unreserved_lanes(v, f)).first();
}

bool
is_unreserved(unsigned char c, url_flavour f) noexcept
{
    return unreserved.bits[c] & unreserved_table::bit(f);
}

int
hex_value(unsigned char c) noexcept
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

int
b64_value(unsigned char c) noexcept
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

// The first pass only ever emits unreserved bytes, '+' (java space) and
// "%XY" with upper-case hex digits, which are themselves unreserved.  So
// the second pass turns '+' into "%2B" and every '%' into "%25", and the
// double encoding can be written in one sweep.
std::size_t
encoded_length(std::string_view in, url_flavour f, bool twice) noexcept
{
    std::size_t n = 0;

    for (unsigned char c : in) {
        if (is_unreserved(c, f)) {
            n += 1;
        } else if (c == ' ' && f == url_flavour::java) {
            n += twice ? 3 : 1;
        } else {
            n += twice ? 5 : 3;
        }
    }

    return n;
}

} // namespace

char *
url_encode_into(std::string_view in, url_flavour f, bool twice,
                char *out) noexcept
{
    const encoded_byte *table =
        encodings[static_cast<unsigned>(f)][twice ? 1 : 0].of;
    const unsigned char *p = reinterpret_cast<const unsigned char *>(in.data());
    const unsigned char *end = p + in.size();
    const unsigned char *block_end = p;

    auto encode = [table, &out](unsigned char c) noexcept {
        std::memcpy(out, &table[c], sizeof(encoded_byte));
        out += table[c].length;
    };

    // Sixteen bytes at a time: the block is stored whole and `out` advances
    // past its unreserved prefix only; the bytes after that prefix, up to
    // the block's end, go through the table.  The store stays inside the
    // output: each of the sixteen or more bytes still to encode writes at
    // least one byte.
    for (; end - p >= 16; p = block_end) {
        block_end = p + 16;

        size_t run = unreserved_prefix(load16(p), f);

        std::memcpy(out, p, 16);
        out += run;

        for (p += run; p < block_end; p++) {
            encode(*p);
        }
    }

    // The last 8 to 15 bytes (most names and values are that short),
    // when none of them needs encoding, as two overlapping 8-byte halves:
    // only bytes of `in` are read, only bytes of the output written.
    std::size_t rest = static_cast<std::size_t>(end - p);

    if (rest >= 8) {
        unsigned char halves[16];

        std::memcpy(halves, p, 8);
        std::memcpy(halves + 8, end - 8, 8);

        if (unreserved_prefix(load16(halves), f) == 16) {
            std::memcpy(out, halves, 8);
            std::memcpy(out + rest - 8, halves + 8, 8);
            return out + rest;
        }
    }

    for (; p < end; p++) {
        encode(*p);
    }

    return out;
}

namespace {

bool
append_encoded(std::string_view in, url_flavour f, bool twice,
               std::string &out) noexcept
{
    std::size_t old = out.size();
    std::size_t n = encoded_length(in, f, twice);

    try {
        out.resize(old + n + url_encode_slack);
    } catch (...) {
        return false;
    }

    url_encode_into(in, f, twice, &out[old]);
    out.resize(old + n);
    return true;
}

} // namespace

std::string_view
describe(codec_error e) noexcept
{
    switch (e) {
    case codec_error::ok:
        return "ok";
    case codec_error::bad_percent:
        return "bad percent-encoding";
    case codec_error::bad_base64:
        return "bad base64";
    case codec_error::no_memory:
        return "out of memory";
    }
    return "unknown";
}

std::size_t
url_encoded_length(std::string_view in, url_flavour f) noexcept
{
    return encoded_length(in, f, false);
}

bool
url_encode(std::string_view in, url_flavour f, std::string &out) noexcept
{
    return append_encoded(in, f, false, out);
}

bool
url_encode_twice(std::string_view in, url_flavour f, std::string &out) noexcept
{
    return append_encoded(in, f, true, out);
}

codec_error
percent_decode(std::string_view in, bool plus_is_space, char *out,
               std::size_t &out_len) noexcept
{
    std::size_t n = 0;

    for (std::size_t i = 0; i < in.size(); i++) {
        unsigned char c = static_cast<unsigned char>(in[i]);

        if (c == '%') {
            if (in.size() - i < 3) {
                return codec_error::bad_percent;
            }

            int hi = hex_value(static_cast<unsigned char>(in[i + 1]));
            int lo = hex_value(static_cast<unsigned char>(in[i + 2]));

            if (hi < 0 || lo < 0) {
                return codec_error::bad_percent;
            }

            out[n++] = static_cast<char>(hi << 4 | lo);
            i += 2;

        } else if (c == '+' && plus_is_space) {
            out[n++] = ' ';

        } else {
            out[n++] = static_cast<char>(c);
        }
    }

    out_len = n;
    return codec_error::ok;
}

codec_error
percent_decode(std::string_view in, bool plus_is_space,
               std::string &out) noexcept
{
    std::size_t old = out.size();
    std::size_t n = 0;

    try {
        out.resize(old + in.size());
    } catch (...) {
        return codec_error::no_memory;
    }

    codec_error rc = percent_decode(in, plus_is_space, &out[old], n);

    // Shrinking never reallocates, so views into `out` stay valid.
    out.resize(rc == codec_error::ok ? old + n : old);
    return rc;
}

std::size_t
base64_encode(const unsigned char *in, std::size_t n, char *out) noexcept
{
    char *p = out;
    std::size_t i = 0;

    for (; n - i >= 3; i += 3) {
        unsigned v = unsigned(in[i]) << 16 | unsigned(in[i + 1]) << 8
                     | unsigned(in[i + 2]);
        *p++ = b64_alphabet[v >> 18 & 0x3f];
        *p++ = b64_alphabet[v >> 12 & 0x3f];
        *p++ = b64_alphabet[v >> 6 & 0x3f];
        *p++ = b64_alphabet[v & 0x3f];
    }

    if (n - i == 1) {
        unsigned v = unsigned(in[i]) << 16;
        *p++ = b64_alphabet[v >> 18 & 0x3f];
        *p++ = b64_alphabet[v >> 12 & 0x3f];
        *p++ = '=';
        *p++ = '=';

    } else if (n - i == 2) {
        unsigned v = unsigned(in[i]) << 16 | unsigned(in[i + 1]) << 8;
        *p++ = b64_alphabet[v >> 18 & 0x3f];
        *p++ = b64_alphabet[v >> 12 & 0x3f];
        *p++ = b64_alphabet[v >> 6 & 0x3f];
        *p++ = '=';
    }

    return static_cast<std::size_t>(p - out);
}

bool
base64_encode(std::string_view in, std::string &out) noexcept
{
    std::size_t old = out.size();

    try {
        out.resize(old + base64_encoded_length(in.size()));
    } catch (...) {
        return false;
    }

    base64_encode(reinterpret_cast<const unsigned char *>(in.data()), in.size(),
                  &out[old]);
    return true;
}

codec_error
base64_decode(std::string_view in, std::string &out) noexcept
{
    if (in.size() % 4 != 0) {
        return codec_error::bad_base64;
    }

    std::size_t pad = 0;

    if (!in.empty() && in.back() == '=') {
        pad = in[in.size() - 2] == '=' ? 2 : 1;
    }

    std::size_t old = out.size();
    std::size_t n = in.size() / 4 * 3 - pad;

    try {
        out.resize(old + n);
    } catch (...) {
        return codec_error::no_memory;
    }

    char *p = &out[old];
    std::size_t body = in.size() - pad;
    unsigned acc = 0;
    unsigned bits = 0;

    for (std::size_t i = 0; i < body; i++) {
        int v = b64_value(static_cast<unsigned char>(in[i]));

        if (v < 0) {
            out.resize(old);
            return codec_error::bad_base64;
        }

        acc = (acc << 6 | unsigned(v)) & 0xffffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *p++ = static_cast<char>(acc >> bits & 0xff);
        }
    }

    // Leftover bits must be zero, otherwise two inputs would decode to the
    // same bytes and text comparison would no longer mean byte comparison.
    if ((acc & ((1u << bits) - 1)) != 0) {
        out.resize(old);
        return codec_error::bad_base64;
    }

    return codec_error::ok;
}

void
hex_encode(const unsigned char *in, std::size_t n, char *out) noexcept
{
    for (std::size_t i = 0; i < n; i++) {
        *out++ = lower_hex[in[i] >> 4];
        *out++ = lower_hex[in[i] & 0x0f];
    }
}

bool
is_utf8(std::string_view s) noexcept
{
    const unsigned char *p = reinterpret_cast<const unsigned char *>(s.data());
    const unsigned char *end = p + s.size();

    while (p < end) {
        unsigned char c = *p;

        if (c < 0x80) {
            p++;
            continue;
        }

        std::size_t tail;
        unsigned char lo = 0x80;
        unsigned char hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            tail = 1;
        } else if (c == 0xe0) {
            tail = 2;
            lo = 0xa0; // overlong
        } else if (c == 0xed) {
            tail = 2;
            hi = 0x9f; // surrogates
        } else if (c >= 0xe1 && c <= 0xef) {
            tail = 2;
        } else if (c == 0xf0) {
            tail = 3;
            lo = 0x90; // overlong
        } else if (c >= 0xf1 && c <= 0xf3) {
            tail = 3;
        } else if (c == 0xf4) {
            tail = 3;
            hi = 0x8f; // above U+10FFFF
        } else {
            return false;
        }

        if (static_cast<std::size_t>(end - p) <= tail) {
            return false;
        }

        if (p[1] < lo || p[1] > hi) {
            return false;
        }

        for (std::size_t i = 2; i <= tail; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
        }

        p += tail + 1;
    }

    return true;
}

} // namespace provision_x
