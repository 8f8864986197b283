// The ways OpenSSL 3 offers to MAC with a key prepared once, measured side
// by side for bench/README.md (core_ops OP N, OP = hmac_*): a 30-byte
// secret, a 300-byte message (an Aliyun string to sign), HMAC-SHA1.
//   hmac_plain         hmac_sha1(): the pads hashed on every call
//   hmac_mac_ctx_dup   EVP_MAC_CTX prepared, EVP_MAC_CTX_dup per MAC
//   hmac_md_ctx_copy   provision_x::hmac_key: two EVP_MD_CTX pad states,
//                      EVP_MD_CTX_copy_ex per MAC (what the gateway uses)
//   hmac_sha_ctx_copy  deprecated SHA1_* with SHA_CTX struct copies, for
//                      reference only: the core uses no deprecated API

#define OPENSSL_SUPPRESS_DEPRECATED

#include "core/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <cstring>
#include <string>

using namespace provision_x;

namespace {

volatile unsigned char sink;

const std::string secret = "bench-aliyun-secret-0123456789";
const std::string message(300, 'm');

int
mac_ctx_dup(long n)
{
    EVP_MAC *mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX *base = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    char digest_name[] = "SHA1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end()};
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t len;
    int rc = 1;

    if (base == nullptr
        || EVP_MAC_init(base,
                        reinterpret_cast<const unsigned char *>(secret.data()),
                        secret.size(), params)
               != 1)
    {
        goto done;
    }

    for (long i = 0; i < n; i++) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(base);
        bool ok =
            ctx != nullptr
            && EVP_MAC_update(
                   ctx, reinterpret_cast<const unsigned char *>(message.data()),
                   message.size())
                   == 1
            && EVP_MAC_final(ctx, out, &len, sizeof(out)) == 1;
        EVP_MAC_CTX_free(ctx);
        if (!ok) {
            goto done;
        }
        sink = out[0];
    }
    rc = 0;

done:
    EVP_MAC_CTX_free(base);
    EVP_MAC_free(mac);
    return rc;
}

int
sha_ctx_copy(long n)
{
    unsigned char key[64] = {}, pad[64], inner[20], out[20];
    SHA_CTX ipad, opad;

    std::memcpy(key, secret.data(), secret.size());
    for (int i = 0; i < 64; i++) {
        pad[i] = key[i] ^ 0x36;
    }
    SHA1_Init(&ipad);
    SHA1_Update(&ipad, pad, sizeof(pad));
    for (int i = 0; i < 64; i++) {
        pad[i] = key[i] ^ 0x5c;
    }
    SHA1_Init(&opad);
    SHA1_Update(&opad, pad, sizeof(pad));

    for (long i = 0; i < n; i++) {
        SHA_CTX c = ipad;
        SHA1_Update(&c, message.data(), message.size());
        SHA1_Final(inner, &c);
        c = opad;
        SHA1_Update(&c, inner, sizeof(inner));
        SHA1_Final(out, &c);
        sink = out[0];
    }
    return 0;
}

} // namespace

// -1: not an hmac_* operation
int
hmac_variant(const std::string &op, long n)
{
    sha1_digest d;

    if (op == "hmac_plain") {
        for (long i = 0; i < n; i++) {
            if (!hmac_sha1({secret}, {message}, d)) {
                return 1;
            }
            sink = d[0];
        }
        return 0;
    }

    if (op == "hmac_md_ctx_copy") {
        hmac_key key;
        if (!key.set(hmac_algorithm::sha1, {secret})) {
            return 1;
        }
        for (long i = 0; i < n; i++) {
            if (!key.mac({message}, d)) {
                return 1;
            }
            sink = d[0];
        }
        return 0;
    }

    if (op == "hmac_mac_ctx_dup") {
        return mac_ctx_dup(n);
    }

    if (op == "hmac_sha_ctx_copy") {
        return sha_ctx_copy(n);
    }

    return -1;
}
