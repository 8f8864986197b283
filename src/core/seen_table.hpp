/*
 * The nonce store and the CDR dedup memory: a set of 16-byte digests, each
 * remembered until its expiry time, laid out in one block of shared memory.
 *
 * Layout.  A header, a table of counters, then buckets of 8 fixed slots
 * (digest, expiry, owner: 24 bytes).  A digest may live in one of two
 * buckets chosen from its own bytes and a per-zone salt; a look-up reads
 * those 16 slots, an add writes one of them.  No links, no allocation:
 * every operation does a fixed amount of work, whatever the number of
 * entries, so it is cheap to run under the zone's lock.
 *
 * Expiry is lazy: a slot whose expiry has passed is free, and the next add
 * that needs it overwrites it.  Nothing is ever evicted before its time;
 * when both buckets of a digest hold only live entries the add is refused
 * ("full") and the caller fails closed.
 *
 * A worker killed at any instruction leaves a usable table: an add writes
 * the digest and owner of a free slot first and its expiry last (one
 * aligned 32-bit store), so a half-written slot is still free.
 *
 * Counting.  Live entries are counted per owner (the app that made them;
 * row 0 for entries no app can be named for), for the fill warning and
 * the per-owner share limit.  A slot with a non-zero expiry is counted
 * until it is reclaimed: by the add that reuses it, or by the sweep that
 * every add advances over the next 32 slots.  So the counts include
 * expired entries not yet reclaimed, at most about 1/32 of the table once
 * the sweep has gone round.  Every step is ordered so that a worker killed
 * in between leaves a count too high (by one), never too low: a share or
 * a fill can be overstated, a live entry never hidden.  A reload that
 * keeps the zone recounts.  The status page counts live slots exactly.
 *
 * Nothing here knows about nginx; the glue holds the lock.
 */
#ifndef PROVISION_X_CORE_SEEN_TABLE_HPP
#define PROVISION_X_CORE_SEEN_TABLE_HPP

#include <cstddef>
#include <cstdint>

#include "core/plain_data.hpp"

namespace provision_x {

constexpr size_t seen_digest_size = 16;
constexpr uint32_t seen_bucket_slots = 8;
constexpr uint32_t seen_sweep_slots = 32;
/* owners: 0 = no app, 1..64 = the apps' stable slots (as in the metrics) */
constexpr uint32_t seen_owners = 65;
constexpr uint32_t seen_no_owner = 0;

enum class seen_kind : uint32_t { nonce = 1, dedup = 2 };

struct seen_slot {
    unsigned char digest[seen_digest_size];
    uint32_t expire; /* seconds after the table's epoch; <= now: free */
    uint16_t owner;
    uint16_t reserved;
};

struct seen_header {
    uint32_t magic;
    uint32_t version;
    seen_kind kind;
    uint32_t buckets;
    int64_t epoch; /* unix time that slot expiry values count from */
    uint64_t salt;
    uint64_t sweep; /* the next slot the sweep looks at */
    uint64_t refused_full;
    uint64_t refused_share;
    int64_t warned_at; /* when the fill warning was last given */
    uint32_t retired;  /* replaced by a resized zone on reload */
    uint32_t reserved;
    /* counted slots by owner; [seen_owners] = all of them */
    uint32_t counts[seen_owners + 1];
    seen_slot slots[1];
};

static_assert(sizeof(seen_slot) == 24, "a slot is 24 bytes");
static_assert(is_plain_data<seen_slot> && is_plain_data<seen_header>,
              "the table lives in shared memory");

enum class seen_result : uint8_t {
    added,
    present,    /* a live entry holds this digest */
    full,       /* both buckets hold only live entries */
    over_share, /* the owner holds its share of the table */
    retired,    /* the table was replaced; nothing is added to it */
};

struct seen_stats {
    uint64_t entries;  /* live */
    uint64_t capacity; /* slots */
    uint64_t refused_full;
    uint64_t refused_share;
    uint64_t owner_entries[seen_owners];
};

/* Bytes a table of `buckets` buckets needs. */
size_t seen_table_bytes(uint32_t buckets) noexcept;

/* The most buckets that fit in `bytes` (0 if not even one). */
uint32_t seen_buckets_for(size_t bytes) noexcept;

/* Lays out an empty table of `buckets` buckets at h (seen_table_bytes()). */
void seen_init(seen_header *h, uint32_t buckets, seen_kind kind, int64_t now,
               uint64_t salt) noexcept;

/* True when h holds a table of this layout version. */
bool seen_valid(const seen_header *h) noexcept;

/* Reclaims every expired slot and recounts the rest (one pass). */
void seen_recount(seen_header *h, int64_t now) noexcept;

bool seen_contains(seen_header *h, const unsigned char *digest,
                   int64_t now) noexcept;

/*
 * Asks the CPU to fetch the two buckets of digest (reads nothing, so no
 * lock): a batch of look-ups prefetched first waits for memory about once
 * instead of once per digest, and not while holding the zone's lock.
 */
void seen_prefetch(const seen_header *h, const unsigned char *digest) noexcept;

/*
 * Adds digest until `expire` (unix time), for owner.  share: the most
 * entries one owner may hold, 0 = no limit.
 */
seen_result seen_add(seen_header *h, const unsigned char *digest,
                     int64_t expire, uint32_t owner, uint64_t share,
                     int64_t now) noexcept;

/* Counted entries of one owner, or of all. */
uint64_t seen_counted(const seen_header *h, uint32_t owner) noexcept;
uint64_t seen_counted_total(const seen_header *h) noexcept;

uint64_t seen_capacity(const seen_header *h) noexcept;

/*
 * Counts the live entries slot by slot: exact, and only reads, so it may
 * run without the lock (a slot being written is seen before or after).
 */
void seen_get_stats(const seen_header *h, int64_t now, seen_stats *st) noexcept;

/*
 * Copies every live entry of `from` into `to` (a resize).  Returns false,
 * leaving `to` partly filled, when an entry does not fit; *entries counts
 * the live entries of `from`.
 */
bool seen_carry(const seen_header *from, seen_header *to, int64_t now,
                uint64_t *entries) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_SEEN_TABLE_HPP */
