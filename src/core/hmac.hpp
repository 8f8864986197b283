// Thin OpenSSL 3.0 wrapper: HMAC-SHA1, HMAC-SHA256, SHA-1, SHA-256,
// constant-time comparison and random bytes, through non-deprecated EVP APIs
// only.
//
// Keys and messages are lists of pieces that are hashed as if concatenated,
// so "secret&" or "nonce + created + secret" never needs a temporary string.

#ifndef PROVISION_X_CORE_HMAC_HPP
#define PROVISION_X_CORE_HMAC_HPP

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>

#include <openssl/types.h>

namespace provision_x {

using sha1_digest = std::array<unsigned char, 20>;
using sha256_digest = std::array<unsigned char, 32>;
using byte_pieces = std::initializer_list<std::string_view>;

// All return false only when OpenSSL fails (no provider, out of memory).
bool hmac_sha1(byte_pieces key, byte_pieces msg, sha1_digest &out) noexcept;
bool hmac_sha256(byte_pieces key, byte_pieces msg, sha256_digest &out) noexcept;
bool sha1(byte_pieces msg, sha1_digest &out) noexcept;
bool sha256(byte_pieces msg, sha256_digest &out) noexcept;

enum class hmac_algorithm : unsigned char { sha1, sha256 };

// An HMAC key prepared once: the digests of its inner and outer pad blocks
// (RFC 2104's H(K ^ ipad) and H(K ^ opad) states) are computed by set(),
// at configuration time, so a MAC costs a copy of each state and the
// message's own blocks instead of two extra block compressions and two
// digest initialisations per request.  Of the OpenSSL 3 ways to do that,
// copying two EVP_MD_CTX states measured cheapest (EVP_MAC_CTX_dup copies
// three and allocates a fourth; bench/README.md has the numbers).
//
// The states are secret-equivalent: they are wiped (OpenSSL clears a
// digest context when freeing it) by clear() and by the destructor.
// mac() only reads them, so one key may serve any number of threads.
class hmac_key {
public:
    hmac_key() noexcept = default;
    ~hmac_key();

    hmac_key(const hmac_key &) = delete;
    hmac_key &operator=(const hmac_key &) = delete;

    // The key is the concatenation of the pieces.  false only when OpenSSL
    // fails; the key is then unset.
    bool set(hmac_algorithm alg, byte_pieces key) noexcept;

    void clear() noexcept;

    bool is_set() const noexcept
    {
        return inner_ != nullptr;
    }

    hmac_algorithm algorithm() const noexcept
    {
        return alg_;
    }

    // false when OpenSSL fails, the key is unset or of the other
    // algorithm: never a MAC that merely differs.
    bool mac(byte_pieces msg, sha1_digest &out) const noexcept;
    bool mac(byte_pieces msg, sha256_digest &out) const noexcept;

private:
    bool mac(byte_pieces msg, unsigned char *out,
             std::size_t out_size) const noexcept;

    EVP_MD_CTX *inner_ = nullptr; // after the block K ^ ipad
    EVP_MD_CTX *outer_ = nullptr; // after the block K ^ opad
    hmac_algorithm alg_ = hmac_algorithm::sha1;
};

// Length is not secret (every digest has a fixed encoded length); the
// contents are compared with CRYPTO_memcmp.
bool ct_equal(std::string_view a, std::string_view b) noexcept;

bool random_bytes(unsigned char *out, std::size_t n) noexcept;

} // namespace provision_x

#endif
