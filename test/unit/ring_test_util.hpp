/*
 * Helpers the ring's unit and crash tests share: a ring in a vector, and
 * push, lease and ack in the shapes a test wants.
 */
#ifndef PROVISION_X_TEST_RING_TEST_UTIL_HPP
#define PROVISION_X_TEST_RING_TEST_UTIL_HPP

#include <cstring>
#include <string>
#include <vector>

#include "core/ring.hpp"

namespace ring_test {

using namespace provision_x;

/* the i-th string in three pieces (at a third and two thirds), so that
 * every push joins pieces as the glue's lines do */
inline ring_record
string_at(const void *items, size_t i) noexcept
{
    auto *s = static_cast<const std::string *>(items);
    const char *d = s[i].data();
    size_t a = s[i].size() / 3, b = s[i].size() * 2 / 3;

    return {{{d, a}, {d + a, b - a}, {d + b, s[i].size() - b}}};
}

inline ring_push_result
push(ring_header *h, const std::vector<std::string> &records, int64_t now = 0)
{
    return ring_push(h, {records.data(), records.size(), string_at}, now);
}

inline ring_slot *
slots_of(ring_header *h)
{
    return reinterpret_cast<ring_slot *>(h + 1);
}

/* the entry at a logical position, read independently of ring.cpp */
inline ring_rec *
rec_at(ring_header *h, uint64_t pos)
{
    auto *ring = reinterpret_cast<unsigned char *>(slots_of(h) + h->nslots);

    return reinterpret_cast<ring_rec *>(ring + pos % h->cap);
}

/*
 * Walks the entries from head to tail as the layout says, independently
 * of ring.cpp: f(pos, rec) for each one, pads included.  False, with
 * *bad its position, at an entry that cannot be there (not a whole
 * number of 8 bytes, across the end of the ring or past the tail).
 */
template <typename F>
bool
for_each_entry(ring_header *h, F f, uint64_t *bad)
{
    for (uint64_t pos = h->head; pos < h->tail;) {
        uint64_t room = h->cap - pos % h->cap;

        if (room < sizeof(ring_rec)) {
            pos += room;
            continue;
        }

        ring_rec *rec = rec_at(h, pos);

        if (rec->size < sizeof(ring_rec) || rec->size > room
            || rec->size % 8 != 0 || pos + rec->size > h->tail)
        {
            *bad = pos;
            return false;
        }

        f(pos, rec);
        pos += rec->size;
    }

    return true;
}

struct lease_out {
    ring_lease_result rc;
    std::string id; /* ring_lease_id_size raw bytes */
    std::vector<std::string> records;
    size_t redelivered = 0;
};

inline lease_out
lease(ring_header *h, uint64_t now_ms, uint64_t timeout_ms, size_t max,
      unsigned char random_byte = 0x5a)
{
    lease_out out;
    std::vector<uint64_t> found(max);
    ring_lease_plan plan;

    out.rc = ring_lease_prepare(h, now_ms, found.data(), max, &plan);
    if (out.rc != ring_lease_result::ready) {
        return out;
    }

    std::vector<unsigned char> random(ring_lease_random_size, random_byte);
    std::string body(plan.body_len, '\0');
    ring_leased leased;

    ring_commit_lease(h, plan, found.data(), now_ms + timeout_ms, random.data(),
                      reinterpret_cast<unsigned char *>(body.data()), &leased);

    out.id.assign(reinterpret_cast<const char *>(leased.id), sizeof(leased.id));
    out.redelivered = leased.redelivered;

    size_t start = 0;
    for (size_t nl; (nl = body.find('\n', start)) != std::string::npos;
         start = nl + 1)
    {
        out.records.push_back(body.substr(start, nl - start));
    }

    return out;
}

inline ring_ack_result
ack(ring_header *h, const std::string &id, uint64_t now_ms,
    uint32_t *count = nullptr)
{
    uint32_t n;
    ring_ack_result rc = ring_ack(
        h, reinterpret_cast<const unsigned char *>(id.data()), now_ms, &n);

    if (count != nullptr) {
        *count = n;
    }

    return rc;
}

inline bool
collect_record(void *data, const ring_rec *rec,
               const unsigned char *bytes) noexcept
{
    static_cast<std::vector<std::string> *>(data)->emplace_back(
        reinterpret_cast<const char *>(bytes), rec->len);
    return true;
}

/* every record not acknowledged, in order */
inline std::vector<std::string>
contents(const ring_header *h)
{
    std::vector<std::string> out;
    ring_walk(h, collect_record, &out);
    return out;
}

/* A ring over `bytes` of 8-aligned memory. */
struct ring_memory {
    std::vector<uint64_t> mem;
    ring_header *h;

    explicit ring_memory(size_t bytes)
        : mem(bytes / sizeof(uint64_t)), h(ring_init(mem.data(), bytes))
    {
    }
};

} // namespace ring_test

#endif /* PROVISION_X_TEST_RING_TEST_UTIL_HPP */
