// libFuzzer harness: the queue snapshot format.  Decoding arbitrary bytes
// never crashes, and a file is accepted only when it is exactly what the
// encoder writes for the records it holds.
//
// The first byte picks the mode: even, the rest is the file as it is
// (the checksum rejects nearly every mutation, so this mode mostly tests
// the cheap checks); odd, the rest is a file body followed by the
// trailer's record count (8 bytes) and spare word (4 bytes), and the
// harness writes the trailer with the body's true CRC, so mutations reach
// the record walk and the fields the checksum covers.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/snapshot.hpp"

using namespace provision_x;

namespace {

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

std::string
with_trailer(const uint8_t *data, size_t size)
{
    size_t tail = size < 12 ? size : 12;
    std::string file(reinterpret_cast<const char *>(data), size - tail);
    char spare[12] = {};

    std::memcpy(spare, data + size - tail, tail);

    uint32_t crc = crc32(0, file.data(), file.size());

    file += "PXQSEND1";
    file.append(spare, 8);
    file.append(reinterpret_cast<const char *>(&crc), sizeof(crc));
    file.append(spare + 8, 4);

    return file;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) {
        return 0;
    }

    std::string file =
        (data[0] & 1)
            ? with_trailer(data + 1, size - 1)
            : std::string(reinterpret_cast<const char *>(data + 1), size - 1);
    auto *bytes = reinterpret_cast<const unsigned char *>(file.data());
    uint64_t count = 12345;

    snapshot_error e = snapshot_check(bytes, file.size(), &count);

    check(snapshot_error_text(e) != nullptr);

    if (e != snapshot_error::none) {
        check(count == 0);
        return 0;
    }

    /* accepted: the reader yields `count` records, which encode back to
     * the very same bytes */
    snapshot_reader r = snapshot_records(bytes, file.size());
    snapshot_record rec;
    snapshot_encoder enc;
    unsigned char head[snapshot_header_size];
    unsigned char rhead[snapshot_record_header_size];
    unsigned char trailer[snapshot_trailer_size];
    std::string out;
    uint64_t n = 0;

    snapshot_encode_header(&enc, head);
    out.append(reinterpret_cast<char *>(head), sizeof(head));

    while (snapshot_next(&r, &rec)) {
        check(rec.bytes >= bytes && rec.bytes + rec.len <= bytes + file.size());
        snapshot_encode_record(&enc, rec, rhead);
        out.append(reinterpret_cast<char *>(rhead), sizeof(rhead));
        out.append(reinterpret_cast<const char *>(rec.bytes), rec.len);
        n++;
    }

    snapshot_encode_trailer(&enc, trailer);
    out.append(reinterpret_cast<char *>(trailer), sizeof(trailer));

    check(n == count);
    check(out == file);

    return 0;
}
