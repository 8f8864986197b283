/*
 * The Redis Streams sink without nginx: the RESP (protocol version 2)
 * command the gateway sends and a parser for the replies it reads.
 *
 * One push is one command, EVALSHA (or EVAL) of the sink script:
 *
 *   KEYS  stream, then one dedup key per record:
 *         <prefix><32 hex digits of the record's key digest>
 *   ARGV  ttl, maxlen (0: no cap), dialect,
 *         then per record: line, key, app
 *
 * Per record the script sets the dedup key with NX and the TTL and, only
 * when it was not there, appends the stream entry
 *
 *   line <NDJSON line>  key <record key>  dialect <d>  app <app>
 *
 * with XADD (MAXLEN ~ maxlen when a cap is set).  If an XADD fails the
 * script deletes that record's dedup key again and returns the error:
 * records written before it stay written and keyed, so a retry of the
 * push writes exactly the rest.  It returns a string of '1' (written) and
 * '0' (its key was there: a duplicate) per record, in order.  Every key
 * the script touches is declared in KEYS.
 *
 * Nothing here allocates or throws: the glue sizes a buffer with
 * redis_sink_command_size() and writes into it.
 */

#ifndef PROVISION_X_CORE_REDIS_HPP
#define PROVISION_X_CORE_REDIS_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace provision_x {

constexpr size_t redis_sha1_hex_size = 40;
constexpr size_t redis_digest_size = 16; /* cdr_key_digest_size */

/* The sink script's source, as sent by EVAL. */
std::string_view redis_sink_script() noexcept;

/* Its SHA-1 in lowercase hex, the name EVALSHA uses; false if OpenSSL
 * fails. */
bool redis_sink_script_sha1(char out[redis_sha1_hex_size]) noexcept;

struct redis_sink_record {
    std::string_view line; /* the NDJSON line, no newline */
    std::string_view key;  /* the printable record key */
    std::string_view app;
    const unsigned char *digest; /* redis_digest_size bytes */
};

struct redis_sink_params {
    std::string_view stream;
    std::string_view prefix; /* of the dedup keys */
    std::string_view dialect;
    uint64_t ttl;     /* seconds, > 0 */
    uint64_t maxlen;  /* 0: no cap */
    bool eval;        /* send the script (EVAL) instead of its SHA-1 */
    const char *sha1; /* redis_sha1_hex_size chars, for EVALSHA */
};

size_t redis_sink_command_size(const redis_sink_params &p,
                               const redis_sink_record *records,
                               size_t n) noexcept;

/* Writes the command; returns the end.  buf holds command_size bytes. */
char *redis_sink_command(char *buf, const redis_sink_params &p,
                         const redis_sink_record *records, size_t n) noexcept;

/*
 * RESET, AUTH [user] password and SELECT db, to pipeline ahead of it.
 * RESET (Redis 6.2) first, because a kept-alive connection carries the
 * identity and database of whatever used it before, and a failed AUTH
 * would leave the old identity in place.  RESET answers +RESET.
 */
constexpr std::string_view redis_reset_command = "*1\r\n$5\r\nRESET\r\n";

size_t redis_auth_size(std::string_view user,
                       std::string_view password) noexcept;
char *redis_auth(char *buf, std::string_view user,
                 std::string_view password) noexcept;
size_t redis_select_size(uint64_t db) noexcept;
char *redis_select(char *buf, uint64_t db) noexcept;

enum class resp_type : uint8_t {
    simple,  /* +text   text */
    error,   /* -text   text */
    integer, /* :n      integer */
    bulk,    /* $n      text */
    null,    /* $-1 or *-1 */
    array,   /* *n      integer = n; the elements are not parsed */
};

struct resp_reply {
    resp_type type;
    std::string_view text; /* points into the parsed buffer */
    int64_t integer;
};

enum class resp_rc : uint8_t { ok, incomplete, invalid };

/* Longest bulk string accepted (Redis's own proto-max-bulk-len). */
constexpr int64_t resp_max_bulk = 512 * 1024 * 1024;

/*
 * Parses the reply at the start of [p, p + n).  ok: out and *used (the
 * bytes it took) are set.  incomplete: more bytes are needed.  invalid:
 * not RESP; the connection cannot be trusted any more.
 */
resp_rc resp_parse(const char *p, size_t n, resp_reply &out,
                   size_t *used) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_REDIS_HPP */
