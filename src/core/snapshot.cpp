/*
 * The snapshot file format (snapshot.hpp has the layout).
 */
#include "core/snapshot.hpp"

#include <array>
#include <cstring>

namespace provision_x {

namespace {

constexpr char file_magic[8] = {'P', 'X', 'Q', 'S', 'N', 'A', 'P', '1'};
constexpr char end_magic[8] = {'P', 'X', 'Q', 'S', 'E', 'N', 'D', '1'};
constexpr uint32_t file_version = 1;

struct file_header {
    char magic[8];
    uint32_t version;
    uint32_t reserved;
};

struct file_record {
    uint32_t len;
    uint32_t deliveries;
    int64_t enqueued;
};

struct file_trailer {
    char magic[8];
    uint64_t count;
    uint32_t crc;
    uint32_t reserved;
};

static_assert(sizeof(file_header) == snapshot_header_size
              && sizeof(file_record) == snapshot_record_header_size
              && sizeof(file_trailer) == snapshot_trailer_size);

constexpr std::array<uint32_t, 256>
crc_table() noexcept
{
    std::array<uint32_t, 256> table{};

    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
        }

        table[i] = c;
    }

    return table;
}

constexpr std::array<uint32_t, 256> crc_table_256 = crc_table();

static_assert(crc_table_256[1] == 0x77073096U
              && crc_table_256[255] == 0x2d02ef8dU);

} // namespace

uint32_t
crc32(uint32_t crc, const void *data, size_t len) noexcept
{
    auto *p = static_cast<const unsigned char *>(data);

    crc = ~crc;

    while (len--) {
        crc = crc_table_256[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }

    return ~crc;
}

const char *
snapshot_error_text(snapshot_error e) noexcept
{
    switch (e) {
    case snapshot_error::none:
        return "no error";
    case snapshot_error::too_short:
        return "too short";
    case snapshot_error::not_a_snapshot:
        return "not a queue snapshot of this version";
    case snapshot_error::truncated:
        return "truncated";
    case snapshot_error::checksum:
        return "checksum mismatch";
    case snapshot_error::bad_record_header:
        return "bad record header";
    case snapshot_error::bad_record_length:
        return "bad record length";
    case snapshot_error::count_mismatch:
        return "record count mismatch";
    }

    return "damaged";
}

snapshot_error
snapshot_check(const unsigned char *data, size_t size, uint64_t *count) noexcept
{
    *count = 0;

    if (size < sizeof(file_header) + sizeof(file_trailer)) {
        return snapshot_error::too_short;
    }

    file_header h;
    file_trailer t;
    size_t body = size - sizeof(file_trailer);

    std::memcpy(&h, data, sizeof(h));
    std::memcpy(&t, data + body, sizeof(t));

    /* the spare words are 0 in this version: what sets them is another */
    if (std::memcmp(h.magic, file_magic, sizeof(file_magic)) != 0
        || h.version != file_version || h.reserved != 0)
    {
        return snapshot_error::not_a_snapshot;
    }

    if (std::memcmp(t.magic, end_magic, sizeof(end_magic)) != 0) {
        return snapshot_error::truncated;
    }

    if (t.reserved != 0) {
        return snapshot_error::not_a_snapshot;
    }

    if (crc32(0, data, body) != t.crc) {
        return snapshot_error::checksum;
    }

    /* walk once, so a restore never stops half-way on a bad record */
    uint64_t n = 0;
    size_t off = sizeof(file_header);

    while (off < body) {
        file_record r;

        if (body - off < sizeof(r)) {
            return snapshot_error::bad_record_header;
        }

        std::memcpy(&r, data + off, sizeof(r));
        off += sizeof(r);

        if (body - off < r.len) {
            return snapshot_error::bad_record_length;
        }

        off += r.len;
        n++;
    }

    if (n != t.count) {
        return snapshot_error::count_mismatch;
    }

    *count = n;

    return snapshot_error::none;
}

snapshot_reader
snapshot_records(const unsigned char *data, size_t size) noexcept
{
    return {data, sizeof(file_header), size - sizeof(file_trailer)};
}

bool
snapshot_next(snapshot_reader *r, snapshot_record *rec) noexcept
{
    if (r->end - r->off < sizeof(file_record)) {
        return false;
    }

    file_record fr;

    std::memcpy(&fr, r->data + r->off, sizeof(fr));
    r->off += sizeof(fr);

    if (r->end - r->off < fr.len) {
        r->off = r->end;
        return false;
    }

    rec->len = fr.len;
    rec->deliveries = fr.deliveries;
    rec->enqueued = fr.enqueued;
    rec->bytes = r->data + r->off;
    r->off += fr.len;

    return true;
}

void
snapshot_encode_header(snapshot_encoder *e, unsigned char *out) noexcept
{
    file_header h{};

    std::memcpy(h.magic, file_magic, sizeof(file_magic));
    h.version = file_version;
    std::memcpy(out, &h, sizeof(h));

    e->crc = crc32(0, out, sizeof(h));
    e->count = 0;
}

void
snapshot_encode_record(snapshot_encoder *e, const snapshot_record &rec,
                       unsigned char *out) noexcept
{
    file_record r{rec.len, rec.deliveries, rec.enqueued};

    std::memcpy(out, &r, sizeof(r));

    e->crc = crc32(e->crc, out, sizeof(r));
    e->crc = crc32(e->crc, rec.bytes, rec.len);
    e->count++;
}

void
snapshot_encode_trailer(const snapshot_encoder *e, unsigned char *out) noexcept
{
    file_trailer t{};

    std::memcpy(t.magic, end_magic, sizeof(end_magic));
    t.count = e->count;
    t.crc = e->crc;
    std::memcpy(out, &t, sizeof(t));
}

} // namespace provision_x
