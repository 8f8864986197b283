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
constexpr std::size_t max_digest_size = 32;

enum class digest_kind { sha1, sha256 };

struct md_free {
    void operator()(EVP_MD *m) const noexcept
    {
        EVP_MD_free(m);
    }
};

struct md_ctx_free {
    void operator()(EVP_MD_CTX *c) const noexcept
    {
        EVP_MD_CTX_free(c);
    }
};

// Fetching an algorithm (what EVP_MAC_init or EVP_sha1() do on every
// call in OpenSSL 3) costs more than hashing a callback: fetch once per
// process, keep one context per thread and reset it for every digest.
const EVP_MD *
fetched(digest_kind kind) noexcept
{
    static const std::unique_ptr<EVP_MD, md_free> sha1(
        EVP_MD_fetch(nullptr, OSSL_DIGEST_NAME_SHA1, nullptr));
    static const std::unique_ptr<EVP_MD, md_free> sha256(
        EVP_MD_fetch(nullptr, OSSL_DIGEST_NAME_SHA2_256, nullptr));

    return kind == digest_kind::sha1 ? sha1.get() : sha256.get();
}

EVP_MD_CTX *
reusable_ctx() noexcept
{
    thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(
        EVP_MD_CTX_new());

    return ctx.get();
}

bool
digest_pieces(digest_kind kind, std::initializer_list<byte_pieces> parts,
              unsigned char *out, std::size_t out_size) noexcept
{
    const EVP_MD *md = fetched(kind);
    EVP_MD_CTX *ctx = reusable_ctx();

    if (md == nullptr || ctx == nullptr ||
        static_cast<std::size_t>(EVP_MD_get_size(md)) != out_size ||
        EVP_DigestInit_ex2(ctx, md, nullptr) != 1) {
        return false;
    }

    for (byte_pieces pieces : parts) {
        for (std::string_view piece : pieces) {
            if (EVP_DigestUpdate(ctx, piece.data(), piece.size()) != 1) {
                return false;
            }
        }
    }

    unsigned int len = 0;

    return EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == out_size;
}

// RFC 2104 over the one reusable digest context:
// H((K ^ opad) || H((K ^ ipad) || msg)), K zero-padded to the block (or
// first replaced by its hash when longer).  The RFC 2202 and RFC 4231
// vectors in the unit tests pin it down.
bool
hmac_pieces(digest_kind kind, byte_pieces key, byte_pieces msg,
            unsigned char *out, std::size_t out_size) noexcept
{
    unsigned char kbuf[hmac_block_size] = {};
    unsigned char pad[hmac_block_size];
    unsigned char inner[max_digest_size];
    std::size_t klen = 0;

    for (std::string_view piece : key) {
        klen += piece.size();
    }

    if (out_size > max_digest_size) {
        return false;
    }

    if (klen <= hmac_block_size) {
        std::size_t at = 0;

        for (std::string_view piece : key) {
            if (!piece.empty()) {
                std::memcpy(kbuf + at, piece.data(), piece.size());
                at += piece.size();
            }
        }

    } else if (!digest_pieces(kind, {key}, kbuf, out_size)) {
        return false;
    }

    for (std::size_t i = 0; i < hmac_block_size; i++) {
        pad[i] = kbuf[i] ^ 0x36;
    }

    std::string_view ipad(reinterpret_cast<const char *>(pad), sizeof(pad));
    bool ok = digest_pieces(kind, {{ipad}, msg}, inner, out_size);

    if (ok) {
        for (std::size_t i = 0; i < hmac_block_size; i++) {
            pad[i] = kbuf[i] ^ 0x5c;
        }

        std::string_view opad(reinterpret_cast<const char *>(pad), sizeof(pad));
        std::string_view digest(reinterpret_cast<const char *>(inner),
                                out_size);

        ok = digest_pieces(kind, {{opad, digest}}, out, out_size);
    }

    OPENSSL_cleanse(kbuf, sizeof(kbuf));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));

    return ok;
}

} // namespace

bool
hmac_sha1(byte_pieces key, byte_pieces msg, sha1_digest &out) noexcept
{
    return hmac_pieces(digest_kind::sha1, key, msg, out.data(), out.size());
}

bool
hmac_sha256(byte_pieces key, byte_pieces msg, sha256_digest &out) noexcept
{
    return hmac_pieces(digest_kind::sha256, key, msg, out.data(), out.size());
}

bool
sha256(byte_pieces msg, sha256_digest &out) noexcept
{
    return digest_pieces(digest_kind::sha256, {msg}, out.data(), out.size());
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
