/*
 * A shared-memory set of fixed-size digests, each with an expiry time: the
 * nonce store and the CDR dedup memory.  Built like limit_req's zone: slab
 * pool, its mutex (which nginx force-unlocks when a worker dies holding
 * it), an rbtree for lookup and a queue for expiry.
 *
 * The set is add-only: an entry leaves only when it has expired.  When no
 * memory is left for a new entry the add is refused, so a caller can fail
 * closed instead of forgetting a nonce that could still be replayed.
 */

#include "ngx_http_provision_x.hpp"

struct ngx_http_provision_x_seen_node_t {
    ngx_rbtree_node_t node; /* key: the digest's first bytes */
    ngx_queue_t queue;
    time_t expire;
    u_char digest[NGX_HTTP_PROVISION_X_DIGEST_LEN];
};

/* The queue is kept sorted by expiry, newest at the head: entries arrive
 * with expiry times close to "now + window", so the sorted insert almost
 * always stops at the head, and expiry only ever pops the tail. */
struct ngx_http_provision_x_seen_sh_t {
    ngx_rbtree_t rbtree;
    ngx_rbtree_node_t sentinel;
    ngx_queue_t queue;
    ngx_uint_t entries;
    ngx_uint_t refused;
};

static ngx_int_t ngx_http_provision_x_seen_init_zone(ngx_shm_zone_t *shm_zone,
                                                     void *data) noexcept;

static void
ngx_http_provision_x_seen_rbtree_insert(ngx_rbtree_node_t *temp,
                                        ngx_rbtree_node_t *node,
                                        ngx_rbtree_node_t *sentinel) noexcept
{
    ngx_rbtree_node_t **p;

    for (;;) {
        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            auto *n =
                reinterpret_cast<ngx_http_provision_x_seen_node_t *>(node);
            auto *t =
                reinterpret_cast<ngx_http_provision_x_seen_node_t *>(temp);

            p = (ngx_memcmp(n->digest, t->digest, sizeof(n->digest)) < 0)
                    ? &temp->left
                    : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}

static ngx_rbtree_key_t
ngx_http_provision_x_seen_key(const u_char *digest) noexcept
{
    ngx_rbtree_key_t key;

    ngx_memcpy(&key, digest, sizeof(key));

    return key;
}

static ngx_http_provision_x_seen_node_t *
ngx_http_provision_x_seen_lookup(ngx_http_provision_x_seen_sh_t *sh,
                                 const u_char *digest) noexcept
{
    ngx_rbtree_key_t key = ngx_http_provision_x_seen_key(digest);
    ngx_rbtree_node_t *node = sh->rbtree.root;
    ngx_rbtree_node_t *sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {
        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        auto *sn = reinterpret_cast<ngx_http_provision_x_seen_node_t *>(node);
        ngx_int_t rc = ngx_memcmp(digest, sn->digest, sizeof(sn->digest));

        if (rc == 0) {
            return sn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}

static void
ngx_http_provision_x_seen_expire(ngx_http_provision_x_seen_ctx_t *ctx,
                                 time_t now) noexcept
{
    ngx_http_provision_x_seen_sh_t *sh = ctx->sh;

    while (!ngx_queue_empty(&sh->queue)) {
        ngx_queue_t *q = ngx_queue_last(&sh->queue);
        auto *sn = ngx_queue_data(q, ngx_http_provision_x_seen_node_t, queue);

        if (sn->expire > now) {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&sh->rbtree, &sn->node);
        ngx_slab_free_locked(ctx->shpool, sn);
        sh->entries--;
    }
}

static void
ngx_http_provision_x_seen_enqueue(ngx_http_provision_x_seen_sh_t *sh,
                                  ngx_http_provision_x_seen_node_t *sn) noexcept
{
    ngx_queue_t *q;

    for (q = ngx_queue_head(&sh->queue); q != ngx_queue_sentinel(&sh->queue);
         q = ngx_queue_next(q)) {
        auto *other =
            ngx_queue_data(q, ngx_http_provision_x_seen_node_t, queue);

        if (other->expire <= sn->expire) {
            break;
        }
    }

    /* insert before q, i.e. after its predecessor */
    ngx_queue_insert_after(ngx_queue_prev(q), &sn->queue);
}

static ngx_http_provision_x_seen_rc_e
ngx_http_provision_x_seen_add_locked(ngx_http_provision_x_seen_ctx_t *ctx,
                                     const u_char *digest,
                                     time_t expire) noexcept
{
    ngx_http_provision_x_seen_sh_t *sh = ctx->sh;
    ngx_http_provision_x_seen_node_t *sn;

    sn = ngx_http_provision_x_seen_lookup(sh, digest);
    if (sn != NULL) {
        return NGX_HTTP_PROVISION_X_SEEN_PRESENT;
    }

    sn = static_cast<ngx_http_provision_x_seen_node_t *>(
        ngx_slab_alloc_locked(ctx->shpool, sizeof(*sn)));
    if (sn == NULL) {
        sh->refused++;
        return NGX_HTTP_PROVISION_X_SEEN_FULL;
    }

    ngx_memcpy(sn->digest, digest, sizeof(sn->digest));
    sn->node.key = ngx_http_provision_x_seen_key(digest);
    sn->expire = expire;

    ngx_rbtree_insert(&sh->rbtree, &sn->node);
    ngx_http_provision_x_seen_enqueue(sh, sn);
    sh->entries++;

    return NGX_HTTP_PROVISION_X_SEEN_ADDED;
}

ngx_http_provision_x_seen_rc_e
ngx_http_provision_x_seen_add(ngx_http_provision_x_seen_ctx_t *ctx,
                              const u_char *digest, time_t expire) noexcept
{
    time_t now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /* expired entries are dropped first, so "present" below means live */
    ngx_http_provision_x_seen_expire(ctx, now);

    ngx_http_provision_x_seen_rc_e rc =
        ngx_http_provision_x_seen_add_locked(ctx, digest, expire);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}

ngx_http_provision_x_seen_rc_e
ngx_http_provision_x_seen_add_all(
    ngx_http_provision_x_seen_ctx_t *ctx,
    const u_char (*digests)[NGX_HTTP_PROVISION_X_DIGEST_LEN], ngx_uint_t n,
    time_t expire) noexcept
{
    time_t now = ngx_time();
    ngx_http_provision_x_seen_rc_e rc = NGX_HTTP_PROVISION_X_SEEN_ADDED;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_provision_x_seen_expire(ctx, now);

    for (ngx_uint_t i = 0; i < n; i++) {
        if (ngx_http_provision_x_seen_add_locked(ctx, digests[i], expire) ==
            NGX_HTTP_PROVISION_X_SEEN_FULL) {
            rc = NGX_HTTP_PROVISION_X_SEEN_FULL;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}

ngx_uint_t
ngx_http_provision_x_seen_contains(ngx_http_provision_x_seen_ctx_t *ctx,
                                   const u_char *digest) noexcept
{
    time_t now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_provision_x_seen_node_t *sn =
        ngx_http_provision_x_seen_lookup(ctx->sh, digest);
    ngx_uint_t found = (sn != NULL && sn->expire > now);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return found;
}

void
ngx_http_provision_x_seen_stats(ngx_http_provision_x_seen_ctx_t *ctx,
                                ngx_http_provision_x_seen_stats_t *st) noexcept
{
    ngx_slab_pool_t *shpool = ctx->shpool;

    ngx_shmtx_lock(&shpool->mutex);

    st->entries = ctx->sh->entries;
    st->refused = ctx->sh->refused;
    st->bytes_free = shpool->pfree * ngx_pagesize;
    st->bytes_total = ctx->shm_zone->shm.size;

    ngx_shmtx_unlock(&shpool->mutex);
}

static ngx_int_t
ngx_http_provision_x_seen_init_zone(ngx_shm_zone_t *shm_zone,
                                    void *data) noexcept
{
    auto *octx = static_cast<ngx_http_provision_x_seen_ctx_t *>(data);
    auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(shm_zone->data);

    if (octx != NULL) {
        /* a reload: keep what the previous cycle remembered */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = reinterpret_cast<ngx_slab_pool_t *>(shm_zone->shm.addr);

    if (shm_zone->shm.exists) {
        ctx->sh =
            static_cast<ngx_http_provision_x_seen_sh_t *>(ctx->shpool->data);
        return NGX_OK;
    }

    ctx->sh = static_cast<ngx_http_provision_x_seen_sh_t *>(
        ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_provision_x_seen_sh_t)));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_provision_x_seen_rbtree_insert);
    ngx_queue_init(&ctx->sh->queue);
    ctx->sh->entries = 0;
    ctx->sh->refused = 0;

    size_t len = sizeof(" in provision_x zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx =
        static_cast<u_char *>(ngx_slab_alloc(ctx->shpool, len));
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in provision_x zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full set is an expected, counted condition, not a log flood */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}

/*
 * "zone=NAME:SIZE" of provision_x_nonce_zone and provision_x_dedup_zone.
 */
ngx_http_provision_x_seen_ctx_t *
ngx_http_provision_x_seen_zone_add(ngx_conf_t *cf, ngx_str_t *arg,
                                   ngx_uint_t kind) noexcept
{
    if (arg->len <= 5 || ngx_strncmp(arg->data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected "
                           "\"zone=name:size\"",
                           arg);
        return NULL;
    }

    ngx_str_t name;
    name.data = arg->data + 5;

    u_char *p = ngx_strlchr(name.data, arg->data + arg->len, ':');
    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                           arg);
        return NULL;
    }

    name.len = p - name.data;

    ngx_str_t s;
    s.data = p + 1;
    s.len = arg->data + arg->len - s.data;

    ssize_t size = ngx_parse_size(&s);
    if (size == NGX_ERROR || name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone \"%V\"", arg);
        return NULL;
    }

    if (size < static_cast<ssize_t>(8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is too small",
                           arg);
        return NULL;
    }

    auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_seen_ctx_t)));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_shm_zone_t *shm_zone =
        ngx_shared_memory_add(cf, &name, size, &ngx_http_provision_x_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate zone \"%V\"",
                           &name);
        return NULL;
    }

    ctx->kind = kind;
    ctx->shm_zone = shm_zone;
    shm_zone->init = ngx_http_provision_x_seen_init_zone;
    shm_zone->data = ctx;

    return ctx;
}
