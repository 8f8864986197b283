/*
 * The shared-memory CDR queue: the byte ring of core/ring.hpp in one slab
 * allocation of the zone, behind the zone's mutex.  This file holds the
 * lock and its holder pid, nginx's clocks and randomness, the zone's life
 * across reloads (reuse, resize, restore) and the log; the ring holds
 * every rule about records and leases.
 */

#include "ngx_http_provision_x_queue_zone.hpp"

#include <openssl/rand.h>

namespace {

using ctx_t = ngx_http_provision_x_queue_ctx_t;
using provision_x::ring_header;

void
log_recovery(const provision_x::ring_recovery &r, ngx_str_t *name,
             ngx_log_t *log) noexcept
{
    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "provision_x: queue zone \"%V\": process %L died while "
                  "updating it; completing its update",
                  name, r.holder);

    if (r.bounds_reset) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "provision_x: queue zone \"%V\" has head %uL and "
                      "tail %uL; its records are unusable",
                      name, r.bad_head, r.bad_tail);
    }

    if (r.damaged) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "provision_x: queue zone \"%V\": damaged record at "
                      "%uL; the %uL bytes from there are dropped",
                      name, r.damaged_at, r.dropped);
    }
}

/*
 * The zone's mutex, held for the guard's scope.  The holder's pid in the
 * ring's header tells the next holder whether this one finished.
 */
class queue_lock {
public:
    queue_lock(ngx_slab_pool_t *shpool, ring_header *sh, ngx_str_t *name,
               ngx_log_t *log) noexcept
        : shpool_(shpool), sh_(sh)
    {
        provision_x::ring_recovery r;

        ngx_shmtx_lock(&shpool_->mutex);

        if (provision_x::ring_enter(sh_, ngx_pid, &r)) {
            log_recovery(r, name, log);
        }
    }

    ~queue_lock()
    {
        provision_x::ring_leave(sh_);
        ngx_shmtx_unlock(&shpool_->mutex);
    }

    queue_lock(const queue_lock &) = delete;
    queue_lock &operator=(const queue_lock &) = delete;

private:
    ngx_slab_pool_t *shpool_;
    ring_header *sh_;
};

provision_x::ring_record
record_at(const void *items, size_t i) noexcept
{
    const provision_x::cdr_line_pieces &line =
        static_cast<const provision_x::cdr_line_pieces *>(items)[i];
    provision_x::ring_record record;

    static_assert(sizeof(record.piece) / sizeof(record.piece[0])
                      == sizeof(line.piece) / sizeof(line.piece[0]),
                  "a line's pieces are the ring record's");

    for (size_t k = 0; k < std::size(record.piece); k++) {
        record.piece[k] = {line.piece[k].data(), line.piece[k].size()};
    }

    return record;
}

} // namespace

void
ngx_http_provision_x_queue_repair(ctx_t *ctx, ngx_log_t *log) noexcept
{
    provision_x::ring_recovery r;

    if (provision_x::ring_enter(ctx->sh, ngx_pid, &r)) {
        log_recovery(r, &ctx->shm_zone->shm.name, log);
    }

    provision_x::ring_leave(ctx->sh);
}

ngx_http_provision_x_queue_rc_e
ngx_http_provision_x_queue_push(ngx_shm_zone_t *zone,
                                const provision_x::cdr_line_pieces *lines,
                                ngx_uint_t n, ngx_log_t *log) noexcept
{
    auto *ctx = static_cast<ctx_t *>(zone->data);
    ring_header *sh = ctx->sh;
    provision_x::ring_batch batch{lines, n, record_at};
    uint64_t total = provision_x::ring_batch_bytes(batch);

    if (total > sh->cap) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provision_x: a push of %ui records (%uL bytes) can "
                      "never fit queue zone \"%V\" of %uL bytes",
                      n, total, &zone->shm.name, sh->cap);
        return NGX_HTTP_PROVISION_X_QUEUE_ERROR;
    }

    queue_lock lock(ctx->shpool, sh, &zone->shm.name, log);

    switch (provision_x::ring_push(sh, batch, ngx_time())) {
    case provision_x::ring_push_result::ok:
        return NGX_HTTP_PROVISION_X_QUEUE_OK;

    case provision_x::ring_push_result::full:
        return NGX_HTTP_PROVISION_X_QUEUE_FULL;

    case provision_x::ring_push_result::retired:
        /*
         * A reload moved the records to a resized zone, whose counters
         * this worker cannot reach: not counted as full, the platform's
         * retry reaches a new worker.
         */
        return NGX_HTTP_PROVISION_X_QUEUE_MOVED;

    default:
        return NGX_HTTP_PROVISION_X_QUEUE_ERROR;
    }
}

ngx_http_provision_x_queue_lease_rc_e
ngx_http_provision_x_queue_lease(ctx_t *ctx, ngx_uint_t max, uint64_t *found,
                                 ngx_msec_t timeout, ngx_pool_t *pool,
                                 ngx_http_provision_x_queue_lease_t *out,
                                 ngx_log_t *log) noexcept
{
    ring_header *sh = ctx->sh;
    u_char random[provision_x::ring_lease_random_size];

    /* the id's random part makes it unguessable; drawn outside the lock */
    if (RAND_bytes(random, sizeof(random)) != 1) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provision_x: RAND_bytes() failed for a lease id");
        return NGX_HTTP_PROVISION_X_QUEUE_LEASE_ERROR;
    }

    queue_lock lock(ctx->shpool, sh, &ctx->shm_zone->shm.name, log);

    ngx_msec_t now = ngx_current_msec;
    provision_x::ring_lease_plan plan;

    switch (provision_x::ring_lease_prepare(sh, now, found, max, &plan)) {
    case provision_x::ring_lease_result::ready:
        break;

    case provision_x::ring_lease_result::empty:
        return NGX_HTTP_PROVISION_X_QUEUE_EMPTY;

    case provision_x::ring_lease_result::no_slot_free:
        return NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT_FREE;

    default:
        return NGX_HTTP_PROVISION_X_QUEUE_RETIRED;
    }

    /* before the commit: a lease that cannot be answered is not made */
    auto *body = static_cast<u_char *>(ngx_pnalloc(pool, plan.body_len));
    if (body == NULL) {
        return NGX_HTTP_PROVISION_X_QUEUE_LEASE_ERROR;
    }

    provision_x::ring_leased leased;

    provision_x::ring_commit_lease(sh, plan, found, now + timeout, random, body,
                                   &leased);

    ngx_hex_dump(out->id, leased.id, sizeof(leased.id));
    out->count = leased.count;
    out->redelivered = leased.redelivered;
    out->body.data = body;
    out->body.len = plan.body_len;

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
    uint32_t acked;

    *count = 0;

    queue_lock lock(ctx->shpool, ctx->sh, &ctx->shm_zone->shm.name,
                    ngx_cycle->log);

    switch (provision_x::ring_ack(ctx->sh, id, ngx_current_msec, &acked)) {
    case provision_x::ring_ack_result::acked:
        *count = acked;
        return NGX_HTTP_PROVISION_X_QUEUE_ACKED;

    case provision_x::ring_ack_result::expired:
        return NGX_HTTP_PROVISION_X_QUEUE_ACK_EXPIRED;

    case provision_x::ring_ack_result::retired:
        return NGX_HTTP_PROVISION_X_QUEUE_ACK_RETIRED;

    default:
        return NGX_HTTP_PROVISION_X_QUEUE_ACK_UNKNOWN;
    }
}

ngx_uint_t
ngx_http_provision_x_queue_depth(ngx_shm_zone_t *zone) noexcept
{
    auto *ctx = static_cast<ctx_t *>(zone->data);

    return ctx->sh != NULL ? provision_x::ring_depth_unlocked(ctx->sh) : 0;
}

void
ngx_http_provision_x_queue_stats(
    ngx_shm_zone_t *zone, ngx_http_provision_x_queue_stats_t *st) noexcept
{
    auto *ctx = static_cast<ctx_t *>(zone->data);
    provision_x::ring_stats rs;

    ngx_memzero(st, sizeof(ngx_http_provision_x_queue_stats_t));

    if (ctx->sh == NULL) {
        return;
    }

    {
        queue_lock lock(ctx->shpool, ctx->sh, &zone->shm.name, ngx_cycle->log);

        provision_x::ring_get_stats(ctx->sh, ngx_current_msec, &rs);
    }

    st->depth = rs.depth;
    st->leased = rs.leased;
    st->bytes_used = rs.bytes_used;
    st->bytes_free = rs.bytes_free;
    st->oldest_age = rs.any ? ngx_max(ngx_time() - rs.oldest, 0) : 0;
    st->enqueued = rs.enqueued;
    st->leased_total = rs.leased_total;
    st->acknowledged = rs.acknowledged;
    st->redelivered = rs.redelivered;
    st->refused_full = rs.refused_full;
}

namespace {

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
        if (zone->shm.name.len != shm_zone->shm.name.len
            || ngx_strncmp(zone->shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
                   != 0)
        {
            continue;
        }

        auto *octx = static_cast<ctx_t *>(zone->data);

        if (zone->shm.addr == NULL || octx == NULL || octx->sh == NULL
            || octx->sh->magic != provision_x::ring_magic)
        {
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
    provision_x::ring_carried carried;
    bool fits;

    {
        queue_lock lock(octx->shpool, octx->sh, &ctx->shm_zone->shm.name, log);

        fits = provision_x::ring_carry_over(octx->sh, ctx->sh, &carried);
    }

    if (!fits) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "queue zone \"%V\" holds %uL records (%uL bytes) "
                      "that do not fit its new size; restore its old size, "
                      "drain it, then resize",
                      &ctx->shm_zone->shm.name, carried.records, carried.bytes);
        return NGX_ERROR;
    }

    ctx->old_shpool = octx->shpool;
    ctx->old_sh = octx->sh;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "provision_x: queue zone \"%V\" resized to %uz bytes; "
                  "%uL records carried over, leases ended",
                  &ctx->shm_zone->shm.name, ctx->shm_zone->shm.size,
                  carried.records);

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
        if (!provision_x::ring_valid(octx->sh)) {
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
        ctx->sh = static_cast<ring_header *>(ctx->shpool->data);
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

    void *region = ngx_slab_alloc(ctx->shpool, size);
    if (region == NULL) {
        return NGX_ERROR;
    }

    ctx->sh = provision_x::ring_init(region, size);
    if (ctx->sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "queue zone \"%V\" is too small",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    octx = old_zone(shm_zone);

    if (octx != NULL) {
        return carry_over(ctx, octx, log);
    }

    if (ctx->snapshot.len) {
        return ngx_http_provision_x_queue_restore(ctx, log);
    }

    return NGX_OK;
}
