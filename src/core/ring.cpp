/*
 * The queue's byte ring (ring.hpp has the layout and the crash-safety
 * rules every function here keeps).
 */
#include "core/ring.hpp"

#include <atomic>
#include <cstring>

#include <openssl/crypto.h>

namespace provision_x {

namespace {

constexpr uint64_t rec_header = sizeof(ring_rec);

/* lease slots: about one per 8 KB of region, within these bounds */
constexpr uint64_t slots_min = 32;
constexpr uint64_t slots_max = 1024;
constexpr uint64_t bytes_per_slot = 8192;

/* the ring must hold at least a few records of a typical push */
constexpr uint64_t ring_min = 4096;

constexpr size_t id_slot_len = 2;
constexpr size_t id_gen_len = 4;

static_assert(id_slot_len + id_gen_len + ring_lease_random_size
              == ring_lease_id_size);
static_assert(slots_max <= 0xffff, "a slot index takes 2 bytes of an id");

/*
 * The one store that makes an update visible: every store before it is
 * done first, and none after it is done before it, so a process killed
 * anywhere leaves either the old state or the new one behind the commit.
 */
template <typename T>
void
commit(T *field, T value) noexcept
{
    std::atomic_thread_fence(std::memory_order_release);
    __atomic_store_n(field, value, __ATOMIC_RELAXED);
    std::atomic_thread_fence(std::memory_order_release);
}

ring_slot *
slots(ring_header *h) noexcept
{
    return reinterpret_cast<ring_slot *>(h + 1);
}

const ring_slot *
slots(const ring_header *h) noexcept
{
    return reinterpret_cast<const ring_slot *>(h + 1);
}

ring_rec *
at(ring_header *h, uint64_t pos) noexcept
{
    auto *ring = reinterpret_cast<unsigned char *>(slots(h) + h->nslots);

    return reinterpret_cast<ring_rec *>(ring + pos % h->cap);
}

const ring_rec *
at(const ring_header *h, uint64_t pos) noexcept
{
    auto *ring = reinterpret_cast<const unsigned char *>(slots(h) + h->nslots);

    return reinterpret_cast<const ring_rec *>(ring + pos % h->cap);
}

unsigned char *
bytes_of(ring_rec *rec) noexcept
{
    return reinterpret_cast<unsigned char *>(rec + 1);
}

const unsigned char *
bytes_of(const ring_rec *rec) noexcept
{
    return reinterpret_cast<const unsigned char *>(rec + 1);
}

uint64_t
entry_size(size_t len) noexcept
{
    return (rec_header + len + 7) & ~static_cast<uint64_t>(7);
}

/* An entry starts at pos, unless the ring's end is too close for even a
 * header: then at the start of the next lap. */
uint64_t
align_pos(const ring_header *h, uint64_t pos) noexcept
{
    uint64_t room = h->cap - pos % h->cap;

    return room < rec_header ? pos + room : pos;
}

uint64_t
next_pos(const ring_header *h, uint64_t pos) noexcept
{
    return align_pos(h, pos + at(h, pos)->size);
}

/*
 * Where an entry of `size` bytes that may start at pos begins: a record
 * never wraps, so when the lap has room for a header but not the entry,
 * a pad entry (written when `write` is set) fills the rest of the lap.
 */
uint64_t
place(ring_header *h, uint64_t pos, uint64_t size, bool write) noexcept
{
    pos = align_pos(h, pos);

    uint64_t room = h->cap - pos % h->cap;

    if (room >= size) {
        return pos;
    }

    if (write) {
        ring_rec *pad = at(h, pos);

        pad->size = static_cast<uint32_t>(room);
        pad->state = ring_rec_pad;
        pad->len = 0;
        pad->slot = ring_no_slot;
        pad->gen = 0;
        pad->deliveries = 0;
        pad->enqueued = 0;
    }

    return pos + room;
}

/* Writes a visible record where place() put it; not committed. */
void
write_rec(ring_header *h, uint64_t pos, uint64_t size,
          const ring_record &record, uint32_t deliveries,
          int64_t enqueued) noexcept
{
    ring_rec *rec = at(h, pos);
    unsigned char *p = bytes_of(rec);

    rec->size = static_cast<uint32_t>(size);
    rec->state = ring_rec_ready;
    rec->len = static_cast<uint32_t>(record.len());
    rec->slot = ring_no_slot;
    rec->gen = 0;
    rec->deliveries = deliveries;
    rec->enqueued = enqueued;

    for (const ring_bytes &piece : record.piece) {
        if (piece.len != 0) {
            std::memcpy(p, piece.data, piece.len);
            p += piece.len;
        }
    }
}

bool
leased(const ring_header *h, const ring_rec *rec) noexcept
{
    if (rec->slot >= h->nslots) {
        return false;
    }

    const ring_slot *slot = &slots(h)[rec->slot];

    return slot->state != ring_slot_free && slot->gen == rec->gen;
}

bool
visible(const ring_header *h, const ring_rec *rec) noexcept
{
    return rec->state == ring_rec_ready && !leased(h, rec);
}

/* Frees the ring behind the oldest record still to be acknowledged. */
void
reclaim(ring_header *h) noexcept
{
    uint64_t pos = align_pos(h, h->head);

    while (pos < h->tail) {
        if (at(h, pos)->state == ring_rec_ready) {
            break;
        }

        pos = next_pos(h, pos);
    }

    /* the tail may end in a gap that align_pos() jumps over */
    h->head = pos < h->tail ? pos : h->tail;
}

/*
 * The second half of an ack, after the slot became ACKING: flags the
 * lease's records and frees the slot.  Idempotent, so recovery can run it
 * again for a holder that died half-way.
 */
void
finish_ack(ring_header *h, uint32_t idx) noexcept
{
    ring_slot *slot = &slots(h)[idx];
    uint64_t from = slot->first > h->head ? slot->first : h->head;

    for (uint64_t pos = align_pos(h, from); pos <= slot->last && pos < h->tail;
         pos = next_pos(h, pos))
    {
        ring_rec *rec = at(h, pos);

        if (rec->state == ring_rec_ready && rec->slot == idx
            && rec->gen == slot->gen) {
            rec->state = ring_rec_acked;
            h->depth--;
        }
    }

    h->acknowledged += slot->count;
    slot->outcome = ring_ended_acked;
    commit(&slot->state, static_cast<uint32_t>(ring_slot_free));
}

/* Drops the records from the first damaged entry on (recovery). */
void
check_records(ring_header *h, ring_recovery *r) noexcept
{
    /* every committed entry was complete before the tail passed it */
    for (uint64_t pos = align_pos(h, h->head); pos < h->tail;
         pos = next_pos(h, pos))
    {
        const ring_rec *rec = at(h, pos);
        uint64_t room = h->cap - pos % h->cap;

        if (rec->size >= rec_header && rec->size % 8 == 0 && rec->size <= room
            && pos + rec->size <= h->tail
            && (rec->state == ring_rec_pad
                || ((rec->state == ring_rec_ready
                     || rec->state == ring_rec_acked)
                    && rec->len <= rec->size - rec_header)))
        {
            continue;
        }

        r->damaged = true;
        r->damaged_at = pos;
        r->dropped = h->tail - pos;
        h->tail = pos;
        break;
    }
}

void
store_be(unsigned char *p, uint64_t v, size_t n) noexcept
{
    while (n--) {
        p[n] = static_cast<unsigned char>(v & 0xff);
        v >>= 8;
    }
}

uint64_t
load_be(const unsigned char *p, size_t n) noexcept
{
    uint64_t v = 0;

    while (n--) {
        v = (v << 8) | *p++;
    }

    return v;
}

} // namespace

ring_header *
ring_init(void *base, size_t size) noexcept
{
    uint64_t nslots = size / bytes_per_slot;

    nslots = nslots < slots_min ? slots_min : nslots;
    nslots = nslots > slots_max ? slots_max : nslots;

    uint64_t overhead = sizeof(ring_header) + nslots * sizeof(ring_slot);

    if (size < overhead + ring_min) {
        return nullptr;
    }

    std::memset(base, 0, overhead);

    auto *h = static_cast<ring_header *>(base);

    h->magic = ring_magic;
    h->version = ring_version;
    h->nslots = static_cast<uint32_t>(nslots);
    h->cap = (size - overhead) & ~static_cast<uint64_t>(7);

    return h;
}

bool
ring_valid(const ring_header *h) noexcept
{
    return h->magic == ring_magic && h->version == ring_version;
}

bool
ring_enter(ring_header *h, int64_t pid, ring_recovery *r) noexcept
{
    bool died = h->holder != 0;

    if (died) {
        ring_recover(h, r);
    }

    /* before any store of this holder's update */
    h->holder = pid;
    std::atomic_thread_fence(std::memory_order_release);

    return died;
}

void
ring_leave(ring_header *h) noexcept
{
    std::atomic_thread_fence(std::memory_order_release);
    h->holder = 0;
}

void
ring_recover(ring_header *h, ring_recovery *r) noexcept
{
    *r = ring_recovery{};
    r->holder = h->holder;

    h->recovered++;

    if (h->head > h->tail || h->tail - h->head > h->cap) {
        /* impossible by construction: only one store ever moves each */
        r->bounds_reset = true;
        r->bad_head = h->head;
        r->bad_tail = h->tail;
        h->head = h->tail;
    }

    check_records(h, r);

    ring_slot *slot = slots(h);

    for (uint32_t i = 0; i < h->nslots; i++) {
        if (slot[i].state == ring_slot_acking) {
            finish_ack(h, i);

        } else if (slot[i].state != ring_slot_free
                   && slot[i].state != ring_slot_active) {
            slot[i].state = ring_slot_free;
        }
    }

    reclaim(h);

    uint64_t depth = 0;

    for (uint64_t pos = align_pos(h, h->head); pos < h->tail;
         pos = next_pos(h, pos))
    {
        if (at(h, pos)->state == ring_rec_ready) {
            depth++;
        }
    }

    h->depth = depth;
    h->scan = h->head;
}

uint64_t
ring_batch_bytes(const ring_batch &batch) noexcept
{
    uint64_t total = 0;

    for (size_t i = 0; i < batch.count; i++) {
        size_t len = batch.at(batch.items, i).len();

        if (len > UINT32_MAX - rec_header) {
            return UINT64_MAX;
        }

        total += entry_size(len);
    }

    return total;
}

ring_push_result
ring_push(ring_header *h, const ring_batch &batch, int64_t now) noexcept
{
    if (ring_batch_bytes(batch) > h->cap) {
        return ring_push_result::too_large;
    }

    if (h->retired) {
        return ring_push_result::retired;
    }

    reclaim(h);

    uint64_t end = h->tail;

    for (size_t i = 0; i < batch.count; i++) {
        uint64_t size = entry_size(batch.at(batch.items, i).len());
        end = place(h, end, size, false) + size;
    }

    if (end - h->head > h->cap) {
        h->refused_full++;
        return ring_push_result::full;
    }

    /* past the tail nothing is visible yet: write it all, then commit */
    uint64_t pos = h->tail;

    for (size_t i = 0; i < batch.count; i++) {
        ring_record record = batch.at(batch.items, i);
        uint64_t size = entry_size(record.len());

        pos = place(h, pos, size, true);
        write_rec(h, pos, size, record, 0, now);
        pos += size;
    }

    commit(&h->tail, pos);

    h->depth += batch.count;
    h->enqueued += batch.count;

    return ring_push_result::ok;
}

void
ring_reap(ring_header *h, uint64_t now_ms) noexcept
{
    ring_slot *slot = slots(h);

    for (uint32_t i = 0; i < h->nslots; i++) {
        if (slot[i].state != ring_slot_active || slot[i].expire > now_ms) {
            continue;
        }

        if (slot[i].first < h->scan) {
            h->scan = slot[i].first;
        }

        slot[i].outcome = ring_ended_expired;
        commit(&slot[i].state, static_cast<uint32_t>(ring_slot_free));
    }
}

uint32_t
ring_find_free_slot(const ring_header *h) noexcept
{
    for (uint32_t i = 0; i < h->nslots; i++) {
        uint32_t idx = (h->next_slot + i) % h->nslots;

        if (slots(h)[idx].state == ring_slot_free) {
            return idx;
        }
    }

    return ring_no_slot;
}

void
ring_collect_visible(const ring_header *h, uint64_t *found, size_t max,
                     ring_lease_plan *plan) noexcept
{
    size_t n = 0;
    size_t body_len = 0;
    uint64_t pos = align_pos(h, h->scan > h->head ? h->scan : h->head);

    for (; pos < h->tail && n < max; pos = next_pos(h, pos)) {
        const ring_rec *rec = at(h, pos);

        if (visible(h, rec)) {
            found[n++] = pos;
            body_len += rec->len + 1;
        }
    }

    plan->count = n;
    plan->body_len = body_len;
    plan->end = pos < h->tail ? pos : h->tail;
}

void
ring_commit_lease(ring_header *h, const ring_lease_plan &plan,
                  const uint64_t *found, uint64_t expire_ms,
                  const unsigned char *random, unsigned char *body,
                  ring_leased *out) noexcept
{
    uint32_t idx = plan.slot;
    ring_slot *slot = &slots(h)[idx];
    size_t n = plan.count;

    uint32_t gen = slot->gen + 1;
    if (gen == 0) {
        gen = 1; /* 0 marks a record never leased */
    }

    store_be(out->id, idx, id_slot_len);
    store_be(out->id + id_slot_len, gen, id_gen_len);
    std::memcpy(out->id + id_slot_len + id_gen_len, random,
                ring_lease_random_size);

    /* the slot is still free: none of this is visible before the commit */
    slot->gen = gen;
    slot->outcome = ring_ended_none;
    slot->count = static_cast<uint32_t>(n);
    slot->expire = expire_ms;
    slot->first = found[0];
    slot->last = found[n - 1];
    std::memcpy(slot->id, out->id, ring_lease_id_size);

    size_t redelivered = 0;

    for (size_t i = 0; i < n; i++) {
        ring_rec *rec = at(h, found[i]);

        rec->slot = idx;
        rec->gen = gen;

        if (rec->deliveries++ > 0) {
            redelivered++;
        }

        std::memcpy(body, bytes_of(rec), rec->len);
        body += rec->len;
        *body++ = '\n';
    }

    commit(&slot->state, static_cast<uint32_t>(ring_slot_active));

    /* every record before plan.end is now leased or acknowledged */
    h->scan = plan.end;
    h->next_slot = (idx + 1) % h->nslots;
    h->leased_total += n;
    h->redelivered += redelivered;

    out->count = n;
    out->redelivered = redelivered;
}

ring_lease_result
ring_lease_prepare(ring_header *h, uint64_t now_ms, uint64_t *found, size_t max,
                   ring_lease_plan *plan) noexcept
{
    if (h->retired) {
        return ring_lease_result::retired;
    }

    ring_reap(h, now_ms);

    plan->slot = ring_find_free_slot(h);
    ring_collect_visible(h, found, max, plan);

    if (plan->count == 0) {
        /* nothing up to here is visible: the next lease starts here */
        h->scan = plan->end;
        return ring_lease_result::empty;
    }

    if (plan->slot == ring_no_slot) {
        return ring_lease_result::no_slot_free;
    }

    return ring_lease_result::ready;
}

ring_ack_result
ring_ack(ring_header *h, const unsigned char *id, uint64_t now_ms,
         uint32_t *count) noexcept
{
    uint64_t idx = load_be(id, id_slot_len);
    uint64_t gen = load_be(id + id_slot_len, id_gen_len);

    *count = 0;

    if (idx >= h->nslots || gen == 0) {
        return ring_ack_result::unknown;
    }

    if (h->retired) {
        return ring_ack_result::retired;
    }

    /* a lease that ran out is not acknowledged, even by a second */
    ring_reap(h, now_ms);

    ring_slot *slot = &slots(h)[idx];

    if (slot->gen != gen
        || CRYPTO_memcmp(slot->id, id, ring_lease_id_size) != 0) {
        return ring_ack_result::unknown;
    }

    if (slot->state == ring_slot_free) {
        switch (slot->outcome) {
        case ring_ended_acked:
            /* a repeated ack (the first answer was lost): same answer */
            *count = slot->count;
            return ring_ack_result::acked;

        case ring_ended_expired:
            return ring_ack_result::expired;

        default:
            return ring_ack_result::unknown;
        }
    }

    commit(&slot->state, static_cast<uint32_t>(ring_slot_acking));

    finish_ack(h, static_cast<uint32_t>(idx));
    reclaim(h);

    *count = slot->count;

    return ring_ack_result::acked;
}

uint64_t
ring_depth_unlocked(const ring_header *h) noexcept
{
    return __atomic_load_n(&h->depth, __ATOMIC_RELAXED);
}

void
ring_get_stats(const ring_header *h, uint64_t now_ms, ring_stats *st) noexcept
{
    *st = ring_stats{};

    const ring_slot *slot = slots(h);

    for (uint32_t i = 0; i < h->nslots; i++) {
        if (slot[i].state == ring_slot_active && slot[i].expire > now_ms) {
            st->leased += slot[i].count;
        }
    }

    for (uint64_t pos = align_pos(h, h->head); pos < h->tail;
         pos = next_pos(h, pos))
    {
        const ring_rec *rec = at(h, pos);

        if (rec->state == ring_rec_ready) {
            st->any = true;
            st->oldest = rec->enqueued;
            break;
        }
    }

    st->depth = h->depth;
    st->bytes_used = h->tail - h->head;
    st->bytes_free = h->cap - st->bytes_used;
    st->enqueued = h->enqueued;
    st->leased_total = h->leased_total;
    st->acknowledged = h->acknowledged;
    st->redelivered = h->redelivered;
    st->refused_full = h->refused_full;
}

bool
ring_walk(const ring_header *h, ring_walk_fn fn, void *data) noexcept
{
    for (uint64_t pos = align_pos(h, h->head); pos < h->tail;
         pos = next_pos(h, pos))
    {
        const ring_rec *rec = at(h, pos);

        if (rec->state != ring_rec_ready) {
            continue;
        }

        if (!fn(data, rec, bytes_of(rec))) {
            return false;
        }
    }

    return true;
}

bool
ring_append(ring_header *h, const void *data, size_t len, uint32_t deliveries,
            int64_t enqueued) noexcept
{
    if (len > UINT32_MAX - rec_header) {
        return false;
    }

    uint64_t size = entry_size(len);

    if (size > h->cap
        || place(h, h->tail, size, false) + size - h->head > h->cap) {
        return false;
    }

    uint64_t pos = place(h, h->tail, size, true);

    write_rec(h, pos, size, ring_record{{{data, len}, {}, {}}}, deliveries,
              enqueued);

    h->tail = pos + size;
    h->depth++;

    return true;
}

namespace {

struct carry_state {
    ring_header *to;
    ring_carried *carried;
    bool fits;
};

bool
carry_record(void *data, const ring_rec *rec,
             const unsigned char *bytes) noexcept
{
    auto *carry = static_cast<carry_state *>(data);

    carry->carried->records++;
    carry->carried->bytes += rec->len;

    if (carry->fits
        && !ring_append(carry->to, bytes, rec->len, rec->deliveries,
                        rec->enqueued))
    {
        carry->fits = false;
    }

    /* go on counting, for the caller's message */
    return true;
}

} // namespace

bool
ring_carry_over(ring_header *from, ring_header *to, ring_carried *c) noexcept
{
    carry_state carry{to, c, true};

    *c = ring_carried{};

    (void) ring_walk(from, carry_record, &carry);

    if (!carry.fits) {
        return false;
    }

    to->enqueued = from->enqueued;
    to->leased_total = from->leased_total;
    to->acknowledged = from->acknowledged;
    to->redelivered = from->redelivered;
    to->refused_full = from->refused_full;
    to->recovered = from->recovered;

    from->retired = 1;

    return true;
}

} // namespace provision_x
