/*
 * The shared-memory CDR queue: a byte ring of records with lease slots,
 * laid out and made crash-safe as ngx_http_provision_x_queue_zone.hpp
 * describes.  Everything here runs under the zone's mutex except the
 * *_unlocked functions, which serve the master while no worker can touch
 * the zone.
 */

#include "ngx_http_provision_x_queue_zone.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace {

using rec_t = ngx_http_provision_x_queue_rec_t;
using slot_t = ngx_http_provision_x_queue_slot_t;
using sh_t = ngx_http_provision_x_queue_sh_t;
using ctx_t = ngx_http_provision_x_queue_ctx_t;

constexpr uint64_t rec_header = sizeof(rec_t);

/* lease slots: about one per 8 KB of zone, within these bounds */
constexpr uint64_t slots_min = 32;
constexpr uint64_t slots_max = 1024;
constexpr uint64_t bytes_per_slot = 8192;

/* the ring must hold at least a few records of a typical push */
constexpr uint64_t ring_min = 4096;

slot_t *
slots(sh_t *sh) noexcept
{
    return reinterpret_cast<slot_t *>(sh + 1);
}

u_char *
ring(sh_t *sh) noexcept
{
    return reinterpret_cast<u_char *>(slots(sh) + sh->nslots);
}

rec_t *
at(sh_t *sh, uint64_t pos) noexcept
{
    return reinterpret_cast<rec_t *>(ring(sh) + pos % sh->cap);
}

u_char *
bytes_of(rec_t *rec) noexcept
{
    return reinterpret_cast<u_char *>(rec + 1);
}

uint64_t
entry_size(size_t len) noexcept
{
    return ngx_align(rec_header + len, 8);
}

/* An entry starts at pos, unless the ring's end is too close for even a
 * header: then at the start of the next lap. */
uint64_t
align_pos(const sh_t *sh, uint64_t pos) noexcept
{
    uint64_t room = sh->cap - pos % sh->cap;

    return room < rec_header ? pos + room : pos;
}

uint64_t
next_pos(sh_t *sh, uint64_t pos) noexcept
{
    return align_pos(sh, pos + at(sh, pos)->size);
}

/*
 * Where an entry of `size` bytes that may start at pos begins: a record
 * never wraps, so when the lap has room for a header but not the entry,
 * a pad entry (written when `write` is set) fills the rest of the lap.
 */
uint64_t
place(sh_t *sh, uint64_t pos, uint64_t size, bool write) noexcept
{
    pos = align_pos(sh, pos);

    uint64_t room = sh->cap - pos % sh->cap;

    if (room >= size) {
        return pos;
    }

    if (write) {
        rec_t *pad = at(sh, pos);

        pad->size = static_cast<uint32_t>(room);
        pad->state = NGX_HTTP_PROVISION_X_QUEUE_REC_PAD;
        pad->len = 0;
        pad->slot = NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT;
        pad->gen = 0;
        pad->deliveries = 0;
        pad->enqueued = 0;
    }

    return pos + room;
}

bool
leased(sh_t *sh, const rec_t *rec) noexcept
{
    if (rec->slot >= sh->nslots) {
        return false;
    }

    const slot_t *slot = &slots(sh)[rec->slot];

    return slot->state != NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE &&
           slot->gen == rec->gen;
}

bool
visible(sh_t *sh, const rec_t *rec) noexcept
{
    return rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY &&
           !leased(sh, rec);
}

/* Frees the ring behind the oldest record still to be acknowledged. */
void
reclaim(sh_t *sh) noexcept
{
    uint64_t pos = align_pos(sh, sh->head);

    while (pos < sh->tail) {
        if (at(sh, pos)->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY) {
            break;
        }

        pos = next_pos(sh, pos);
    }

    /* the tail may end in a gap that align_pos() jumps over */
    sh->head = ngx_min(pos, sh->tail);
}

/* Makes the records of leases that ran out visible again. */
void
reap(sh_t *sh, ngx_msec_t now) noexcept
{
    slot_t *slot = slots(sh);

    for (uint32_t i = 0; i < sh->nslots; i++) {
        if (slot[i].state != NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACTIVE ||
            slot[i].expire > now) {
            continue;
        }

        if (slot[i].first < sh->scan) {
            sh->scan = slot[i].first;
        }

        slot[i].outcome = NGX_HTTP_PROVISION_X_QUEUE_ENDED_EXPIRED;
        ngx_memory_barrier();
        slot[i].state = NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE;
    }
}

/*
 * The second half of an ack, after the slot became ACKING: flags the
 * lease's records and frees the slot.  Idempotent, so recovery can run it
 * again for a holder that died half-way.
 */
void
finish_ack(sh_t *sh, uint32_t idx) noexcept
{
    slot_t *slot = &slots(sh)[idx];

    for (uint64_t pos = align_pos(sh, ngx_max(slot->first, sh->head));
         pos <= slot->last && pos < sh->tail; pos = next_pos(sh, pos)) {
        rec_t *rec = at(sh, pos);

        if (rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY &&
            rec->slot == idx && rec->gen == slot->gen) {
            rec->state = NGX_HTTP_PROVISION_X_QUEUE_REC_ACKED;
            sh->depth--;
        }
    }

    sh->acknowledged += slot->count;
    slot->outcome = NGX_HTTP_PROVISION_X_QUEUE_ENDED_ACKED;
    ngx_memory_barrier();
    slot->state = NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE;
}

/*
 * The zone's mutex, held for the guard's scope.  The holder's pid in the
 * header tells the next holder whether this one finished.
 */
class queue_lock {
public:
    queue_lock(ngx_slab_pool_t *shpool, sh_t *sh, ngx_str_t *name,
               ngx_log_t *log) noexcept
        : shpool_(shpool), sh_(sh)
    {
        ngx_shmtx_lock(&shpool_->mutex);

        if (sh_->holder != 0) {
            ngx_http_provision_x_queue_recover(sh_, name, log);
        }

        sh_->holder = ngx_pid;
        ngx_memory_barrier();
    }

    ~queue_lock()
    {
        ngx_memory_barrier();
        sh_->holder = 0;
        ngx_shmtx_unlock(&shpool_->mutex);
    }

    queue_lock(const queue_lock &) = delete;
    queue_lock &operator=(const queue_lock &) = delete;

private:
    ngx_slab_pool_t *shpool_;
    sh_t *sh_;
};

void
store_be(u_char *p, uint64_t v, size_t n) noexcept
{
    while (n--) {
        p[n] = static_cast<u_char>(v & 0xff);
        v >>= 8;
    }
}

uint64_t
load_be(const u_char *p, size_t n) noexcept
{
    uint64_t v = 0;

    while (n--) {
        v = (v << 8) | *p++;
    }

    return v;
}

/* lease id: slot (2 bytes), generation (4), random (10) */
constexpr size_t id_slot_len = 2;
constexpr size_t id_gen_len = 4;
constexpr size_t id_random_len =
    NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN - id_slot_len - id_gen_len;

static_assert(slots_max <= 0xffff);

} // namespace

void
ngx_http_provision_x_queue_recover(sh_t *sh, ngx_str_t *name,
                                   ngx_log_t *log) noexcept
{
    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "provision_x: queue zone \"%V\": process %L died while "
                  "updating it; completing its update",
                  name, sh->holder);

    sh->recovered++;

    if (sh->head > sh->tail || sh->tail - sh->head > sh->cap) {
        /* impossible by construction: only one store ever moves each */
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "provision_x: queue zone \"%V\" has head %uL and "
                      "tail %uL; its records are unusable",
                      name, sh->head, sh->tail);
        sh->head = sh->tail;
    }

    /* every committed entry was complete before the tail passed it */
    for (uint64_t pos = align_pos(sh, sh->head); pos < sh->tail;
         pos = next_pos(sh, pos)) {
        rec_t *rec = at(sh, pos);
        uint64_t room = sh->cap - pos % sh->cap;

        if (rec->size >= rec_header && rec->size % 8 == 0 &&
            rec->size <= room && pos + rec->size <= sh->tail &&
            (rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_PAD ||
             ((rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY ||
               rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_ACKED) &&
              rec->len <= rec->size - rec_header))) {
            continue;
        }

        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "provision_x: queue zone \"%V\": damaged record at "
                      "%uL; the %uL bytes from there are dropped",
                      name, pos, sh->tail - pos);
        sh->tail = pos;
        break;
    }

    slot_t *slot = slots(sh);

    for (uint32_t i = 0; i < sh->nslots; i++) {
        if (slot[i].state == NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACKING) {
            finish_ack(sh, i);

        } else if (slot[i].state != NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE &&
                   slot[i].state != NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACTIVE) {
            slot[i].state = NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE;
        }
    }

    reclaim(sh);

    uint64_t depth = 0;

    for (uint64_t pos = align_pos(sh, sh->head); pos < sh->tail;
         pos = next_pos(sh, pos)) {
        if (at(sh, pos)->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY) {
            depth++;
        }
    }

    sh->depth = depth;
    sh->scan = sh->head;
}

ngx_http_provision_x_queue_rc_e
ngx_http_provision_x_queue_push(ngx_shm_zone_t *zone, const ngx_str_t *records,
                                ngx_uint_t n, ngx_log_t *log) noexcept
{
    auto *ctx = static_cast<ctx_t *>(zone->data);
    sh_t *sh = ctx->sh;
    uint64_t total = 0;

    for (ngx_uint_t i = 0; i < n; i++) {
        if (records[i].len > UINT32_MAX - rec_header) {
            total = UINT64_MAX;
            break;
        }

        total += entry_size(records[i].len);
    }

    if (total > sh->cap) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provision_x: a push of %ui records (%uL bytes) can "
                      "never fit queue zone \"%V\" of %uL bytes",
                      n, total, &zone->shm.name, sh->cap);
        return NGX_HTTP_PROVISION_X_QUEUE_ERROR;
    }

    queue_lock lock(ctx->shpool, sh, &zone->shm.name, log);

    if (sh->retired) {
        /*
         * A reload moved the records to a resized zone, whose counters
         * this worker cannot reach: not counted as full, the platform's
         * retry reaches a new worker.
         */
        return NGX_HTTP_PROVISION_X_QUEUE_MOVED;
    }

    reclaim(sh);

    uint64_t end = sh->tail;

    for (ngx_uint_t i = 0; i < n; i++) {
        uint64_t size = entry_size(records[i].len);
        end = place(sh, end, size, false) + size;
    }

    if (end - sh->head > sh->cap) {
        sh->refused_full++;
        return NGX_HTTP_PROVISION_X_QUEUE_FULL;
    }

    /* past the tail nothing is visible yet: write it all, then commit */
    uint64_t pos = sh->tail;
    int64_t now = ngx_time();

    for (ngx_uint_t i = 0; i < n; i++) {
        uint64_t size = entry_size(records[i].len);

        pos = place(sh, pos, size, true);

        rec_t *rec = at(sh, pos);

        rec->size = static_cast<uint32_t>(size);
        rec->state = NGX_HTTP_PROVISION_X_QUEUE_REC_READY;
        rec->len = static_cast<uint32_t>(records[i].len);
        rec->slot = NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT;
        rec->gen = 0;
        rec->deliveries = 0;
        rec->enqueued = now;
        ngx_memcpy(bytes_of(rec), records[i].data, records[i].len);

        pos += size;
    }

    ngx_memory_barrier();
    sh->tail = pos;
    ngx_memory_barrier();

    sh->depth += n;
    sh->enqueued += n;

    return NGX_HTTP_PROVISION_X_QUEUE_OK;
}

ngx_http_provision_x_queue_lease_rc_e
ngx_http_provision_x_queue_lease(ctx_t *ctx, ngx_uint_t max, uint64_t *found,
                                 ngx_msec_t timeout, ngx_pool_t *pool,
                                 ngx_http_provision_x_queue_lease_t *out,
                                 ngx_log_t *log) noexcept
{
    sh_t *sh = ctx->sh;
    u_char id[NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN];

    /* the id's random part makes it unguessable; drawn outside the lock */
    if (RAND_bytes(id + id_slot_len + id_gen_len, id_random_len) != 1) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provision_x: RAND_bytes() failed for a lease id");
        return NGX_HTTP_PROVISION_X_QUEUE_LEASE_ERROR;
    }

    queue_lock lock(ctx->shpool, sh, &ctx->shm_zone->shm.name, log);

    if (sh->retired) {
        return NGX_HTTP_PROVISION_X_QUEUE_RETIRED;
    }

    ngx_msec_t now = ngx_current_msec;

    reap(sh, now);

    slot_t *slot = NULL;
    uint32_t idx = 0;

    for (uint32_t i = 0; i < sh->nslots; i++) {
        idx = (sh->next_slot + i) % sh->nslots;

        if (slots(sh)[idx].state == NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE) {
            slot = &slots(sh)[idx];
            break;
        }
    }

    ngx_uint_t n = 0;
    size_t size = 0;
    uint64_t pos = align_pos(sh, ngx_max(sh->scan, sh->head));

    for (; pos < sh->tail && n < max; pos = next_pos(sh, pos)) {
        rec_t *rec = at(sh, pos);

        if (visible(sh, rec)) {
            found[n++] = pos;
            size += rec->len + 1;
        }
    }

    if (n == 0) {
        /* nothing up to here is visible: the next lease starts here */
        sh->scan = ngx_min(pos, sh->tail);
        return NGX_HTTP_PROVISION_X_QUEUE_EMPTY;
    }

    if (slot == NULL) {
        return NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT_FREE;
    }

    u_char *p = static_cast<u_char *>(ngx_pnalloc(pool, size));
    if (p == NULL) {
        return NGX_HTTP_PROVISION_X_QUEUE_LEASE_ERROR;
    }

    out->body.data = p;
    out->body.len = size;

    uint32_t gen = slot->gen + 1;
    if (gen == 0) {
        gen = 1; /* 0 marks a record never leased */
    }

    store_be(id, idx, id_slot_len);
    store_be(id + id_slot_len, gen, id_gen_len);

    /* the slot is still free: none of this is visible before the commit */
    slot->gen = gen;
    slot->outcome = NGX_HTTP_PROVISION_X_QUEUE_ENDED_NONE;
    slot->count = static_cast<uint32_t>(n);
    slot->expire = now + timeout;
    slot->first = found[0];
    slot->last = found[n - 1];
    ngx_memcpy(slot->id, id, sizeof(id));

    ngx_uint_t redelivered = 0;

    for (ngx_uint_t i = 0; i < n; i++) {
        rec_t *rec = at(sh, found[i]);

        rec->slot = idx;
        rec->gen = gen;

        if (rec->deliveries++ > 0) {
            redelivered++;
        }

        p = ngx_cpymem(p, bytes_of(rec), rec->len);
        *p++ = '\n';
    }

    ngx_memory_barrier();
    slot->state = NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACTIVE;
    ngx_memory_barrier();

    /* every record before pos is now leased or acknowledged */
    sh->scan = ngx_min(pos, sh->tail);
    sh->next_slot = (idx + 1) % sh->nslots;
    sh->leased_total += n;
    sh->redelivered += redelivered;

    ngx_hex_dump(out->id, id, sizeof(id));
    out->count = n;
    out->redelivered = redelivered;

    return NGX_HTTP_PROVISION_X_QUEUE_LEASED;
}

ngx_int_t
ngx_http_provision_x_queue_parse_id(const ngx_str_t *hex, u_char *id) noexcept
{
    if (hex->len != NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN * 2) {
        return NGX_ERROR;
    }

    for (size_t i = 0; i < NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN; i++) {
        ngx_int_t v = ngx_hextoi(hex->data + 2 * i, 2);
        if (v == NGX_ERROR) {
            return NGX_ERROR;
        }

        id[i] = static_cast<u_char>(v);
    }

    return NGX_OK;
}

ngx_http_provision_x_queue_ack_rc_e
ngx_http_provision_x_queue_ack(ctx_t *ctx, const u_char *id,
                               ngx_uint_t *count) noexcept
{
    sh_t *sh = ctx->sh;
    uint64_t idx = load_be(id, id_slot_len);
    uint64_t gen = load_be(id + id_slot_len, id_gen_len);

    *count = 0;

    if (idx >= sh->nslots || gen == 0) {
        return NGX_HTTP_PROVISION_X_QUEUE_ACK_UNKNOWN;
    }

    queue_lock lock(ctx->shpool, sh, &ctx->shm_zone->shm.name, ngx_cycle->log);

    if (sh->retired) {
        return NGX_HTTP_PROVISION_X_QUEUE_ACK_RETIRED;
    }

    /* a lease that ran out is not acknowledged, even by a second */
    reap(sh, ngx_current_msec);

    slot_t *slot = &slots(sh)[idx];

    if (slot->gen != gen ||
        CRYPTO_memcmp(slot->id, id, NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN) !=
            0) {
        return NGX_HTTP_PROVISION_X_QUEUE_ACK_UNKNOWN;
    }

    if (slot->state == NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE) {
        switch (slot->outcome) {
        case NGX_HTTP_PROVISION_X_QUEUE_ENDED_ACKED:
            /* a repeated ack (the first answer was lost): same answer */
            *count = slot->count;
            return NGX_HTTP_PROVISION_X_QUEUE_ACKED;

        case NGX_HTTP_PROVISION_X_QUEUE_ENDED_EXPIRED:
            return NGX_HTTP_PROVISION_X_QUEUE_ACK_EXPIRED;

        default:
            return NGX_HTTP_PROVISION_X_QUEUE_ACK_UNKNOWN;
        }
    }

    slot->state = NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACKING;
    ngx_memory_barrier();

    finish_ack(sh, static_cast<uint32_t>(idx));
    reclaim(sh);

    *count = slot->count;

    return NGX_HTTP_PROVISION_X_QUEUE_ACKED;
}

void
ngx_http_provision_x_queue_stats(
    ngx_shm_zone_t *zone, ngx_http_provision_x_queue_stats_t *st) noexcept
{
    auto *ctx = static_cast<ctx_t *>(zone->data);
    sh_t *sh = ctx->sh;

    ngx_memzero(st, sizeof(ngx_http_provision_x_queue_stats_t));

    if (sh == NULL) {
        return;
    }

    queue_lock lock(ctx->shpool, sh, &zone->shm.name, ngx_cycle->log);

    ngx_msec_t now = ngx_current_msec;
    slot_t *slot = slots(sh);

    for (uint32_t i = 0; i < sh->nslots; i++) {
        if (slot[i].state == NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACTIVE &&
            slot[i].expire > now) {
            st->leased += slot[i].count;
        }
    }

    for (uint64_t pos = align_pos(sh, sh->head); pos < sh->tail;
         pos = next_pos(sh, pos)) {
        rec_t *rec = at(sh, pos);

        if (rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY) {
            st->oldest_age = ngx_max(ngx_time() - rec->enqueued, 0);
            break;
        }
    }

    st->depth = sh->depth;
    st->bytes_used = sh->tail - sh->head;
    st->bytes_free = sh->cap - st->bytes_used;
    st->enqueued = sh->enqueued;
    st->leased_total = sh->leased_total;
    st->acknowledged = sh->acknowledged;
    st->redelivered = sh->redelivered;
    st->refused_full = sh->refused_full;
}

ngx_int_t
ngx_http_provision_x_queue_append_unlocked(sh_t *sh, const u_char *data,
                                           size_t len, uint32_t deliveries,
                                           int64_t enqueued) noexcept
{
    if (len > UINT32_MAX - rec_header) {
        return NGX_DECLINED;
    }

    uint64_t size = entry_size(len);

    if (size > sh->cap ||
        place(sh, sh->tail, size, false) + size - sh->head > sh->cap) {
        return NGX_DECLINED;
    }

    uint64_t pos = place(sh, sh->tail, size, true);
    rec_t *rec = at(sh, pos);

    rec->size = static_cast<uint32_t>(size);
    rec->state = NGX_HTTP_PROVISION_X_QUEUE_REC_READY;
    rec->len = static_cast<uint32_t>(len);
    rec->slot = NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT;
    rec->gen = 0;
    rec->deliveries = deliveries;
    rec->enqueued = enqueued;
    ngx_memcpy(bytes_of(rec), data, len);

    sh->tail = pos + size;
    sh->depth++;

    return NGX_OK;
}

ngx_int_t
ngx_http_provision_x_queue_walk(sh_t *sh,
                                ngx_http_provision_x_queue_walk_pt handler,
                                void *data) noexcept
{
    for (uint64_t pos = align_pos(sh, sh->head); pos < sh->tail;
         pos = next_pos(sh, pos)) {
        rec_t *rec = at(sh, pos);

        if (rec->state != NGX_HTTP_PROVISION_X_QUEUE_REC_READY) {
            continue;
        }

        ngx_int_t rc = handler(data, rec, bytes_of(rec));
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}

namespace {

struct carry_t {
    sh_t *to;
    uint64_t records;
    uint64_t bytes;
    bool fits;
};

ngx_int_t
carry_record(void *data, const rec_t *rec, const u_char *bytes) noexcept
{
    auto *carry = static_cast<carry_t *>(data);

    carry->records++;
    carry->bytes += rec->len;

    if (carry->fits && ngx_http_provision_x_queue_append_unlocked(
                           carry->to, bytes, rec->len, rec->deliveries,
                           rec->enqueued) != NGX_OK) {
        carry->fits = false;
    }

    /* go on counting, for the message */
    return NGX_OK;
}

/*
 * The zone of the same name in the running cycle, when a reload gave this
 * one another size (a reused zone comes with its old context instead).
 * ngx_cycle is still the old cycle while the new one initialises zones.
 */
ctx_t *
old_zone(ngx_shm_zone_t *shm_zone) noexcept
{
    ngx_http_provision_x_zone_iter_t it;

    ngx_http_provision_x_zones_begin(&it, const_cast<ngx_cycle_t *>(ngx_cycle),
                                     &ngx_http_provision_x_queue_module);

    while (ngx_shm_zone_t *zone = ngx_http_provision_x_zones_next(&it)) {
        if (zone->shm.name.len != shm_zone->shm.name.len ||
            ngx_strncmp(zone->shm.name.data, shm_zone->shm.name.data,
                        shm_zone->shm.name.len) != 0) {
            continue;
        }

        auto *octx = static_cast<ctx_t *>(zone->data);

        if (zone->shm.addr == NULL || octx == NULL || octx->sh == NULL ||
            octx->sh->magic != NGX_HTTP_PROVISION_X_QUEUE_MAGIC) {
            return NULL;
        }

        return octx;
    }

    return NULL;
}

/*
 * A reload changed the zone's size: the records move to the new zone, and
 * the old one is retired under its lock, so the old workers (which keep
 * running until the new ones are up) refuse pushes with 503 from then on
 * instead of acknowledging records the new zone would never see.  If the
 * new configuration fails later, a cleanup puts the old zone back in
 * service (ngx_http_provision_x_queue_module.cpp).
 */
ngx_int_t
carry_over(ctx_t *ctx, ctx_t *octx, ngx_log_t *log) noexcept
{
    sh_t *osh = octx->sh;
    carry_t carry{ctx->sh, 0, 0, true};

    {
        queue_lock lock(octx->shpool, osh, &ctx->shm_zone->shm.name, log);

        (void) ngx_http_provision_x_queue_walk(osh, carry_record, &carry);

        if (carry.fits) {
            ctx->sh->enqueued = osh->enqueued;
            ctx->sh->leased_total = osh->leased_total;
            ctx->sh->acknowledged = osh->acknowledged;
            ctx->sh->redelivered = osh->redelivered;
            ctx->sh->refused_full = osh->refused_full;
            ctx->sh->recovered = osh->recovered;

            osh->retired = 1;
        }
    }

    if (!carry.fits) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "queue zone \"%V\" holds %uL records (%uL bytes) "
                      "that do not fit its new size; restore its old size, "
                      "drain it, then resize",
                      &ctx->shm_zone->shm.name, carry.records, carry.bytes);
        return NGX_ERROR;
    }

    ctx->old_shpool = octx->shpool;
    ctx->old_sh = osh;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "provision_x: queue zone \"%V\" resized to %uz bytes; "
                  "%uL records carried over, leases ended",
                  &ctx->shm_zone->shm.name, ctx->shm_zone->shm.size,
                  carry.records);

    return NGX_OK;
}

} // namespace

ngx_int_t
ngx_http_provision_x_queue_init_zone(ngx_shm_zone_t *shm_zone,
                                     void *data) noexcept
{
    auto *octx = static_cast<ctx_t *>(data);
    auto *ctx = static_cast<ctx_t *>(shm_zone->data);
    ngx_log_t *log = shm_zone->shm.log;

    if (octx != NULL) {
        /* a reload with the same size: the records stay where they are */
        if (octx->sh->magic != NGX_HTTP_PROVISION_X_QUEUE_MAGIC ||
            octx->sh->version != NGX_HTTP_PROVISION_X_QUEUE_VERSION) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "queue zone \"%V\" has an unknown layout; drain "
                          "it and restart nginx",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = reinterpret_cast<ngx_slab_pool_t *>(shm_zone->shm.addr);

    if (shm_zone->shm.exists) {
        ctx->sh = static_cast<sh_t *>(ctx->shpool->data);
        return NGX_OK;
    }

    size_t len =
        sizeof(" in provision_x queue zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx =
        static_cast<u_char *>(ngx_slab_alloc(ctx->shpool, len));
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in provision_x queue zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* all that is left, in one piece: nothing is allocated later */
    size_t size = ctx->shpool->pfree * ngx_pagesize;

    auto *sh = static_cast<sh_t *>(ngx_slab_alloc(ctx->shpool, size));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    uint64_t nslots = size / bytes_per_slot;
    nslots = ngx_max(slots_min, ngx_min(slots_max, nslots));

    uint64_t overhead = sizeof(sh_t) + nslots * sizeof(slot_t);

    if (size < overhead + ring_min) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "queue zone \"%V\" is too small",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_memzero(sh, overhead);

    sh->magic = NGX_HTTP_PROVISION_X_QUEUE_MAGIC;
    sh->version = NGX_HTTP_PROVISION_X_QUEUE_VERSION;
    sh->nslots = static_cast<uint32_t>(nslots);
    sh->cap = (size - overhead) & ~static_cast<uint64_t>(7);

    ctx->sh = sh;
    ctx->shpool->data = sh;

    octx = old_zone(shm_zone);

    if (octx != NULL) {
        return carry_over(ctx, octx, log);
    }

    if (ctx->snapshot.len) {
        return ngx_http_provision_x_queue_restore(ctx, log);
    }

    return NGX_OK;
}
