#include "hmac.hpp"

#include <cstring>
#include <memory>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

namespace provision_x {

namespace {

// SHA-1 and SHA-256 share a 64-byte block.
constexpr std::size_t hmac_block_size = 64;

struct mac_free {
    void operator()(EVP_MAC *m) const noexcept
    {
        EVP_MAC_free(m);
    }
};

struct mac_ctx_free {
    void operator()(EVP_MAC_CTX *c) const noexcept
    {
        EVP_MAC_CTX_free(c);
    }
};

struct md_ctx_free {
    void operator()(EVP_MD_CTX *c) const noexcept
    {
        EVP_MD_CTX_free(c);
    }
};

bool
digest_pieces(const EVP_MD *md, byte_pieces msg, unsigned char *out,
              std::size_t out_size) noexcept
{
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());

    if (!ctx || static_cast<std::size_t>(EVP_MD_get_size(md)) != out_size ||
        EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
        return false;
    }

    for (std::string_view piece : msg) {
        if (EVP_DigestUpdate(ctx.get(), piece.data(), piece.size()) != 1) {
            return false;
        }
    }

    unsigned int len = 0;

    return EVP_DigestFinal_ex(ctx.get(), out, &len) == 1 && len == out_size;
}

bool
hmac_pieces(const EVP_MD *md, const char *md_name, byte_pieces key,
            byte_pieces msg, unsigned char *out, std::size_t out_size) noexcept
{
    // EVP_MAC wants the key in one piece.  A key longer than the block is
    // replaced by its hash (RFC 2104 §3), so joining the pieces on the
    // stack and hashing long keys ourselves gives the same MAC without
    // ever touching the heap.
    unsigned char kbuf[hmac_block_size];
    std::size_t klen = 0;

    for (std::string_view piece : key) {
        klen += piece.size();
    }

    if (klen <= hmac_block_size) {
        std::size_t at = 0;

        for (std::string_view piece : key) {
            if (!piece.empty()) {
                std::memcpy(kbuf + at, piece.data(), piece.size());
                at += piece.size();
            }
        }

    } else {
        if (!digest_pieces(md, key, kbuf, out_size)) {
            return false;
        }
        klen = out_size;
    }

    std::unique_ptr<EVP_MAC, mac_free> mac(
        EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> ctx(
        mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);

    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char *>(md_name), 0),
        OSSL_PARAM_construct_end(),
    };

    // A NULL key means "keep the previous key" to EVP_MAC_init, so an
    // empty key still passes the (non-null) buffer.
    bool ok = ctx && EVP_MAC_init(ctx.get(), kbuf, klen, params) == 1;

    OPENSSL_cleanse(kbuf, sizeof(kbuf));

    if (!ok) {
        return false;
    }

    for (std::string_view piece : msg) {
        if (EVP_MAC_update(
                ctx.get(),
                reinterpret_cast<const unsigned char *>(piece.data()),
                piece.size()) != 1) {
            return false;
        }
    }

    std::size_t len = 0;

    return EVP_MAC_final(ctx.get(), out, &len, out_size) == 1 &&
           len == out_size;
}

} // namespace

bool
hmac_sha1(byte_pieces key, byte_pieces msg, sha1_digest &out) noexcept
{
    return hmac_pieces(EVP_sha1(), OSSL_DIGEST_NAME_SHA1, key, msg, out.data(),
                       out.size());
}

bool
hmac_sha256(byte_pieces key, byte_pieces msg, sha256_digest &out) noexcept
{
    return hmac_pieces(EVP_sha256(), OSSL_DIGEST_NAME_SHA2_256, key, msg,
                       out.data(), out.size());
}

bool
sha256(byte_pieces msg, sha256_digest &out) noexcept
{
    return digest_pieces(EVP_sha256(), msg, out.data(), out.size());
}

bool
ct_equal(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool
random_bytes(unsigned char *out, std::size_t n) noexcept
{
    // RAND_bytes takes an int; nonces are tiny, so refuse anything odd.
    return n <= 4096 && RAND_bytes(out, static_cast<int>(n)) == 1;
}

} // namespace provision_x
