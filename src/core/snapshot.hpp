/*
 * The snapshot file of a queue zone, as bytes: what the master writes at a
 * graceful stop and reads back at start.  Nothing here touches a file or
 * knows about nginx; the glue (ngx_http_provision_x_queue_snapshot.cpp)
 * holds the policy: which file, when, .tmp/.restored/.damaged, logging.
 *
 * Format (native byte order: the file is meant for the same host):
 *   header   "PXQSNAP1", uint32 version (1), uint32 0
 *   records  uint32 length, uint32 deliveries, int64 arrival (unix
 *            seconds), then the record's bytes
 *   trailer  "PXQSEND1", uint64 record count, uint32 CRC-32 (zlib's) of
 *            every byte before the trailer, uint32 0
 * A file is accepted only when it is exactly what the encoder writes for
 * its records: any other byte string is reported as damaged, with why.
 */
#ifndef PROVISION_X_CORE_SNAPSHOT_HPP
#define PROVISION_X_CORE_SNAPSHOT_HPP

#include <cstddef>
#include <cstdint>

#include "core/plain_data.hpp"

namespace provision_x {

constexpr size_t snapshot_header_size = 16;
constexpr size_t snapshot_record_header_size = 16;
constexpr size_t snapshot_trailer_size = 24;

/*
 * CRC-32 of IEEE 802.3, as zlib's crc32() computes it: start with 0, and
 * pass the result of one call to the next to continue.
 */
uint32_t crc32(uint32_t crc, const void *data, size_t len) noexcept;

enum class snapshot_error {
    none,
    too_short,         /* not even a header and a trailer */
    not_a_snapshot,    /* another magic, version, or a spare word set */
    truncated,         /* no trailer at the end */
    checksum,          /* the CRC does not match */
    bad_record_header, /* the records end inside a record header */
    bad_record_length, /* ... or inside a record's bytes */
    count_mismatch,    /* the trailer counts another number of records */
};

/* The reason as the error log words it ("checksum mismatch", ...). */
const char *snapshot_error_text(snapshot_error e) noexcept;

struct snapshot_record {
    uint32_t len;
    uint32_t deliveries;
    int64_t enqueued; /* unix seconds */
    const unsigned char *bytes;
};

static_assert(is_plain_data<snapshot_record>);

/* Checks a whole file read into memory; *count: its records. */
snapshot_error snapshot_check(const unsigned char *data, size_t size,
                              uint64_t *count) noexcept;

/* The records of a file snapshot_check() accepted, in order. */
struct snapshot_reader {
    const unsigned char *data;
    size_t off;
    size_t end; /* where the trailer starts */
};

snapshot_reader snapshot_records(const unsigned char *data,
                                 size_t size) noexcept;

/* The next record into *rec; false after the last one. */
bool snapshot_next(snapshot_reader *r, snapshot_record *rec) noexcept;

/*
 * Writing, as a stream, so that records go from the zone to the file
 * without a copy of the whole: the header (snapshot_header_size bytes to
 * out), then for each record its header (snapshot_record_header_size
 * bytes) followed by its bytes, which the caller writes, then the trailer
 * (snapshot_trailer_size bytes).  The encoder keeps the running CRC and
 * the count; snapshot_encode_header() starts it.
 */
struct snapshot_encoder {
    uint32_t crc;
    uint64_t count;
};

void snapshot_encode_header(snapshot_encoder *e, unsigned char *out) noexcept;

void snapshot_encode_record(snapshot_encoder *e, const snapshot_record &rec,
                            unsigned char *out) noexcept;

void snapshot_encode_trailer(const snapshot_encoder *e,
                             unsigned char *out) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_SNAPSHOT_HPP */
