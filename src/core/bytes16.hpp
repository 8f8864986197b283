/*
 * Sixteen bytes at a time, in the compiler's portable vector type (SSE2
 * on x86-64, NEON on arm64): for the scans that pass over long runs of
 * bytes they have nothing to do with (log redaction, query parsing).
 */
#ifndef PROVISION_X_CORE_BYTES16_HPP
#define PROVISION_X_CORE_BYTES16_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace provision_x {

typedef unsigned char bytes16 __attribute__((vector_size(16)));

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "lane i of a block is byte i % 8 of half i / 8");

inline bytes16
load16(const void *p) noexcept
{
    bytes16 v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * The lanes of a comparison's result (0xff where true) as two 64-bit
 * halves: lane i is byte i % 8 of half[i / 8].
 */
struct lanes16 {
    uint64_t half[2];

    explicit lanes16(bytes16 hit) noexcept
    {
        std::memcpy(half, &hit, sizeof(half));
    }

    /* the first true lane, or 16 */
    size_t first() const noexcept
    {
        if (half[0] != 0) {
            return static_cast<size_t>(__builtin_ctzll(half[0])) / 8;
        }

        if (half[1] != 0) {
            return 8 + static_cast<size_t>(__builtin_ctzll(half[1])) / 8;
        }

        return 16;
    }

    /* lane i false from now on */
    void clear(size_t i) noexcept
    {
        half[i / 8] &= ~(uint64_t{0xff} << (8 * (i % 8)));
    }
};

/*
 * A set of bytes, written once, tested a byte at a time (a table) or
 * sixteen at a time (one comparison per member).
 */
template <char... Members> struct byte_set {
    bool has[256] = {};

    constexpr byte_set() noexcept
    {
        ((has[static_cast<unsigned char>(Members)] = true), ...);
    }

    bool operator()(char c) const noexcept
    {
        return has[static_cast<unsigned char>(c)];
    }

    /* 0xff in the lanes of v that are members */
    static bytes16 lanes_in(bytes16 v) noexcept
    {
        return (
            reinterpret_cast<bytes16>(v == static_cast<unsigned char>(Members))
            | ...);
    }
};

} // namespace provision_x

#endif /* PROVISION_X_CORE_BYTES16_HPP */
