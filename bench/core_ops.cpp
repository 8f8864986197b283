// Instruction counts per core operation, for callgrind.
// usage: core_ops OP N [push.json [TYPE] | QUERY SECRET]
//   OP: xmode_verify | aksk_verify | aliyun_query_verify | parse_push |
//       dedup_lines | parse_event | event_lines | body_digest |
//       hmac_* (bench/hmac_variants.cpp) |
//       seen_fill ZONE_BYTES (not for callgrind: prints the bytes of zone
//       per nonce/dedup entry when the table first refuses one)
// parse_push and dedup_lines read a Huawei CDR push; parse_event and
// event_lines, the same operations, a push of TYPE (a push_type_name:
// disconnect, numStatus, SecretRingReport, ...) in the dialect that has it.
// The verify operations use a prepared (per-secret) HMAC key, as the
// gateway does; aliyun_query_verify parses a signed query string first
// (the bench passes its own Aliyun query and the secret it was signed with).
// Runs OP N times; bench/run.sh runs each OP with two N values under
// valgrind --tool=callgrind and reports (Ir(N2) - Ir(N1)) / (N2 - N1), so
// process start-up, file reading and one-time setup cancel out.
#include "core/cdr.hpp"
#include "core/params.hpp"
#include "core/seen_table.hpp"
#include "core/signature.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

using namespace provision_x;

static volatile size_t sink;

int hmac_variant(const std::string &op, long n);

// A request pool's stand-in: ngx_palloc is a pointer bump too.
struct bump_region {
    alignas(16) unsigned char bytes[1 << 20];
    size_t used = 0;

    static void *alloc(void *ctx, size_t size) noexcept
    {
        auto *r = static_cast<bump_region *>(ctx);
        size = (size + 15) & ~size_t(15);
        if (sizeof(r->bytes) - r->used < size)
            return nullptr;
        void *p = r->bytes + r->used;
        r->used += size;
        return p;
    }
};

int
main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s OP N [push.json]\n", argv[0]);
        return 2;
    }
    std::string op = argv[1];
    long n = std::atol(argv[2]);

    int variant = hmac_variant(op, n);
    if (variant >= 0) {
        return variant;
    }

    if (op == "seen_fill") {
        // The nonce/dedup table a zone of n bytes holds (the slab pool
        // keeps about one page per 4 KB plus its header: 1 % is allowed),
        // filled with random digests until the first refusal.
        size_t zone = static_cast<size_t>(n);
        uint32_t buckets = seen_buckets_for(zone - zone / 100 - 4096);
        std::string table(seen_table_bytes(buckets), '\0');
        auto *h = reinterpret_cast<seen_header *>(&table[0]);
        seen_init(h, buckets, seen_kind::dedup, 1000, 0x5eed);
        uint64_t x = 0x9e3779b97f4a7c15ULL, entries = 0;
        for (;;) {
            unsigned char d[seen_digest_size];
            for (size_t i = 0; i < sizeof(d); i += 8) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                std::memcpy(d + i, &x, 8);
            }
            if (seen_add(h, d, 2000, 0, 0, 1000) != seen_result::added)
                break;
            entries++;
        }
        std::printf("%.2f %llu %llu\n", double(zone) / double(entries),
                    static_cast<unsigned long long>(entries),
                    static_cast<unsigned long long>(seen_capacity(h)));
        return 0;
    }

    if (op == "xmode_verify") {
        // A small Aliyun call-control query: sign once, verify N times.
        param_list params(32);
        std::string secret = "bench-aliyun-secret";
        params.add("signatureMethod", "HMAC-SHA1");
        params.add("signatureVersion", "1.0");
        params.add("format", "JSON");
        params.add("signatureNonce", "6b3c2f0e9d8a47b1a2c3d4e5f6a7b8c9");
        params.add("timestamp", "2026-11-29T03:00:00Z");
        params.add("callNo", "13800000001");
        params.add("secretNo", "17000000002");
        params.add("callId", "4361263371abcd01");
        xmode_options opt;
        std::string scratch, sig;
        scratch.reserve(1024);
        if (xmode_sign(params, secret, opt, scratch, sig) != sig_error::ok)
            return 1;
        params.add("signature", sig);
        hmac_key key;
        if (!key.set(hmac_algorithm::sha1, {secret}))
            return 1;
        for (long i = 0; i < n; i++) {
            if (xmode_verify(params, key, opt, scratch) != sig_error::ok)
                return 1;
        }
        return 0;
    }

    if (op == "aliyun_query_verify") {
        // What the access handler does with a query-string callback:
        // parse (decode, UTF-8, sort) and verify.
        if (argc < 5) {
            std::fprintf(stderr, "%s needs QUERY SECRET\n", op.c_str());
            return 2;
        }
        std::string query = argv[3];
        std::string secret = argv[4];
        param_list params(64);
        std::string arena, scratch;
        scratch.reserve(4096);
        hmac_key key;
        if (!key.set(hmac_algorithm::sha1, {secret}))
            return 1;
        xmode_options opt;
        for (long i = 0; i < n; i++) {
            params.clear();
            arena.clear();
            arena.reserve(query.size());
            if (parse_urlencoded(query, 8192, params, arena) != params_error::ok
                || xmode_verify(params, key, opt, scratch) != sig_error::ok)
                return 1;
        }
        return 0;
    }

    if (op == "aksk_verify") {
        std::string secret = "bench-huawei-secret";
        std::string nonce = "6b3c2f0e9d8a47b1a2c3d4e5f6a7b8c9";
        std::string created = "2026-11-29T03:00:00Z";
        sha256_base64 d;
        if (aksk_digest(secret, nonce, created, d) != sig_error::ok)
            return 1;
        std::string digest(as_view(d));
        hmac_key key;
        if (!key.set(hmac_algorithm::sha256, {secret}))
            return 1;
        for (long i = 0; i < n; i++) {
            if (aksk_verify(key, nonce, created, digest) != sig_error::ok)
                return 1;
        }
        return 0;
    }

    if (argc < 4) {
        std::fprintf(stderr, "%s needs the push file\n", op.c_str());
        return 2;
    }
    std::ifstream f(argv[3], std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(f)),
                     std::istreambuf_iterator<char>());
    // as the module hands it over: followed by cdr_padding bytes
    body.resize(body.size() + cdr_padding);
    size_t len = body.size() - cdr_padding;
    // One parser, as a worker keeps it, and the push's memory from a
    // bump region emptied per parse, as nginx's request pool would be.
    static bump_region region;
    cdr_parser parser;
    cdr_push push(cdr_allocator{bump_region::alloc, &region});
    cdr_options options;
    options.padded = true;

    dialect dialect = dialect::huawei;
    push_type type = push_type::cdr;
    if (argc > 4 && !push_type_from_name(dialect, argv[4], &type)) {
        dialect = dialect::aliyun;
        if (!push_type_from_name(dialect, argv[4], &type)) {
            std::fprintf(stderr, "unknown push type %s\n", argv[4]);
            return 2;
        }
    }
    options.types = push_type_bit(type);

    if (op == "body_digest") {
        // the digest an identical retry is answered from (wall time: the
        // SHA-NI OpenSSL uses is hidden from valgrind)
        unsigned char digest[cdr_body_digest_size];
        for (long i = 0; i < n; i++) {
            if (!cdr_body_digest("bench-app", {body.data(), len}, digest))
                return 1;
            sink = digest[0];
        }
        return 0;
    }

    if (op == "parse_push" || op == "parse_event") {
        for (long i = 0; i < n; i++) {
            region.used = 0;
            if (parse_push(parser, dialect, body.data(), len, options, push)
                != cdr_status::ok)
                return 1;
            sink = push.valid_count();
        }
        return 0;
    }

    if (op == "dedup_lines" || op == "event_lines") {
        // NDJSON line serialisation of every record of one parsed push
        // (the key is rendered into the line); one op = one record.
        if (parse_push(parser, dialect, body.data(), len, options, push)
            != cdr_status::ok)
            return 1;
        cdr_line_meta meta{"", "2026-11-29T03:00:00Z"};
        std::string buf(64 * 1024, '\0');
        size_t records = push.size();
        for (long i = 0; i < n; i++) {
            size_t r = static_cast<size_t>(i) % records;
            size_t w = cdr_write_line(push, r, meta, &buf[0], buf.size());
            if (w == 0)
                return 1;
            sink = w + push[r].key_len + push[r].key_digest[0];
        }
        return 0;
    }

    std::fprintf(stderr, "unknown op %s\n", op.c_str());
    return 2;
}
