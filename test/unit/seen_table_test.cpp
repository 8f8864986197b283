#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/seen_table.hpp"

using namespace provision_x;

namespace {

constexpr int64_t t0 = 1800000000;

struct table {
    std::vector<unsigned char> mem;

    explicit table(uint32_t buckets, seen_kind kind = seen_kind::nonce)
        : mem(seen_table_bytes(buckets))
    {
        seen_init(h(), buckets, kind, t0, 0x5eed);
    }

    seen_header *h()
    {
        return reinterpret_cast<seen_header *>(mem.data());
    }
};

struct digest {
    unsigned char b[seen_digest_size];
};

digest
make_digest(uint64_t n)
{
    /* spread like a SHA-256 prefix would be */
    std::mt19937_64 g(n * 0x9e3779b97f4a7c15ULL + 1);
    digest d;
    for (size_t i = 0; i < sizeof(d.b); i += 8) {
        uint64_t v = g();
        std::memcpy(d.b + i, &v, 8);
    }
    return d;
}

seen_result
add(table &t, uint64_t n, int64_t expire, int64_t now = t0, uint32_t owner = 0,
    uint64_t share = 0)
{
    return seen_add(t.h(), make_digest(n).b, expire, owner, share, now);
}

bool
has(table &t, uint64_t n, int64_t now = t0)
{
    return seen_contains(t.h(), make_digest(n).b, now);
}

} // namespace

TEST(SeenTable, SlotsAreTwentyFourBytesOfZone)
{
    EXPECT_EQ(24u, sizeof(seen_slot));
    uint32_t buckets = seen_buckets_for(1 << 20);
    EXPECT_LE(seen_table_bytes(buckets), size_t(1) << 20);
    EXPECT_GT(seen_table_bytes(buckets + 1), size_t(1) << 20);
    /* 1 MB: header and counters aside, one slot per 24 bytes */
    EXPECT_GT(buckets * seen_bucket_slots, (1u << 20) / 25);
}

TEST(SeenTable, AddThenPresentUntilExpiry)
{
    table t(16);

    EXPECT_EQ(seen_result::added, add(t, 1, t0 + 10));
    EXPECT_TRUE(has(t, 1));
    EXPECT_FALSE(has(t, 2));
    EXPECT_EQ(seen_result::present, add(t, 1, t0 + 10));
    EXPECT_EQ(seen_result::present, add(t, 1, t0 + 10, t0 + 9));

    /* at its expiry time the entry is gone and the digest may come again */
    EXPECT_FALSE(has(t, 1, t0 + 10));
    EXPECT_EQ(seen_result::added, add(t, 1, t0 + 30, t0 + 10));
    EXPECT_TRUE(has(t, 1, t0 + 29));
    EXPECT_FALSE(has(t, 1, t0 + 30));
}

TEST(SeenTable, AnExpiredEntryIsNotStored)
{
    table t(4);

    EXPECT_EQ(seen_result::added, add(t, 1, t0));
    EXPECT_FALSE(has(t, 1));
    EXPECT_EQ(0u, seen_counted_total(t.h()));
}

TEST(SeenTable, FillsMostSlotsBeforeRefusingAndNeverEvicts)
{
    table t(512);
    uint64_t capacity = seen_capacity(t.h());
    uint64_t n = 0;

    while (add(t, n, t0 + 100) == seen_result::added) {
        n++;
    }

    /* two choices of 8 slots and one move: the first refusal comes late */
    EXPECT_GT(n, capacity * 90 / 100) << n << " of " << capacity;
    EXPECT_EQ(1u, t.h()->refused_full);

    for (uint64_t i = 0; i < n; i++) {
        ASSERT_TRUE(has(t, i, t0 + 99)) << i;
    }

    /* once they expire, their slots are free again */
    uint64_t m = 0;
    while (add(t, 1000000 + m, t0 + 300, t0 + 100) == seen_result::added) {
        m++;
    }
    EXPECT_GT(m, capacity * 90 / 100);
    EXPECT_FALSE(has(t, 0, t0 + 100));
}

TEST(SeenTable, CountsEntriesByOwnerUntilTheyAreReclaimed)
{
    table t(64);
    seen_stats st;

    for (uint64_t i = 0; i < 20; i++) {
        ASSERT_EQ(seen_result::added, add(t, i, t0 + 100, t0, 3));
    }
    for (uint64_t i = 20; i < 25; i++) {
        ASSERT_EQ(seen_result::added, add(t, i, t0 + 200, t0, 0));
    }

    EXPECT_EQ(25u, seen_counted_total(t.h()));
    EXPECT_EQ(20u, seen_counted(t.h(), 3));
    EXPECT_EQ(5u, seen_counted(t.h(), 0));

    /* the status page's count is exact at any time */
    seen_get_stats(t.h(), t0 + 150, &st);
    EXPECT_EQ(5u, st.entries);
    EXPECT_EQ(0u, st.owner_entries[3]);
    EXPECT_EQ(5u, st.owner_entries[0]);
    EXPECT_EQ(512u, st.capacity);

    /* adds sweep 32 slots each: after one round of the table every
     * expired entry has been reclaimed and uncounted */
    for (uint64_t i = 0; i < 512 / seen_sweep_slots; i++) {
        ASSERT_EQ(seen_result::added, add(t, 1000 + i, t0 + 300, t0 + 150, 4));
    }
    EXPECT_EQ(0u, seen_counted(t.h(), 3));
    EXPECT_EQ(5u, seen_counted(t.h(), 0));
    EXPECT_EQ(16u, seen_counted(t.h(), 4));
    EXPECT_EQ(21u, seen_counted_total(t.h()));

    /* a recount makes the counts exact at once */
    seen_recount(t.h(), t0 + 250);
    EXPECT_EQ(16u, seen_counted_total(t.h()));
    EXPECT_EQ(0u, seen_counted(t.h(), 0));
}

TEST(SeenTable, AnOwnerCannotTakeMoreThanItsShare)
{
    table t(64);

    for (uint64_t i = 0; i < 10; i++) {
        ASSERT_EQ(seen_result::added, add(t, i, t0 + 100, t0, 1, 10));
    }

    EXPECT_EQ(seen_result::over_share, add(t, 10, t0 + 100, t0, 1, 10));
    EXPECT_EQ(1u, t.h()->refused_share);
    /* a replay is still a replay */
    EXPECT_EQ(seen_result::present, add(t, 3, t0 + 100, t0, 1, 10));
    /* others are not held back */
    EXPECT_EQ(seen_result::added, add(t, 11, t0 + 100, t0, 2, 10));
    /* room comes back once its expired entries are reclaimed: at the
     * latest when the sweep has gone round the table */
    for (uint64_t i = 0; i < 512 / seen_sweep_slots; i++) {
        ASSERT_EQ(seen_result::added, add(t, 100 + i, t0 + 400, t0 + 300, 2));
    }
    EXPECT_EQ(0u, seen_counted(t.h(), 1));
    EXPECT_EQ(seen_result::added, add(t, 12, t0 + 400, t0 + 300, 1, 10));
}

TEST(SeenTable, AWorkerKilledMidAddLeavesAUsableTable)
{
    table t(2);

    for (uint64_t i = 0; i < 5; i++) {
        ASSERT_EQ(seen_result::added, add(t, i, t0 + 100));
    }

    std::vector<unsigned char> before = t.mem;
    ASSERT_EQ(seen_result::added, add(t, 7, t0 + 100, t0, 2));
    std::vector<unsigned char> after = t.mem;

    /* the bytes the add changed, in the order it writes them: counters,
     * then digest and owner, the expiry last */
    std::vector<size_t> changed;
    for (size_t i = 0; i < before.size(); i++) {
        if (before[i] != after[i]) {
            changed.push_back(i);
        }
    }
    ASSERT_FALSE(changed.empty());

    auto *slots = reinterpret_cast<unsigned char *>(t.h()->slots);
    size_t slot_start = static_cast<size_t>(slots - t.mem.data());
    size_t expire_bytes = 0;

    for (size_t k = 0; k <= changed.size(); k++) {
        table img(2);
        img.mem = before;
        for (size_t j = 0; j < k; j++) {
            img.mem[changed[j]] = after[changed[j]];
        }

        bool expire_written = false;
        for (size_t j = 0; j < k; j++) {
            size_t off = changed[j];
            if (off >= slot_start
                && (off - slot_start) % sizeof(seen_slot)
                       >= offsetof(seen_slot, expire)
                && (off - slot_start) % sizeof(seen_slot)
                       < offsetof(seen_slot, owner))
            {
                expire_written = true;
                expire_bytes++;
            }
        }

        /* the old entries are intact at every step */
        for (uint64_t i = 0; i < 5; i++) {
            ASSERT_TRUE(has(img, i)) << "step " << k;
        }

        /* counts never fall below the live entries */
        seen_stats st;
        seen_get_stats(img.h(), t0, &st);
        ASSERT_GE(seen_counted_total(img.h()), st.entries) << "step " << k;

        /* the new one exists only once its expiry is whole; until then a
         * retry adds it */
        if (!expire_written) {
            ASSERT_FALSE(has(img, 7)) << "step " << k;
            ASSERT_EQ(seen_result::added, add(img, 7, t0 + 100, t0, 2));
        }
    }

    EXPECT_GT(expire_bytes, 0u);
}

TEST(SeenTable, CarryOverMovesLiveEntriesOnly)
{
    table from(32);

    for (uint64_t i = 0; i < 100; i++) {
        ASSERT_EQ(seen_result::added,
                  add(from, i, i % 2 ? t0 + 50 : t0 + 500, t0, 1 + i % 3));
    }

    table to(64);
    uint64_t entries = 0;
    ASSERT_TRUE(seen_carry(from.h(), to.h(), t0 + 60, &entries));
    EXPECT_EQ(50u, entries);

    for (uint64_t i = 0; i < 100; i++) {
        EXPECT_EQ(i % 2 == 0, has(to, i, t0 + 60)) << i;
    }
    EXPECT_FALSE(has(to, 0, t0 + 500));
    EXPECT_EQ(50u, seen_counted_total(to.h()));
    EXPECT_EQ(17u, seen_counted(to.h(), 1)); /* even i with i % 3 == 0 */

    table tiny(2);
    EXPECT_FALSE(seen_carry(from.h(), tiny.h(), t0 + 60, &entries));
    EXPECT_EQ(50u, entries);
}

TEST(SeenTable, ARetiredTableAddsNothingButStillAnswers)
{
    table t(8);

    ASSERT_EQ(seen_result::added, add(t, 1, t0 + 100));
    t.h()->retired = 1;
    EXPECT_EQ(seen_result::retired, add(t, 2, t0 + 100));
    EXPECT_TRUE(has(t, 1));
    EXPECT_FALSE(has(t, 2));
}

TEST(SeenTable, AClockSetBackDoesNotResurrectEmptySlots)
{
    table t(4);

    EXPECT_FALSE(has(t, 0, t0 - 86400));
    digest zero{};
    EXPECT_FALSE(seen_contains(t.h(), zero.b, t0 - 86400));
    EXPECT_EQ(seen_result::added,
              seen_add(t.h(), zero.b, t0 + 10, 0, 0, t0 - 86400));
    EXPECT_TRUE(seen_contains(t.h(), zero.b, t0));
}

TEST(SeenTable, ValidatesItsLayout)
{
    table t(4);
    EXPECT_TRUE(seen_valid(t.h()));
    t.h()->version++;
    EXPECT_FALSE(seen_valid(t.h()));
}
