#include "core/hmac.hpp"

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
fetched(hmac_algorithm alg) noexcept
{
    static const std::unique_ptr<EVP_MD, md_free> sha1(
        EVP_MD_fetch(nullptr, OSSL_DIGEST_NAME_SHA1, nullptr));
    static const std::unique_ptr<EVP_MD, md_free> sha256(
        EVP_MD_fetch(nullptr, OSSL_DIGEST_NAME_SHA2_256, nullptr));

    return alg == hmac_algorithm::sha1 ? sha1.get() : sha256.get();
}

EVP_MD_CTX *
reusable_ctx() noexcept
{
    thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(
        EVP_MD_CTX_new());

    return ctx.get();
}

bool
digest_pieces(hmac_algorithm alg, std::initializer_list<byte_pieces> parts,
              unsigned char *out, std::size_t out_size) noexcept
{
    const EVP_MD *md = fetched(alg);
    EVP_MD_CTX *ctx = reusable_ctx();

    if (md == nullptr || ctx == nullptr
        || static_cast<std::size_t>(EVP_MD_get_size(md)) != out_size
        || EVP_DigestInit_ex2(ctx, md, nullptr) != 1)
    {
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

constexpr std::size_t
digest_size(hmac_algorithm alg) noexcept
{
    return alg == hmac_algorithm::sha1 ? 20 : 32;
}

// RFC 2104's K: the key zero-padded to the block, or first replaced by its
// hash when longer.  The RFC 2202 and RFC 4231 vectors in the unit tests
// pin the whole construction down.
bool
key_block(hmac_algorithm alg, byte_pieces key,
          unsigned char (&kbuf)[hmac_block_size]) noexcept
{
    std::size_t klen = 0;

    for (std::string_view piece : key) {
        klen += piece.size();
    }

    std::memset(kbuf, 0, sizeof(kbuf));

    if (klen > hmac_block_size) {
        return digest_pieces(alg, {key}, kbuf, digest_size(alg));
    }

    std::size_t at = 0;

    for (std::string_view piece : key) {
        if (!piece.empty()) {
            std::memcpy(kbuf + at, piece.data(), piece.size());
            at += piece.size();
        }
    }

    return true;
}

void
xor_pad(const unsigned char (&kbuf)[hmac_block_size], unsigned char byte,
        unsigned char (&pad)[hmac_block_size]) noexcept
{
    for (std::size_t i = 0; i < hmac_block_size; i++) {
        pad[i] = kbuf[i] ^ byte;
    }
}

constexpr unsigned char ipad_byte = 0x36;
constexpr unsigned char opad_byte = 0x5c;

// H((K ^ opad) || H((K ^ ipad) || msg)) over the one reusable digest
// context, for a key used once.
bool
hmac_pieces(hmac_algorithm alg, byte_pieces key, byte_pieces msg,
            unsigned char *out, std::size_t out_size) noexcept
{
    unsigned char kbuf[hmac_block_size];
    unsigned char pad[hmac_block_size];
    unsigned char inner[max_digest_size];

    if (out_size != digest_size(alg)) {
        return false;
    }

    bool ok = key_block(alg, key, kbuf);

    if (ok) {
        xor_pad(kbuf, ipad_byte, pad);

        std::string_view ipad(reinterpret_cast<const char *>(pad), sizeof(pad));
        ok = digest_pieces(alg, {{ipad}, msg}, inner, out_size);
    }

    if (ok) {
        xor_pad(kbuf, opad_byte, pad);

        std::string_view opad(reinterpret_cast<const char *>(pad), sizeof(pad));
        std::string_view digest(reinterpret_cast<const char *>(inner),
                                out_size);

        ok = digest_pieces(alg, {{opad, digest}}, out, out_size);
    }

    OPENSSL_cleanse(kbuf, sizeof(kbuf));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));

    return ok;
}

// A fresh context holding the digest of one pad block.
EVP_MD_CTX *
pad_state(hmac_algorithm alg, const unsigned char (&kbuf)[hmac_block_size],
          unsigned char byte) noexcept
{
    unsigned char pad[hmac_block_size];
    const EVP_MD *md = fetched(alg);
    EVP_MD_CTX *ctx = md != nullptr ? EVP_MD_CTX_new() : nullptr;

    if (ctx == nullptr) {
        return nullptr;
    }

    xor_pad(kbuf, byte, pad);

    bool ok = EVP_DigestInit_ex2(ctx, md, nullptr) == 1
              && EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1;

    OPENSSL_cleanse(pad, sizeof(pad));

    if (!ok) {
        EVP_MD_CTX_free(ctx);
        return nullptr;
    }

    return ctx;
}

} // namespace

hmac_key::~hmac_key()
{
    clear();
}

void
hmac_key::clear() noexcept
{
    // Freeing a digest context wipes its state (OPENSSL_clear_free).
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    inner_ = nullptr;
    outer_ = nullptr;
}

bool
hmac_key::set(hmac_algorithm alg, byte_pieces key) noexcept
{
    unsigned char kbuf[hmac_block_size];

    clear();

    if (key_block(alg, key, kbuf)) {
        inner_ = pad_state(alg, kbuf, ipad_byte);
        outer_ = pad_state(alg, kbuf, opad_byte);
    }

    OPENSSL_cleanse(kbuf, sizeof(kbuf));

    if (inner_ == nullptr || outer_ == nullptr) {
        clear();
        return false;
    }

    alg_ = alg;
    return true;
}

bool
hmac_key::mac(byte_pieces msg, unsigned char *out,
              std::size_t out_size) const noexcept
{
    EVP_MD_CTX *ctx = reusable_ctx();
    unsigned char inner[max_digest_size];
    unsigned int len = 0;

    if (inner_ == nullptr || ctx == nullptr || out_size != digest_size(alg_)
        || EVP_MD_CTX_copy_ex(ctx, inner_) != 1)
    {
        return false;
    }

    bool ok = true;

    for (std::string_view piece : msg) {
        ok = ok && EVP_DigestUpdate(ctx, piece.data(), piece.size()) == 1;
    }

    ok = ok && EVP_DigestFinal_ex(ctx, inner, &len) == 1 && len == out_size
         && EVP_MD_CTX_copy_ex(ctx, outer_) == 1
         && EVP_DigestUpdate(ctx, inner, out_size) == 1
         && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == out_size;

    OPENSSL_cleanse(inner, sizeof(inner));
    return ok;
}

bool
hmac_key::mac(byte_pieces msg, sha1_digest &out) const noexcept
{
    return alg_ == hmac_algorithm::sha1 && mac(msg, out.data(), out.size());
}

bool
hmac_key::mac(byte_pieces msg, sha256_digest &out) const noexcept
{
    return alg_ == hmac_algorithm::sha256 && mac(msg, out.data(), out.size());
}

bool
hmac_sha1(byte_pieces key, byte_pieces msg, sha1_digest &out) noexcept
{
    return hmac_pieces(hmac_algorithm::sha1, key, msg, out.data(), out.size());
}

bool
hmac_sha256(byte_pieces key, byte_pieces msg, sha256_digest &out) noexcept
{
    return hmac_pieces(hmac_algorithm::sha256, key, msg, out.data(),
                       out.size());
}

bool
sha1(byte_pieces msg, sha1_digest &out) noexcept
{
    return digest_pieces(hmac_algorithm::sha1, {msg}, out.data(), out.size());
}

bool
sha256(byte_pieces msg, sha256_digest &out) noexcept
{
    return digest_pieces(hmac_algorithm::sha256, {msg}, out.data(), out.size());
}

bool
ct_equal(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size()
           && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool
random_bytes(unsigned char *out, std::size_t n) noexcept
{
    // RAND_bytes takes an int; nonces are tiny, so refuse anything odd.
    return n <= 4096 && RAND_bytes(out, static_cast<int>(n)) == 1;
}

} // namespace provision_x
