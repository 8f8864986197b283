// Thin OpenSSL 3.0 wrapper: HMAC-SHA1, HMAC-SHA256, SHA-256, constant-time
// comparison and random bytes, through non-deprecated EVP APIs only.
//
// Keys and messages are lists of pieces that are hashed as if concatenated,
// so "secret&" or "nonce + created + secret" never needs a temporary string.

#ifndef PROVISION_X_CORE_HMAC_HPP
#define PROVISION_X_CORE_HMAC_HPP

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace provision_x {

using sha1_digest = std::array<unsigned char, 20>;
using sha256_digest = std::array<unsigned char, 32>;
using byte_pieces = std::initializer_list<std::string_view>;

// All return false only when OpenSSL fails (no provider, out of memory).
bool hmac_sha1(byte_pieces key, byte_pieces msg, sha1_digest &out) noexcept;
bool hmac_sha256(byte_pieces key, byte_pieces msg, sha256_digest &out) noexcept;
bool sha256(byte_pieces msg, sha256_digest &out) noexcept;

// Length is not secret (every digest has a fixed encoded length); the
// contents are compared with CRYPTO_memcmp.
bool ct_equal(std::string_view a, std::string_view b) noexcept;

bool random_bytes(unsigned char *out, std::size_t n) noexcept;

} // namespace provision_x

#endif
