/*
 * The nonce store and the CDR dedup memory in shared memory: the fixed-slot
 * table of core/seen_table.hpp behind the slab pool's mutex (which nginx
 * force-unlocks when a worker dies holding it; the table needs no repair
 * then), with nginx's zone lifecycle:
 *
 *   - a reload with the same size keeps the zone and what it remembers
 *     (a zone may not change kind: that is refused);
 *   - a reload that resizes it carries every live entry into the new zone
 *     and retires the old one under its lock, so the old workers refuse
 *     to add to it from then on (503: the platform retries) instead of
 *     remembering what the new zone would never see; if the new
 *     configuration fails later, a cleanup puts the old zone back in
 *     service; entries that do not fit refuse the reload.
 *
 * The set is add-only: an entry leaves only when it has expired.  When no
 * slot is left for a new entry the add is refused, so a caller can fail
 * closed instead of forgetting a nonce that could still be replayed.
 */

#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_seen.hpp"

#include <openssl/rand.h>

using provision_x::seen_header;
using provision_x::seen_result;

namespace {

/* Holds the zone's lock for a scope. */
class seen_lock {
public:
    explicit seen_lock(ngx_slab_pool_t *shpool) noexcept : shpool_(shpool)
    {
        ngx_shmtx_lock(&shpool_->mutex);
    }

    ~seen_lock()
    {
        ngx_shmtx_unlock(&shpool_->mutex);
    }

    seen_lock(const seen_lock &) = delete;
    seen_lock &operator=(const seen_lock &) = delete;

private:
    ngx_slab_pool_t *shpool_;
};

const char *
kind_name(ngx_uint_t kind) noexcept
{
    return kind == NGX_HTTP_PROVISION_X_ZONE_NONCE ? "nonce" : "dedup";
}

/* A full or nearly full zone warns once a minute at most. */
constexpr time_t warn_interval = 60;

ngx_http_provision_x_seen_rc_e
seen_rc(seen_result r) noexcept
{
    switch (r) {
    case seen_result::added:
        return NGX_HTTP_PROVISION_X_SEEN_ADDED;
    case seen_result::present:
        return NGX_HTTP_PROVISION_X_SEEN_PRESENT;
    case seen_result::over_share:
        return NGX_HTTP_PROVISION_X_SEEN_OVER_SHARE;
    case seen_result::retired:
        return NGX_HTTP_PROVISION_X_SEEN_RETIRED;
    default:
        return NGX_HTTP_PROVISION_X_SEEN_FULL;
    }
}

uint64_t
share_of(ngx_http_provision_x_seen_ctx_t *ctx) noexcept
{
    if (ctx->max_share == 0) {
        return 0;
    }

    uint64_t share = provision_x::seen_capacity(ctx->sh) * ctx->max_share / 100;

    return share ? share : 1;
}

/*
 * Under the lock: at 80 % of the slots (or at a refusal), a warning that
 * names the zone, at most once a minute, so a zone is resized before it
 * starts to refuse.
 */
void
warn_fill(ngx_http_provision_x_seen_ctx_t *ctx, seen_result r, time_t now,
          ngx_log_t *log) noexcept
{
    seen_header *sh = ctx->sh;

    if (now - sh->warned_at < warn_interval) {
        return;
    }

    uint64_t entries = provision_x::seen_counted_total(sh);
    uint64_t capacity = provision_x::seen_capacity(sh);

    if (r != seen_result::full && entries * 5 < capacity * 4) {
        return;
    }

    sh->warned_at = now;

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "provision_x: %s zone \"%V\" is %uL%% full (%uL of %uL "
                  "entries)%s; give it more memory",
                  kind_name(ctx->kind), &ctx->shm_zone->shm.name,
                  capacity ? entries * 100 / capacity : 100, entries, capacity,
                  r == seen_result::full ? " and refused an entry" : "");
}

/*
 * The zone of the same name in the running cycle, when a reload gave this
 * one another size.  ngx_cycle is still the old cycle while the new one
 * initialises its zones.
 */
ngx_http_provision_x_seen_ctx_t *
old_zone(ngx_shm_zone_t *shm_zone) noexcept
{
    ngx_http_provision_x_zone_iter_t it;

    ngx_http_provision_x_zones_begin(&it, const_cast<ngx_cycle_t *>(ngx_cycle),
                                     &ngx_http_provision_x_module);

    while (ngx_shm_zone_t *zone = ngx_http_provision_x_zones_next(&it)) {
        if (zone->shm.name.len != shm_zone->shm.name.len
            || ngx_strncmp(zone->shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
                   != 0)
        {
            continue;
        }

        auto *octx = static_cast<ngx_http_provision_x_seen_ctx_t *>(zone->data);

        if (zone->shm.addr == NULL || octx == NULL || octx->sh == NULL
            || !provision_x::seen_valid(octx->sh))
        {
            return NULL;
        }

        return octx;
    }

    return NULL;
}

ngx_int_t
refuse_kind_change(ngx_http_provision_x_seen_ctx_t *ctx,
                   ngx_http_provision_x_seen_ctx_t *octx) noexcept
{
    if (octx->kind == ctx->kind) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, ctx->shm_zone->shm.log, 0,
                  "zone \"%V\" is a %s zone, while previously it was a %s "
                  "zone; give it another name",
                  &ctx->shm_zone->shm.name, kind_name(ctx->kind),
                  kind_name(octx->kind));

    return NGX_ERROR;
}

ngx_int_t
carry_over(ngx_http_provision_x_seen_ctx_t *ctx,
           ngx_http_provision_x_seen_ctx_t *octx, ngx_log_t *log) noexcept
{
    uint64_t entries;
    bool fits;
    time_t now = NGX_HTTP_PROVISION_X_NOW();

    {
        seen_lock lock(octx->shpool);

        fits = provision_x::seen_carry(octx->sh, ctx->sh, now, &entries);
        if (fits) {
            ctx->sh->refused_full = octx->sh->refused_full;
            ctx->sh->refused_share = octx->sh->refused_share;
            octx->sh->retired = 1;
        }
    }

    if (!fits) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s zone \"%V\" holds %uL live entries that do not "
                      "fit its new size; keep its old size until fewer "
                      "remain",
                      kind_name(ctx->kind), &ctx->shm_zone->shm.name, entries);
        return NGX_ERROR;
    }

    ctx->old_shpool = octx->shpool;
    ctx->old_sh = octx->sh;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "provision_x: %s zone \"%V\" resized to %uz bytes; %uL "
                  "entries carried over",
                  kind_name(ctx->kind), &ctx->shm_zone->shm.name,
                  ctx->shm_zone->shm.size, entries);

    return NGX_OK;
}

uint64_t
random_salt() noexcept
{
    uint64_t salt;

    if (RAND_bytes(reinterpret_cast<unsigned char *>(&salt), sizeof(salt)) != 1)
    {
        salt = (static_cast<uint64_t>(ngx_random()) << 32) ^ ngx_random()
               ^ static_cast<uint64_t>(ngx_time());
    }

    return salt;
}

ngx_int_t
init_zone(ngx_shm_zone_t *shm_zone, void *data) noexcept
{
    auto *octx = static_cast<ngx_http_provision_x_seen_ctx_t *>(data);
    auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(shm_zone->data);
    ngx_log_t *log = shm_zone->shm.log;
    if (octx != NULL) {
        /* a reload with the same size: keep what the zone remembers */
        if (!provision_x::seen_valid(octx->sh)) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "zone \"%V\" has an unknown layout; restart nginx",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        if (refuse_kind_change(ctx, octx) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;

        /* a worker killed mid-add can leave a count one too high */
        time_t now = NGX_HTTP_PROVISION_X_NOW();
        seen_lock lock(ctx->shpool);
        provision_x::seen_recount(ctx->sh, now);

        return NGX_OK;
    }

    ctx->shpool = reinterpret_cast<ngx_slab_pool_t *>(shm_zone->shm.addr);

    if (shm_zone->shm.exists) {
        ctx->sh = static_cast<seen_header *>(ctx->shpool->data);
        return NGX_OK;
    }

    size_t len = sizeof(" in provision_x zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx =
        static_cast<u_char *>(ngx_slab_alloc(ctx->shpool, len));
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in provision_x zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* the whole zone in one table: nothing is allocated later */
    uint32_t buckets =
        provision_x::seen_buckets_for(ctx->shpool->pfree * ngx_pagesize);

    ctx->sh = NGX_HTTP_PROVISION_X_FAULT("shm_init")
                  ? NULL
                  : static_cast<seen_header *>(ngx_slab_alloc(
                      ctx->shpool, provision_x::seen_table_bytes(buckets)));
    if (buckets == 0 || ctx->sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "zone \"%V\" is too small",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    provision_x::seen_init(ctx->sh, buckets,
                           static_cast<provision_x::seen_kind>(ctx->kind),
                           NGX_HTTP_PROVISION_X_NOW(), random_salt());
    ctx->shpool->data = ctx->sh;

    octx = old_zone(shm_zone);

    if (octx == NULL) {
        return NGX_OK;
    }

    if (refuse_kind_change(ctx, octx) != NGX_OK) {
        return NGX_ERROR;
    }

    return carry_over(ctx, octx, log);
}

/*
 * The new configuration did not come up: the old cycle goes on serving,
 * so the zone this one was to replace must take entries again.
 */
void
unretire(void *data) noexcept
{
    auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(data);

    if (ctx->committed || ctx->old_sh == NULL) {
        return;
    }

    {
        seen_lock lock(ctx->old_shpool);
        ctx->old_sh->retired = 0;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "provision_x: zone \"%V\" keeps its old size: the new "
                  "configuration was not loaded",
                  &ctx->shm_zone->shm.name);
}

/* "ttl=TIME" of provision_x_dedup_zone */
char *
parse_ttl(ngx_conf_t *cf, ngx_http_provision_x_seen_ctx_t *ctx,
          ngx_str_t *arg) noexcept
{
    ngx_str_t s;

    s.data = arg->data + 4;
    s.len = arg->len - 4;

    ctx->ttl = ngx_parse_time(&s, 1);
    if (ctx->ttl == static_cast<time_t>(NGX_ERROR) || ctx->ttl == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                           arg);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

/* "max_share=N%" */
char *
parse_share(ngx_conf_t *cf, ngx_http_provision_x_seen_ctx_t *ctx,
            ngx_str_t *arg) noexcept
{
    size_t len = arg->len - 10;

    if (len > 0 && arg->data[arg->len - 1] == '%') {
        len--;
    }

    ngx_int_t n = ngx_atoi(arg->data + 10, len);
    if (n == NGX_ERROR || n < 1 || n > 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected "
                           "\"max_share=N%%\" with N from 1 to 100",
                           arg);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ctx->max_share = n;

    return NGX_CONF_OK;
}

} // namespace

/*
 * provision_x_nonce_zone zone=NAME:SIZE [max_share=N%];
 * provision_x_dedup_zone zone=NAME:SIZE [ttl=TIME] [max_share=N%];
 */
char *
ngx_http_provision_x_seen_zone(ngx_conf_t *cf, ngx_uint_t kind) noexcept
{
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_seen_ctx_t)));
    if (ctx == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ngx_str_t name = ngx_null_string;
    ssize_t size = 0;

    ctx->kind = kind;
    ctx->ttl = NGX_HTTP_PROVISION_X_DEDUP_TTL;

    for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
        ngx_str_t *arg = &value[i];
        char *rv = NGX_CONF_OK;

        if (arg->len > 5 && ngx_strncmp(arg->data, "zone=", 5) == 0) {
            if (ngx_http_provision_x_zone_arg(cf, arg, &name, &size) != NGX_OK)
            {
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

        } else if (kind == NGX_HTTP_PROVISION_X_ZONE_DEDUP && arg->len > 4
                   && ngx_strncmp(arg->data, "ttl=", 4) == 0)
        {
            rv = parse_ttl(cf, ctx, arg);

        } else if (arg->len > 10
                   && ngx_strncmp(arg->data, "max_share=", 10) == 0) {
            rv = parse_share(cf, ctx, arg);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "\"zone=name:size\"%s or \"max_share=N%%\"",
                               arg,
                               kind == NGX_HTTP_PROVISION_X_ZONE_DEDUP
                                   ? ", \"ttl=time\""
                                   : "");
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter", &value[0]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ngx_shm_zone_t *shm_zone =
        ngx_shared_memory_add(cf, &name, size, &ngx_http_provision_x_module);
    if (shm_zone == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate zone \"%V\"",
                           &name);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    cln->handler = unretire;
    cln->data = ctx;

    ctx->shm_zone = shm_zone;
    shm_zone->init = init_zone;
    shm_zone->data = ctx;

    return NGX_CONF_OK;
}

void
ngx_http_provision_x_seen_commit(ngx_cycle_t *cycle) noexcept
{
    ngx_http_provision_x_zone_iter_t it;

    ngx_http_provision_x_zones_begin(&it, cycle, &ngx_http_provision_x_module);

    while (ngx_shm_zone_t *zone = ngx_http_provision_x_zones_next(&it)) {
        auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(zone->data);

        if (ctx != NULL) {
            ctx->committed = 1;
        }
    }
}

ngx_http_provision_x_seen_rc_e
ngx_http_provision_x_seen_add(ngx_http_provision_x_seen_ctx_t *ctx,
                              const u_char *digest, time_t expire,
                              ngx_uint_t owner, ngx_log_t *log) noexcept
{
    time_t now = NGX_HTTP_PROVISION_X_NOW();
    seen_lock lock(ctx->shpool);

    seen_result r = provision_x::seen_add(ctx->sh, digest, expire, owner,
                                          share_of(ctx), now);

    if (r == seen_result::added || r == seen_result::full) {
        warn_fill(ctx, r, now, log);
    }

    return seen_rc(r);
}

ngx_http_provision_x_seen_rc_e
ngx_http_provision_x_seen_add_all(
    ngx_http_provision_x_seen_ctx_t *ctx,
    const u_char (*digests)[NGX_HTTP_PROVISION_X_DIGEST_LEN], ngx_uint_t n,
    time_t expire, ngx_uint_t owner, ngx_log_t *log) noexcept
{
    seen_result worst = seen_result::added;
    time_t now = NGX_HTTP_PROVISION_X_NOW();
    uint64_t share = share_of(ctx);

    seen_lock lock(ctx->shpool);

    for (ngx_uint_t i = 0; i < n; i++) {
        seen_result r = provision_x::seen_add(ctx->sh, digests[i], expire,
                                              owner, share, now);

        if (r != seen_result::added && r != seen_result::present) {
            worst = r;
        }
    }

    warn_fill(ctx, worst, now, log);

    return seen_rc(worst);
}

ngx_uint_t
ngx_http_provision_x_seen_contains(ngx_http_provision_x_seen_ctx_t *ctx,
                                   const u_char *digest) noexcept
{
    time_t now = NGX_HTTP_PROVISION_X_NOW();
    seen_lock lock(ctx->shpool);

    return provision_x::seen_contains(ctx->sh, digest, now);
}

void
ngx_http_provision_x_seen_contains_each(ngx_http_provision_x_seen_ctx_t *ctx,
                                        const u_char *first, size_t stride,
                                        ngx_uint_t n, u_char *known) noexcept
{
    for (ngx_uint_t i = 0; i < n; i++) {
        provision_x::seen_prefetch(ctx->sh, first + i * stride);
    }

    time_t now = NGX_HTTP_PROVISION_X_NOW();
    seen_lock lock(ctx->shpool);

    for (ngx_uint_t i = 0; i < n; i++) {
        known[i] = provision_x::seen_contains(ctx->sh, first + i * stride, now);
    }
}

/* Reads only: no lock, so a status scrape never holds up a callback. */
void
ngx_http_provision_x_seen_stats(ngx_http_provision_x_seen_ctx_t *ctx,
                                provision_x::seen_stats *st) noexcept
{
    provision_x::seen_get_stats(ctx->sh, NGX_HTTP_PROVISION_X_NOW(), st);
}
