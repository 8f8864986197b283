/*
 * The queue's byte ring: records and lease slots laid out in one region
 * of shared memory, and every operation on them.  Nothing here knows
 * about nginx; the glue (ngx_http_provision_x_queue_zone.cpp) allocates
 * the region from the zone's slab pool, holds the zone's mutex around
 * every call but ring_append() and ring_walk(), and logs.
 *
 * Layout.  One region holds the header, the lease slots and a byte ring.
 * Records sit in the ring one after the other, each a 32-byte header plus
 * its bytes, in arrival order; nothing else is allocated afterwards, so
 * the slab allocator (which is not safe against a process dying inside
 * it) is never entered at request time, and the capacity is the ring's
 * bytes.
 *
 * Positions are 64-bit logical offsets that only grow; the ring index is
 * the offset modulo the ring size.  [head, tail) holds the live records;
 * a record never wraps: a gap at the end of the ring too small for the
 * next record is skipped (with a pad entry, or implicitly when not even a
 * header fits).  Acknowledged records are flagged and leave the ring when
 * the head passes them, so a record that is never acknowledged holds the
 * space of everything behind it (it is redelivered each time its lease
 * expires, so this lasts only as long as consumers fail on it).
 *
 * Crash safety.  Every update becomes visible through one aligned store
 * (the "commit"), written after everything it publishes:
 *   push   records are written past the tail, then the tail moves;
 *   lease  (1) a free slot is found, (2) the visible records are
 *          collected, (3) they are tagged with (slot, generation) while
 *          the slot is still free, then the slot becomes ACTIVE;
 *   ack    the slot becomes ACKING, then its records are flagged one by
 *          one (idempotent), then the slot is freed;
 *   expiry the slot is freed: its tagged records are visible again.
 * The process holding the lock writes its pid into the header
 * (ring_enter); a process that takes the lock and finds a pid there knows
 * its holder died (nginx force-unlocks the mutex of a dead worker) and
 * repairs: it finishes any ACKING slot, checks every record header and
 * recounts the gauges (ring_recover).
 */
#ifndef PROVISION_X_CORE_RING_HPP
#define PROVISION_X_CORE_RING_HPP

#include <cstddef>
#include <cstdint>

#include "core/plain_data.hpp"

namespace provision_x {

constexpr uint64_t ring_magic = 0x5158505851585058ULL; /* "PXQX" */
constexpr uint32_t ring_version = 1;
constexpr uint32_t ring_no_slot = 0xffffffffU;

/* a lease id: slot (2 bytes), generation (4), random (10) */
constexpr size_t ring_lease_id_size = 16;
constexpr size_t ring_lease_random_size = 10;

/* the states are stored as uint32_t: shared memory holds no enum */
enum ring_rec_state : uint32_t {
    ring_rec_ready = 1,
    ring_rec_acked,
    ring_rec_pad,
};

enum ring_slot_state : uint32_t {
    ring_slot_free = 0,
    ring_slot_active,
    ring_slot_acking,
};

/* why a free slot's last lease ended, for the answer to a late ack */
enum ring_outcome : uint32_t {
    ring_ended_none = 0,
    ring_ended_acked,
    ring_ended_expired,
};

/* One entry of the ring; the record's bytes follow the header. */
struct ring_rec {
    uint32_t size;  /* of the entry, header included, 8-aligned */
    uint32_t state; /* ring_rec_state */
    uint32_t len;   /* of the record bytes */
    uint32_t slot;  /* of its last lease, or ring_no_slot */
    uint32_t gen;   /* generation of that lease */
    uint32_t deliveries;
    int64_t enqueued; /* wall clock, seconds */
};

struct ring_slot {
    uint32_t state;   /* ring_slot_state */
    uint32_t outcome; /* ring_outcome */
    uint32_t gen;     /* bumped for every lease in this slot */
    uint32_t count;   /* records leased */
    unsigned char id[ring_lease_id_size];
    uint64_t expire; /* milliseconds, the caller's monotonic clock */
    uint64_t first;  /* position of its first and last record */
    uint64_t last;
};

struct ring_header {
    uint64_t magic;
    uint32_t version;
    uint32_t nslots;
    uint64_t cap;  /* bytes of the ring */
    uint64_t head; /* logical positions */
    uint64_t tail;
    uint64_t scan;    /* no visible record lies in [head, scan) */
    int64_t holder;   /* pid holding the lock, 0 when none */
    uint32_t retired; /* replaced by a ring of another size */
    uint32_t next_slot;
    uint64_t depth; /* records not yet acknowledged */
    uint64_t enqueued;
    uint64_t leased_total;
    uint64_t acknowledged;
    uint64_t redelivered;
    uint64_t refused_full;
    uint64_t recovered; /* times a dead holder's update was repaired */
    /* followed by nslots slots, then the ring */
};

static_assert(is_plain_data<ring_rec>);
static_assert(is_plain_data<ring_slot>);
static_assert(is_plain_data<ring_header>);
static_assert(sizeof(ring_rec) == 32);
static_assert(sizeof(ring_slot) == 56);
static_assert(sizeof(ring_header) == 120);

/*
 * Lays out an empty ring over [base, base + size): about one lease slot
 * per 8 KB (32 to 1024), the rest for records.  base is 8-aligned.
 * nullptr when size leaves less than 4 KB for records.
 */
ring_header *ring_init(void *base, size_t size) noexcept;

/* True when h holds a ring of this layout version. */
bool ring_valid(const ring_header *h) noexcept;

/* ---- the lock's holder ---- */

/* What ring_recover() found and did, for the caller's log. */
struct ring_recovery {
    int64_t holder; /* the pid that died holding the lock */

    /* head and tail were impossible: every record was dropped */
    bool bounds_reset;
    uint64_t bad_head;
    uint64_t bad_tail;

    /* a damaged entry: the bytes from it to the tail were dropped */
    bool damaged;
    uint64_t damaged_at;
    uint64_t dropped;
};

/*
 * Called right after taking the lock, with the caller's pid.  True when
 * the previous holder died inside and ring_recover() repaired its update
 * (*r says how).
 */
bool ring_enter(ring_header *h, int64_t pid, ring_recovery *r) noexcept;

/* Called right before giving the lock up. */
void ring_leave(ring_header *h) noexcept;

/* Completes what a holder that died left behind (see above). */
void ring_recover(ring_header *h, ring_recovery *r) noexcept;

/* ---- push ---- */

struct ring_bytes {
    const void *data;
    size_t len;
};

/*
 * One record to append: its bytes in up to three pieces, copied one after
 * the other, so that a caller need not join them first (the glue's lines:
 * their head, the platform's record as it came, the closing brace).
 */
struct ring_record {
    ring_bytes piece[3];

    size_t len() const noexcept
    {
        return piece[0].len + piece[1].len + piece[2].len;
    }
};

/*
 * The records of one push, read through at(), so the caller keeps its own
 * array type.
 */
struct ring_batch {
    const void *items;
    size_t count;
    ring_record (*at)(const void *items, size_t i) noexcept;
};

/* Bytes the batch takes in the ring; UINT64_MAX when a record is too big
 * for any entry.  Needs no lock. */
uint64_t ring_batch_bytes(const ring_batch &batch) noexcept;

enum class ring_push_result {
    ok,
    full,      /* nothing was enqueued; counted in refused_full */
    retired,   /* a resize moved the records elsewhere: nothing enqueued */
    too_large, /* more than the whole ring: nothing enqueued */
};

/* Appends all of the batch, visible, arrived at `now` (seconds), or none. */
ring_push_result ring_push(ring_header *h, const ring_batch &batch,
                           int64_t now) noexcept;

/* ---- lease, in the three steps of the essay ---- */

/* Makes the records of leases that ran out by now_ms visible again. */
void ring_reap(ring_header *h, uint64_t now_ms) noexcept;

/* Step 1: a free slot, the next one in turn, or ring_no_slot. */
uint32_t ring_find_free_slot(const ring_header *h) noexcept;

/* What steps 1 and 2 found; step 3 commits it. */
struct ring_lease_plan {
    uint32_t slot;   /* step 1 */
    size_t count;    /* step 2: visible records, their positions in found */
    size_t body_len; /* their bytes, each followed by "\n" */
    uint64_t end;    /* where the search stopped */
};

/*
 * Step 2: the first `max` visible records, from where the last lease
 * stopped.  Only reads.
 */
void ring_collect_visible(const ring_header *h, uint64_t *found, size_t max,
                          ring_lease_plan *plan) noexcept;

struct ring_leased {
    unsigned char id[ring_lease_id_size];
    size_t count;
    size_t redelivered; /* records delivered before */
};

/*
 * Step 3: tags the planned records with the slot's next generation while
 * the slot is still free, copies their bytes to body (plan.body_len
 * bytes, each record followed by "\n"), then activates the slot until
 * expire_ms: the commit.  random: ring_lease_random_size bytes that make
 * the id unguessable.
 */
void ring_commit_lease(ring_header *h, const ring_lease_plan &plan,
                       const uint64_t *found, uint64_t expire_ms,
                       const unsigned char *random, unsigned char *body,
                       ring_leased *out) noexcept;

enum class ring_lease_result {
    ready,        /* commit the plan once body has room for it */
    empty,        /* nothing is visible */
    no_slot_free, /* too many open leases */
    retired,
};

/*
 * Steps 1 and 2 after reaping: the plan to commit when ready.  When
 * nothing is visible, the next search starts where this one stopped.
 * found: room for max positions.
 */
ring_lease_result ring_lease_prepare(ring_header *h, uint64_t now_ms,
                                     uint64_t *found, size_t max,
                                     ring_lease_plan *plan) noexcept;

/* ---- ack ---- */

enum class ring_ack_result {
    acked,   /* now, or before (a repeated ack gets the same answer) */
    unknown, /* no such lease (any more) */
    expired, /* its records are visible again */
    retired,
};

/*
 * Acknowledges the lease `id` (ring_lease_id_size bytes) at now_ms;
 * *count: its records, 0 unless acked.
 */
ring_ack_result ring_ack(ring_header *h, const unsigned char *id,
                         uint64_t now_ms, uint32_t *count) noexcept;

/* ---- reading, restore and resize ---- */

struct ring_stats {
    uint64_t depth;  /* records not acknowledged */
    uint64_t leased; /* records under an unexpired lease */
    uint64_t bytes_used;
    uint64_t bytes_free;
    bool any;       /* a record waits, and the oldest arrived at: */
    int64_t oldest; /* unix seconds */

    /* counters since the ring was created */
    uint64_t enqueued;
    uint64_t leased_total;
    uint64_t acknowledged;
    uint64_t redelivered;
    uint64_t refused_full;
};

/* The number of records not yet acknowledged, read without the lock (a
 * log variable asks on every request): one aligned load, possibly a moment
 * old, never torn. */
uint64_t ring_depth_unlocked(const ring_header *h) noexcept;

void ring_get_stats(const ring_header *h, uint64_t now_ms,
                    ring_stats *st) noexcept;

/* Called for each live record in order; false stops the walk. */
using ring_walk_fn = bool (*)(void *data, const ring_rec *rec,
                              const unsigned char *bytes) noexcept;

/* Walks the records not acknowledged; false when fn stopped it. */
bool ring_walk(const ring_header *h, ring_walk_fn fn, void *data) noexcept;

/*
 * Appends one record, as visible, with no commit ordering: for a ring no
 * other process uses yet (restore, resize).  False when it does not fit.
 */
bool ring_append(ring_header *h, const void *data, size_t len,
                 uint32_t deliveries, int64_t enqueued) noexcept;

struct ring_carried {
    uint64_t records;
    uint64_t bytes;
};

/*
 * A resize: copies the records not acknowledged (leased ones as visible)
 * and the counters into the empty ring `to`, and retires `from`.  False,
 * with `from` untouched and `to` partly filled, when they do not fit;
 * *c counts them either way.
 */
bool ring_carry_over(ring_header *from, ring_header *to,
                     ring_carried *c) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_RING_HPP */
