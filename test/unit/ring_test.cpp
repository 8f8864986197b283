#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/ring.hpp"
#include "ring_test_util.hpp"

using namespace provision_x;
using namespace ring_test;

namespace {

constexpr size_t small = 8192; /* 32 slots, a ring of about 6 KB */
constexpr uint64_t t0 = 1000000;

std::vector<std::string>
records(const std::string &prefix, int n, size_t pad = 0)
{
    std::vector<std::string> out;
    for (int i = 0; i < n; i++) {
        out.push_back(prefix + std::to_string(i) + std::string(pad, '.'));
    }
    return out;
}

ring_stats
stats(const ring_header *h, uint64_t now_ms = t0)
{
    ring_stats st;
    ring_get_stats(h, now_ms, &st);
    return st;
}

/* records 32 bytes of header plus the bytes, 8-aligned */
uint64_t
entry(size_t len)
{
    return (sizeof(ring_rec) + len + 7) / 8 * 8;
}

} // namespace

TEST(Ring, InitLaysOutSlotsAndRing)
{
    ring_memory r(small);
    ASSERT_NE(r.h, nullptr);
    EXPECT_TRUE(ring_valid(r.h));
    EXPECT_EQ(r.h->nslots, 32u);
    EXPECT_EQ(r.h->cap % 8, 0u);
    EXPECT_EQ(r.h->cap, (small - sizeof(ring_header) - 32 * sizeof(ring_slot))
                            & ~uint64_t{7});
    EXPECT_EQ(r.h->head, 0u);
    EXPECT_EQ(r.h->tail, 0u);
    EXPECT_EQ(r.h->holder, 0);

    /* about one slot per 8 KB, at most 1024 */
    ring_memory mid(1 << 20);
    EXPECT_EQ(mid.h->nslots, 128u);
    ring_memory big(16 << 20);
    EXPECT_EQ(big.h->nslots, 1024u);
}

TEST(Ring, InitRefusesTooSmallARegion)
{
    size_t overhead = sizeof(ring_header) + 32 * sizeof(ring_slot);
    std::vector<uint64_t> mem(1024);

    EXPECT_EQ(ring_init(mem.data(), overhead + 4095), nullptr);
    EXPECT_NE(ring_init(mem.data(), overhead + 4096), nullptr);
}

TEST(Ring, ValidChecksMagicAndVersion)
{
    ring_memory r(small);
    r.h->version = ring_version + 1;
    EXPECT_FALSE(ring_valid(r.h));
    r.h->version = ring_version;
    r.h->magic ^= 1;
    EXPECT_FALSE(ring_valid(r.h));
}

TEST(Ring, PushAppendsInOrder)
{
    ring_memory r(small);

    EXPECT_EQ(push(r.h, {"a", "bb", ""}, 42), ring_push_result::ok);
    EXPECT_EQ(push(r.h, {"ccc"}, 43), ring_push_result::ok);
    EXPECT_EQ(contents(r.h), (std::vector<std::string>{"a", "bb", "", "ccc"}));

    ring_stats st = stats(r.h);
    EXPECT_EQ(st.depth, 4u);
    EXPECT_EQ(ring_depth_unlocked(r.h), 4u);
    EXPECT_EQ(st.enqueued, 4u);
    EXPECT_EQ(st.bytes_used, entry(1) + entry(2) + entry(0) + entry(3));
    EXPECT_EQ(st.bytes_free, r.h->cap - st.bytes_used);
    EXPECT_TRUE(st.any);
    EXPECT_EQ(st.oldest, 42);
    EXPECT_EQ(rec_at(r.h, 0)->enqueued, 42);
    EXPECT_EQ(rec_at(r.h, 0)->deliveries, 0u);
}

TEST(Ring, PushIsAllOrNoneWhenFull)
{
    ring_memory r(small);
    std::vector<std::string> two = records("r", 2, 366); /* 400 bytes */
    int pushed = 0;

    ASSERT_EQ(entry(two[0].size()), 400u);
    while (push(r.h, two) == ring_push_result::ok) {
        pushed++;
    }

    /* one record of the two would still fit: none was written */
    ASSERT_GT(pushed, 0);
    ASSERT_GE(r.h->cap - (r.h->tail - r.h->head), 400u);
    EXPECT_EQ(r.h->tail, pushed * 800u);
    EXPECT_EQ(contents(r.h).size(), pushed * 2u);
    EXPECT_EQ(r.h->depth, pushed * 2u);
    EXPECT_EQ(stats(r.h).refused_full, 1u);

    EXPECT_EQ(push(r.h, two), ring_push_result::full);
    EXPECT_EQ(r.h->tail, pushed * 800u);
    EXPECT_EQ(stats(r.h).refused_full, 2u);
    EXPECT_EQ(stats(r.h).enqueued, pushed * 2u);
}

TEST(Ring, PushLargerThanTheRingIsTooLarge)
{
    ring_memory r(small);
    std::string huge(r.h->cap, 'x');

    EXPECT_EQ(push(r.h, {huge}), ring_push_result::too_large);
    EXPECT_EQ(push(r.h, records("r", 2, r.h->cap / 2)),
              ring_push_result::too_large);
    EXPECT_EQ(r.h->tail, 0u);
    EXPECT_EQ(stats(r.h).refused_full, 0u);

    std::vector<std::string> v = {"a"};
    EXPECT_EQ(ring_batch_bytes({v.data(), 1, string_at}), entry(1));
}

TEST(Ring, BatchBytesOfARecordNoEntryCanHold)
{
    struct fake {
        static ring_record at(const void *, size_t) noexcept
        {
            return {{{nullptr, uint64_t{UINT32_MAX}}, {}, {}}};
        }
    };

    EXPECT_EQ(ring_batch_bytes({nullptr, 1, fake::at}), UINT64_MAX);

    ring_memory r(small);
    EXPECT_EQ(ring_push(r.h, {nullptr, 1, fake::at}, 0),
              ring_push_result::too_large);
}

TEST(Ring, LeaseHandsOutVisibleRecordsInOrder)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 5)), ring_push_result::ok);

    lease_out a = lease(r.h, t0, 1000, 2);
    ASSERT_EQ(a.rc, ring_lease_result::ready);
    EXPECT_EQ(a.records, (std::vector<std::string>{"r0", "r1"}));
    EXPECT_EQ(a.redelivered, 0u);

    lease_out b = lease(r.h, t0, 1000, 10);
    ASSERT_EQ(b.rc, ring_lease_result::ready);
    EXPECT_EQ(b.records, (std::vector<std::string>{"r2", "r3", "r4"}));
    EXPECT_NE(a.id, b.id);

    EXPECT_EQ(lease(r.h, t0, 1000, 10).rc, ring_lease_result::empty);

    ring_stats st = stats(r.h);
    EXPECT_EQ(st.depth, 5u);
    EXPECT_EQ(st.leased, 5u);
    EXPECT_EQ(st.leased_total, 5u);
    EXPECT_EQ(contents(r.h).size(), 5u); /* leased records are not gone */
}

TEST(Ring, LeaseIdIsSlotGenerationAndRandom)
{
    ring_memory r(small);
    r.h->next_slot = 0x1f;
    ASSERT_EQ(push(r.h, {"a"}), ring_push_result::ok);

    lease_out a = lease(r.h, t0, 1000, 1, 0xab);
    ASSERT_EQ(a.rc, ring_lease_result::ready);
    ASSERT_EQ(a.id.size(), ring_lease_id_size);

    auto *id = reinterpret_cast<const unsigned char *>(a.id.data());
    EXPECT_EQ(id[0], 0x00);
    EXPECT_EQ(id[1], 0x1f); /* the slot, big-endian */
    EXPECT_EQ(id[2] | id[3] | id[4], 0);
    EXPECT_EQ(id[5], 1); /* generation 1 */
    for (size_t i = 6; i < ring_lease_id_size; i++) {
        EXPECT_EQ(id[i], 0xab);
    }
    EXPECT_EQ(std::memcmp(slots_of(r.h)[0x1f].id, id, ring_lease_id_size), 0);
    EXPECT_EQ(r.h->next_slot, 0x20u % r.h->nslots);
}

TEST(Ring, GenerationSkipsZeroWhenItWraps)
{
    ring_memory r(small);
    slots_of(r.h)[0].gen = UINT32_MAX;
    ASSERT_EQ(push(r.h, {"a"}), ring_push_result::ok);

    lease_out a = lease(r.h, t0, 1000, 1);
    ASSERT_EQ(a.rc, ring_lease_result::ready);
    EXPECT_EQ(slots_of(r.h)[0].gen, 1u);
    EXPECT_EQ(ack(r.h, a.id, t0), ring_ack_result::acked);
}

TEST(Ring, FindFreeSlotTakesTheNextInTurn)
{
    ring_memory r(small);

    EXPECT_EQ(ring_find_free_slot(r.h), 0u);
    r.h->next_slot = 5;
    EXPECT_EQ(ring_find_free_slot(r.h), 5u);
    slots_of(r.h)[5].state = ring_slot_active;
    slots_of(r.h)[6].state = ring_slot_acking;
    EXPECT_EQ(ring_find_free_slot(r.h), 7u);

    for (uint32_t i = 0; i < r.h->nslots; i++) {
        slots_of(r.h)[i].state = ring_slot_active;
    }
    EXPECT_EQ(ring_find_free_slot(r.h), ring_no_slot);
}

TEST(Ring, CollectVisibleOnlyReads)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 4)), ring_push_result::ok);
    ASSERT_EQ(lease(r.h, t0, 1000, 1).rc, ring_lease_result::ready);

    std::vector<uint64_t> before = r.mem;
    uint64_t found[8];
    ring_lease_plan plan;

    ring_collect_visible(r.h, found, 8, &plan);

    EXPECT_EQ(r.mem, before);
    EXPECT_EQ(plan.count, 3u);
    EXPECT_EQ(plan.body_len, 3u * 3); /* "rN\n" */
    EXPECT_EQ(found[0], entry(2));
    EXPECT_EQ(plan.end, r.h->tail);
}

TEST(Ring, CommitTagsRecordsThenActivatesTheSlot)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 3)), ring_push_result::ok);

    uint64_t found[2];
    ring_lease_plan plan;
    ASSERT_EQ(ring_lease_prepare(r.h, t0, found, 2, &plan),
              ring_lease_result::ready);
    EXPECT_EQ(plan.slot, 0u);
    EXPECT_EQ(plan.count, 2u);

    /* preparing committed nothing: the slot is free, nothing tagged */
    EXPECT_EQ(slots_of(r.h)[0].state, ring_slot_free);
    EXPECT_EQ(rec_at(r.h, found[0])->slot, ring_no_slot);

    unsigned char random[ring_lease_random_size] = {};
    std::string body(plan.body_len, '\0');
    ring_leased out;
    ring_commit_lease(r.h, plan, found, t0 + 500, random,
                      reinterpret_cast<unsigned char *>(body.data()), &out);

    EXPECT_EQ(body, "r0\nr1\n");
    EXPECT_EQ(out.count, 2u);
    const ring_slot &s = slots_of(r.h)[0];
    EXPECT_EQ(s.state, ring_slot_active);
    EXPECT_EQ(s.count, 2u);
    EXPECT_EQ(s.expire, t0 + 500);
    EXPECT_EQ(s.first, found[0]);
    EXPECT_EQ(s.last, found[1]);
    EXPECT_EQ(rec_at(r.h, found[1])->slot, 0u);
    EXPECT_EQ(rec_at(r.h, found[1])->gen, s.gen);
    EXPECT_EQ(rec_at(r.h, found[1])->deliveries, 1u);
    EXPECT_EQ(r.h->scan, plan.end);
}

TEST(Ring, NoFreeSlotOnlyWhenARecordIsVisible)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 33)), ring_push_result::ok);

    std::vector<lease_out> open;
    for (uint32_t i = 0; i < r.h->nslots; i++) {
        open.push_back(lease(r.h, t0, 1000, 1));
        ASSERT_EQ(open.back().rc, ring_lease_result::ready);
    }

    /* r32 waits, and every slot holds a lease */
    EXPECT_EQ(lease(r.h, t0, 1000, 1).rc, ring_lease_result::no_slot_free);

    ASSERT_EQ(ack(r.h, open[7].id, t0), ring_ack_result::acked);
    lease_out last = lease(r.h, t0, 1000, 1);
    ASSERT_EQ(last.rc, ring_lease_result::ready);
    EXPECT_EQ(last.records, std::vector<std::string>{"r32"});

    /* nothing is visible: empty, though no slot is free either */
    EXPECT_EQ(ring_find_free_slot(r.h), ring_no_slot);
    EXPECT_EQ(lease(r.h, t0, 1000, 1).rc, ring_lease_result::empty);
}

TEST(Ring, AckRemovesTheRecordsAndFreesTheirSpace)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 3)), ring_push_result::ok);

    lease_out a = lease(r.h, t0, 1000, 3);
    ASSERT_EQ(a.rc, ring_lease_result::ready);

    uint32_t count = 0;
    EXPECT_EQ(ack(r.h, a.id, t0 + 999, &count), ring_ack_result::acked);
    EXPECT_EQ(count, 3u);
    EXPECT_TRUE(contents(r.h).empty());

    ring_stats st = stats(r.h);
    EXPECT_EQ(st.depth, 0u);
    EXPECT_EQ(st.leased, 0u);
    EXPECT_EQ(st.bytes_used, 0u);
    EXPECT_EQ(st.acknowledged, 3u);
    EXPECT_FALSE(st.any);

    /* a repeated ack (its answer was lost) gets the same answer */
    count = 0;
    EXPECT_EQ(ack(r.h, a.id, t0 + 5000, &count), ring_ack_result::acked);
    EXPECT_EQ(count, 3u);
    EXPECT_EQ(stats(r.h).acknowledged, 3u);
}

TEST(Ring, AckOfAnUnknownLease)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 2)), ring_push_result::ok);
    lease_out a = lease(r.h, t0, 1000, 2);
    ASSERT_EQ(a.rc, ring_lease_result::ready);

    std::string forged = a.id;
    forged[15] ^= 1; /* the random part */
    EXPECT_EQ(ack(r.h, forged, t0), ring_ack_result::unknown);

    forged = a.id;
    forged[5] = 2; /* the next generation */
    EXPECT_EQ(ack(r.h, forged, t0), ring_ack_result::unknown);

    forged = a.id;
    forged[2] = forged[3] = forged[4] = forged[5] = 0; /* generation 0 */
    EXPECT_EQ(ack(r.h, forged, t0), ring_ack_result::unknown);

    forged = a.id;
    forged[0] = 0x7f; /* no such slot */
    EXPECT_EQ(ack(r.h, forged, t0), ring_ack_result::unknown);

    /* an id of a slot never leased */
    forged = a.id;
    forged[1] = 3;
    EXPECT_EQ(ack(r.h, forged, t0), ring_ack_result::unknown);

    EXPECT_EQ(contents(r.h).size(), 2u);
    EXPECT_EQ(ack(r.h, a.id, t0), ring_ack_result::acked);
}

TEST(Ring, AnExpiredLeaseIsDeliveredAgain)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 3)), ring_push_result::ok);

    lease_out a = lease(r.h, t0, 100, 2);
    ASSERT_EQ(a.rc, ring_lease_result::ready);

    /* until it expires, nothing but r2 is visible */
    lease_out b = lease(r.h, t0 + 99, 100, 10);
    EXPECT_EQ(b.records, (std::vector<std::string>{"r2"}));
    EXPECT_EQ(lease(r.h, t0 + 99, 100, 10).rc, ring_lease_result::empty);
    EXPECT_EQ(stats(r.h, t0 + 99).leased, 3u);

    /* at its expiry the records are visible again, in order */
    lease_out c = lease(r.h, t0 + 100, 100, 10);
    ASSERT_EQ(c.rc, ring_lease_result::ready);
    EXPECT_EQ(c.records, (std::vector<std::string>{"r0", "r1"}));
    EXPECT_EQ(c.redelivered, 2u);
    EXPECT_EQ(stats(r.h, t0 + 100).redelivered, 2u);
    EXPECT_EQ(rec_at(r.h, 0)->deliveries, 2u);

    /* the late ack of the expired lease acknowledges nothing */
    EXPECT_EQ(ack(r.h, a.id, t0 + 100), ring_ack_result::expired);
    EXPECT_EQ(contents(r.h).size(), 3u);
    EXPECT_EQ(ack(r.h, c.id, t0 + 150), ring_ack_result::acked);
    EXPECT_EQ(ack(r.h, b.id, t0 + 150), ring_ack_result::acked);
    EXPECT_TRUE(contents(r.h).empty());
}

TEST(Ring, AckOfAnExpiredLeaseSaysSo)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 2)), ring_push_result::ok);
    lease_out a = lease(r.h, t0, 100, 2);
    ASSERT_EQ(a.rc, ring_lease_result::ready);

    uint32_t count = 7;
    /* not even at the very millisecond it ends */
    EXPECT_EQ(ack(r.h, a.id, t0 + 100, &count), ring_ack_result::expired);
    EXPECT_EQ(count, 0u);
    EXPECT_EQ(contents(r.h).size(), 2u);
    EXPECT_EQ(stats(r.h, t0 + 100).depth, 2u);
    EXPECT_EQ(stats(r.h, t0 + 100).acknowledged, 0u);

    /* and says it again, until its slot is leased anew */
    EXPECT_EQ(ack(r.h, a.id, t0 + 200), ring_ack_result::expired);
    lease_out b = lease(r.h, t0 + 200, 100, 2);
    ASSERT_EQ(b.rc, ring_lease_result::ready);
    EXPECT_EQ(ack(r.h, a.id, t0 + 200), ring_ack_result::expired);

    ASSERT_EQ(push(r.h, {"x"}), ring_push_result::ok);
    r.h->next_slot = 0;
    ASSERT_EQ(lease(r.h, t0 + 200, 100, 1).rc, ring_lease_result::ready);
    EXPECT_EQ(ack(r.h, a.id, t0 + 200), ring_ack_result::unknown);
}

TEST(Ring, ReapFreesOnlyExpiredLeases)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 2)), ring_push_result::ok);
    ASSERT_EQ(lease(r.h, t0, 100, 1).rc, ring_lease_result::ready);
    ASSERT_EQ(lease(r.h, t0, 300, 1).rc, ring_lease_result::ready);

    ring_reap(r.h, t0 + 200);

    EXPECT_EQ(slots_of(r.h)[0].state, ring_slot_free);
    EXPECT_EQ(slots_of(r.h)[0].outcome, ring_ended_expired);
    EXPECT_EQ(slots_of(r.h)[1].state, ring_slot_active);
    EXPECT_EQ(r.h->scan, 0u); /* the next lease looks from r0 again */
}

TEST(Ring, AnUnacknowledgedRecordHoldsTheSpaceBehindIt)
{
    ring_memory r(small);
    std::vector<std::string> one = records("r", 1, 400);
    ASSERT_EQ(push(r.h, one), ring_push_result::ok);
    lease_out first = lease(r.h, t0, 100, 1);
    ASSERT_EQ(first.rc, ring_lease_result::ready);

    int n = 0;
    while (push(r.h, one) == ring_push_result::ok) {
        n++;
    }

    /* acknowledging all the others frees nothing */
    lease_out rest = lease(r.h, t0, 10000, 1000);
    ASSERT_EQ(rest.records.size(), static_cast<size_t>(n));
    ASSERT_EQ(ack(r.h, rest.id, t0), ring_ack_result::acked);
    EXPECT_EQ(push(r.h, one), ring_push_result::full);

    /* once the first is acknowledged, the whole ring is free */
    lease_out again = lease(r.h, t0 + 100, 100, 10);
    ASSERT_EQ(again.records.size(), 1u);
    ASSERT_EQ(ack(r.h, again.id, t0 + 100), ring_ack_result::acked);
    EXPECT_EQ(stats(r.h).bytes_used, 0u);
    EXPECT_EQ(push(r.h, one), ring_push_result::ok);
}

TEST(Ring, WrapsAroundManyLapsWithoutSplittingARecord)
{
    ring_memory r(small);
    uint64_t seq = 0, next = 0;

    for (int round = 0; round < 2000; round++) {
        std::vector<std::string> batch;
        for (int i = 0; i < 1 + round % 3; i++, seq++) {
            batch.push_back(std::to_string(seq) + ":"
                            + std::string((seq * 37) % 700, 'a' + seq % 26));
        }

        if (push(r.h, batch) != ring_push_result::ok) {
            seq -= batch.size();
        }

        lease_out l = lease(r.h, t0, 1000, 1 + round % 4);
        if (l.rc != ring_lease_result::ready) {
            continue;
        }

        for (const std::string &rec : l.records) {
            uint64_t got = std::stoull(rec);
            ASSERT_EQ(got, next) << "records come out in order";
            ASSERT_EQ(rec.size(),
                      std::to_string(got).size() + 1 + (got * 37) % 700);
            ASSERT_EQ(rec.back(), (got * 37) % 700 == 0 ? ':' : 'a' + got % 26);
            next++;
        }

        ASSERT_EQ(ack(r.h, l.id, t0), ring_ack_result::acked);
    }

    /* every entry lies inside one lap */
    uint64_t bad = 0;
    EXPECT_TRUE(for_each_entry(
        r.h, [](uint64_t, ring_rec *) {}, &bad))
        << bad;

    EXPECT_GT(r.h->tail, 20 * r.h->cap) << "the ring went round many times";
    EXPECT_GT(next, 1000u);
    EXPECT_EQ(r.h->depth, seq - next);
}

TEST(Ring, APadFillsTheEndOfALapARecordDoesNotFit)
{
    ring_memory r(small);
    uint64_t cap = r.h->cap;
    /* fill all but 200 bytes of the first lap, then free it */
    std::string fill(cap - 200 - sizeof(ring_rec), 'f');
    ASSERT_EQ(push(r.h, {fill}), ring_push_result::ok);
    lease_out a = lease(r.h, t0, 100, 1);
    ASSERT_EQ(ack(r.h, a.id, t0), ring_ack_result::acked);

    /* 200 bytes left at the end: a 300-byte record starts the next lap */
    std::string rec(300, 'x');
    ASSERT_EQ(push(r.h, {rec}), ring_push_result::ok);
    ring_rec *pad = rec_at(r.h, cap - 200);
    EXPECT_EQ(pad->state, ring_rec_pad);
    EXPECT_EQ(pad->size, 200u);
    EXPECT_EQ(rec_at(r.h, cap)->len, 300u);
    EXPECT_EQ(r.h->tail, cap + entry(300));
    EXPECT_EQ(contents(r.h), std::vector<std::string>{rec});
    EXPECT_EQ(r.h->depth, 1u);
}

TEST(Ring, TooLittleRoomForAHeaderIsSkippedWithoutAPad)
{
    ring_memory r(small);
    uint64_t cap = r.h->cap;
    std::string fill(cap - 16 - sizeof(ring_rec), 'f');
    ASSERT_EQ(push(r.h, {fill}), ring_push_result::ok);
    lease_out a = lease(r.h, t0, 100, 1);
    ASSERT_EQ(ack(r.h, a.id, t0), ring_ack_result::acked);

    ASSERT_EQ(push(r.h, {"next"}), ring_push_result::ok);
    EXPECT_EQ(r.h->tail, cap + entry(4));
    EXPECT_EQ(contents(r.h), std::vector<std::string>{"next"});
}

TEST(Ring, AppendKeepsDeliveriesAndArrival)
{
    ring_memory r(small);

    EXPECT_TRUE(ring_append(r.h, "abc", 3, 4, 1234));
    EXPECT_EQ(rec_at(r.h, 0)->deliveries, 4u);
    EXPECT_EQ(rec_at(r.h, 0)->enqueued, 1234);
    EXPECT_EQ(r.h->depth, 1u);

    lease_out a = lease(r.h, t0, 100, 1);
    EXPECT_EQ(a.redelivered, 1u);

    std::string big(r.h->cap, 'x');
    EXPECT_FALSE(ring_append(r.h, big.data(), big.size(), 0, 0));

    while (ring_append(r.h, "0123456789", 10, 0, 0)) {
    }
    EXPECT_LE(r.h->tail - r.h->head, r.h->cap);
    EXPECT_EQ(r.h->depth, contents(r.h).size());
}

TEST(Ring, CarryOverMovesRecordsAndCountersAndRetires)
{
    ring_memory from(small), to(4 * small);
    ASSERT_EQ(push(from.h, records("r", 5)), ring_push_result::ok);
    lease_out acked = lease(from.h, t0, 100, 1);
    ASSERT_EQ(ack(from.h, acked.id, t0), ring_ack_result::acked);
    lease_out open = lease(from.h, t0, 100, 2);
    ASSERT_EQ(open.rc, ring_lease_result::ready);
    from.h->refused_full = 7;

    ring_carried c;
    ASSERT_TRUE(ring_carry_over(from.h, to.h, &c));
    EXPECT_EQ(c.records, 4u);
    EXPECT_EQ(c.bytes, 8u);

    /* the leased records arrive visible: their lease ended */
    EXPECT_EQ(contents(to.h),
              (std::vector<std::string>{"r1", "r2", "r3", "r4"}));
    lease_out all = lease(to.h, t0, 100, 10);
    EXPECT_EQ(all.records.size(), 4u);
    EXPECT_EQ(all.redelivered, 2u);

    ring_stats st = stats(to.h);
    EXPECT_EQ(st.enqueued, 5u);
    EXPECT_EQ(st.acknowledged, 1u);
    EXPECT_EQ(st.leased_total, 3u + 4u);
    EXPECT_EQ(st.refused_full, 7u);

    /* the old ring takes nothing any more */
    EXPECT_EQ(from.h->retired, 1u);
    EXPECT_EQ(push(from.h, {"x"}), ring_push_result::retired);
    EXPECT_EQ(lease(from.h, t0, 100, 1).rc, ring_lease_result::retired);
    EXPECT_EQ(ack(from.h, open.id, t0), ring_ack_result::retired);
}

TEST(Ring, CarryOverThatDoesNotFitLeavesTheOldRingInService)
{
    ring_memory from(4 * small), to(small);
    std::vector<std::string> batch = records("r", 10, 500);
    ASSERT_EQ(push(from.h, batch), ring_push_result::ok);
    ASSERT_EQ(push(from.h, batch), ring_push_result::ok);

    ring_carried c;
    EXPECT_FALSE(ring_carry_over(from.h, to.h, &c));
    EXPECT_EQ(c.records, 20u);
    EXPECT_EQ(c.bytes, 20u * 502);
    EXPECT_EQ(from.h->retired, 0u);
    EXPECT_EQ(push(from.h, {"x"}), ring_push_result::ok);
}

TEST(Ring, EnterAndLeaveWriteTheHolder)
{
    ring_memory r(small);
    ring_recovery rec;

    EXPECT_FALSE(ring_enter(r.h, 4242, &rec));
    EXPECT_EQ(r.h->holder, 4242);
    ring_leave(r.h);
    EXPECT_EQ(r.h->holder, 0);
    EXPECT_EQ(r.h->recovered, 0u);
}

TEST(Ring, RecoveryFinishesAnAckADeadHolderStarted)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 4)), ring_push_result::ok);
    lease_out a = lease(r.h, t0, 1000, 3);
    ASSERT_EQ(a.rc, ring_lease_result::ready);

    /* a holder died right after marking the slot ACKING and one record */
    r.h->holder = 999;
    slots_of(r.h)[0].state = ring_slot_acking;
    rec_at(r.h, 0)->state = ring_rec_acked;
    r.h->depth = 77; /* any value: recovery recounts */

    ring_recovery rec;
    EXPECT_TRUE(ring_enter(r.h, 1000, &rec));
    EXPECT_EQ(rec.holder, 999);
    EXPECT_FALSE(rec.damaged);
    EXPECT_FALSE(rec.bounds_reset);
    ring_leave(r.h);

    EXPECT_EQ(contents(r.h), std::vector<std::string>{"r3"});
    EXPECT_EQ(r.h->depth, 1u);
    EXPECT_EQ(r.h->recovered, 1u);
    EXPECT_EQ(slots_of(r.h)[0].state, ring_slot_free);

    uint32_t count;
    EXPECT_EQ(ack(r.h, a.id, t0, &count), ring_ack_result::acked);
    EXPECT_EQ(count, 3u);
}

TEST(Ring, RecoveryDropsRecordsFromADamagedOneOn)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 4)), ring_push_result::ok);
    uint64_t third = 2 * entry(2);
    rec_at(r.h, third)->size = 12; /* not a multiple of 8 */
    uint64_t tail = r.h->tail;

    ring_recovery rec;
    ring_recover(r.h, &rec);

    EXPECT_TRUE(rec.damaged);
    EXPECT_EQ(rec.damaged_at, third);
    EXPECT_EQ(rec.dropped, tail - third);
    EXPECT_EQ(contents(r.h), (std::vector<std::string>{"r0", "r1"}));
    EXPECT_EQ(r.h->depth, 2u);
    EXPECT_EQ(r.h->tail, third);

    /* and the ring works on */
    EXPECT_EQ(push(r.h, {"x"}), ring_push_result::ok);
    EXPECT_EQ(contents(r.h), (std::vector<std::string>{"r0", "r1", "x"}));
}

TEST(Ring, RecoveryChecksEveryKindOfDamage)
{
    auto damaged = [](void (*damage)(ring_rec *)) {
        ring_memory r(small);
        EXPECT_EQ(push(r.h, records("r", 2)), ring_push_result::ok);
        damage(rec_at(r.h, entry(2)));
        ring_recovery rec;
        ring_recover(r.h, &rec);
        return rec.damaged && rec.damaged_at == entry(2)
               && contents(r.h).size() == 1;
    };

    EXPECT_TRUE(damaged([](ring_rec *rec) { rec->size = 16; }));
    EXPECT_TRUE(damaged([](ring_rec *rec) { rec->size = 48; }));
    EXPECT_TRUE(damaged([](ring_rec *rec) { rec->size = 1 << 20; }));
    EXPECT_TRUE(damaged([](ring_rec *rec) { rec->state = 0; }));
    EXPECT_TRUE(damaged([](ring_rec *rec) { rec->state = 9; }));
    EXPECT_TRUE(damaged([](ring_rec *rec) { rec->len = 9; }));
    EXPECT_FALSE(damaged([](ring_rec *rec) { rec->state = ring_rec_acked; }));
}

TEST(Ring, RecoveryOfImpossibleBoundsDropsEverything)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 2)), ring_push_result::ok);
    r.h->head = r.h->tail + 8;

    ring_recovery rec;
    ring_recover(r.h, &rec);

    EXPECT_TRUE(rec.bounds_reset);
    EXPECT_EQ(rec.bad_tail + 8, rec.bad_head);
    EXPECT_EQ(r.h->head, r.h->tail);
    EXPECT_EQ(r.h->depth, 0u);
    EXPECT_EQ(push(r.h, {"x"}), ring_push_result::ok);
    EXPECT_EQ(contents(r.h), std::vector<std::string>{"x"});
}

TEST(Ring, RecoveryFreesASlotInAnUnknownState)
{
    ring_memory r(small);
    ASSERT_EQ(push(r.h, records("r", 1)), ring_push_result::ok);
    lease_out a = lease(r.h, t0, 1000, 1);
    slots_of(r.h)[0].state = 17;

    ring_recovery rec;
    ring_recover(r.h, &rec);

    EXPECT_EQ(slots_of(r.h)[0].state, ring_slot_free);
    EXPECT_EQ(lease(r.h, t0, 1000, 1).records, std::vector<std::string>{"r0"});
}
