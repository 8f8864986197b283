/*
 * The queue module: a second HTTP module in the same .so.  It owns the
 * queue zones, the consumer API and the API keys; the CDR handler of
 * ngx_http_provision_x_module enqueues through ngx_http_provision_x_queue.hpp.
 *
 * Lifecycle of a zone across cycles:
 *   - created (first start, or a new name): restored from its snapshot
 *     file when there is one, which is set aside once the cycle runs;
 *   - reload, same size: nginx hands the old context to init_zone and the
 *     records stay in place;
 *   - reload, new size: the records are copied over and the old zone is
 *     retired; a failed reload puts it back in service (cleanup below);
 *   - graceful stop: the master writes the snapshot after the last worker
 *     has exited (exit_master).
 */

#include "ngx_http_provision_x_api_key.hpp"
#include "ngx_http_provision_x_queue_zone.hpp"

#include <sys/stat.h>

static void *
ngx_http_provision_x_queue_create_main_conf(ngx_conf_t *cf) noexcept;
static char *ngx_http_provision_x_queue_init_main_conf(ngx_conf_t *cf,
                                                       void *conf) noexcept;
static void *
ngx_http_provision_x_queue_create_loc_conf(ngx_conf_t *cf) noexcept;
static char *ngx_http_provision_x_queue_merge_loc_conf(ngx_conf_t *cf,
                                                       void *parent,
                                                       void *child) noexcept;
static char *ngx_http_provision_x_queue_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                             void *conf) noexcept;
static char *ngx_http_provision_x_queue_consume(ngx_conf_t *cf,
                                                ngx_command_t *cmd,
                                                void *conf) noexcept;
static ngx_int_t
ngx_http_provision_x_queue_init_module(ngx_cycle_t *cycle) noexcept;
static void ngx_http_provision_x_queue_exit_master(ngx_cycle_t *cycle) noexcept;

#define NGX_HTTP_PROVISION_X_QUEUE_ANY_CONF                                    \
    (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF)

/* one lease per request carries at most this many records */
#define NGX_HTTP_PROVISION_X_QUEUE_MAX_LIMIT 10000

// clang-format off
static ngx_command_t ngx_http_provision_x_queue_commands[] = {

    { ngx_string("provision_x_queue_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_provision_x_queue_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_queue_consume"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_provision_x_queue_consume,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_api_key"),
      NGX_HTTP_PROVISION_X_QUEUE_ANY_CONF|NGX_CONF_1MORE,
      ngx_http_provision_x_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t ngx_http_provision_x_queue_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_provision_x_queue_create_main_conf,
                                           /* create main configuration */
    ngx_http_provision_x_queue_init_main_conf,
                                           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_provision_x_queue_create_loc_conf,
                                           /* create location configuration */
    ngx_http_provision_x_queue_merge_loc_conf
                                           /* merge location configuration */
};


ngx_module_t ngx_http_provision_x_queue_module = {
    NGX_MODULE_V1,
    &ngx_http_provision_x_queue_module_ctx, /* module context */
    ngx_http_provision_x_queue_commands,   /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_provision_x_queue_init_module, /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    ngx_http_provision_x_queue_exit_master, /* exit master */
    NGX_MODULE_V1_PADDING
};
// clang-format on

/*
 * The new configuration did not come up (a later zone, a port, ...): the
 * old cycle goes on serving, so the zone this one was to replace must
 * accept records again.  After a successful start this does nothing.
 */
static void
ngx_http_provision_x_queue_unretire(void *data) noexcept
{
    auto *ctx = static_cast<ngx_http_provision_x_queue_ctx_t *>(data);

    if (ctx->committed || ctx->old_sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&ctx->old_shpool->mutex);
    ctx->old_sh->retired = 0;
    ngx_shmtx_unlock(&ctx->old_shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "provision_x: queue zone \"%V\" keeps its old size: the "
                  "new configuration was not loaded",
                  &ctx->shm_zone->shm.name);
}

static ngx_int_t
ngx_http_provision_x_queue_snapshot_path(
    ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_provision_x_queue_main_conf_t *qmcf) noexcept
{
    if (ngx_conf_full_name(cf->cycle, path, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    auto **ctxs =
        static_cast<ngx_http_provision_x_queue_ctx_t **>(qmcf->zones.elts);

    for (ngx_uint_t i = 0; i < qmcf->zones.nelts; i++) {
        if (ctxs[i]->snapshot.len == path->len
            && ngx_strncmp(ctxs[i]->snapshot.data, path->data, path->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "snapshot file \"%V\" is already used by "
                               "queue zone \"%V\"",
                               path, &ctxs[i]->shm_zone->shm.name);
            return NGX_ERROR;
        }
    }

    /* a missing directory would only show when nginx stops: say it now */
    u_char *slash = path->data + path->len;

    while (slash > path->data && slash[-1] != '/') {
        slash--;
    }

    if (slash == path->data + path->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "snapshot \"%V\" names a directory, not a file",
                           path);
        return NGX_ERROR;
    }

    ngx_str_t dir;
    dir.len = (slash > path->data + 1) ? slash - 1 - path->data : 1;
    dir.data = static_cast<u_char *>(ngx_pnalloc(cf->pool, dir.len + 1));
    if (dir.data == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(dir.data, path->data, dir.len + 1);

    ngx_file_info_t fi;

    if (ngx_file_info(dir.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "snapshot directory \"%s\" is not usable", dir.data);
        return NGX_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "snapshot directory \"%s\" is not a directory",
                           dir.data);
        return NGX_ERROR;
    }

    /*
     * The master writes and reads the snapshot, as root: anyone else who
     * may write the directory (a worker's user) could plant a link that
     * the master would write through, or forged records it would restore.
     */
    if (fi.st_uid != geteuid() || (fi.st_mode & (S_IWGRP | S_IWOTH))) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "snapshot directory \"%s\" may be written by "
                           "other users than the one nginx's master runs as "
                           "(uid %d); use a directory only that user can "
                           "write, such as /var/lib/nginx",
                           dir.data, static_cast<int>(geteuid()));
        return NGX_ERROR;
    }

    return NGX_OK;
}

/*
 * provision_x_queue_zone zone=NAME:SIZE [snapshot=PATH];
 */
static char *
ngx_http_provision_x_queue_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                void *conf) noexcept
{
    auto *qmcf = static_cast<ngx_http_provision_x_queue_main_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);
    ngx_str_t name = ngx_null_string;
    ngx_str_t snapshot = ngx_null_string;
    ssize_t size = 0;

    for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
        if (value[i].len > 5 && ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            if (ngx_http_provision_x_zone_arg(cf, &value[i], &name, &size)
                != NGX_OK) {
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

            continue;
        }

        if (value[i].len > 9 && ngx_strncmp(value[i].data, "snapshot=", 9) == 0)
        {
            snapshot.data = value[i].data + 9;
            snapshot.len = value[i].len - 9;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected "
                           "\"zone=name:size\" or \"snapshot=file\"",
                           &value[i]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter", &value[0]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (snapshot.len
        && ngx_http_provision_x_queue_snapshot_path(cf, &snapshot, qmcf)
               != NGX_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    auto *ctx = static_cast<ngx_http_provision_x_queue_ctx_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_queue_ctx_t)));
    if (ctx == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ngx_shm_zone_t *shm_zone = ngx_shared_memory_add(
        cf, &name, size, &ngx_http_provision_x_queue_module);
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

    cln->handler = ngx_http_provision_x_queue_unretire;
    cln->data = ctx;

    auto **slot = static_cast<ngx_http_provision_x_queue_ctx_t **>(
        ngx_array_push(&qmcf->zones));
    if (slot == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    *slot = ctx;

    ctx->kind = NGX_HTTP_PROVISION_X_ZONE_QUEUE;
    ctx->shm_zone = shm_zone;
    ctx->snapshot = snapshot;
    shm_zone->init = ngx_http_provision_x_queue_init_zone;
    shm_zone->data = ctx;

    return NGX_CONF_OK;
}

/*
 * A zone named by a directive may be defined further down the http
 * block, so whether it exists (and is a queue) is checked once the whole
 * block has been read, in init_main_conf.
 */
void
ngx_http_provision_x_api_keys_needed(ngx_conf_t *cf) noexcept
{
    auto *qlcf = static_cast<ngx_http_provision_x_queue_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf,
                                          ngx_http_provision_x_queue_module));

    qlcf->keys_for = static_cast<ngx_str_t *>(cf->args->elts)[0];
    qlcf->keys_file = cf->conf_file->file.name;
    qlcf->keys_line = cf->conf_file->line;
}

ngx_shm_zone_t *
ngx_http_provision_x_queue_ref(ngx_conf_t *cf, ngx_str_t *name) noexcept
{
    auto *qmcf = static_cast<ngx_http_provision_x_queue_main_conf_t *>(
        ngx_http_conf_get_module_main_conf(cf,
                                           ngx_http_provision_x_queue_module));

    return ngx_http_provision_x_zone_refer(cf, &qmcf->zone_refs, name,
                                           NGX_HTTP_PROVISION_X_ZONE_QUEUE,
                                           &ngx_http_provision_x_queue_module);
}

static ngx_int_t
ngx_http_provision_x_queue_param(ngx_conf_t *cf, ngx_str_t *arg,
                                 const char *name, ngx_str_t *value) noexcept
{
    size_t len = ngx_strlen(name);

    if (arg->len <= len || ngx_strncmp(arg->data, name, len) != 0) {
        return NGX_DECLINED;
    }

    value->data = arg->data + len;
    value->len = arg->len - len;

    return NGX_OK;
}

/*
 * provision_x_queue_consume NAME [lease=time] [max=number] [wait=time];
 */
static char *
ngx_http_provision_x_queue_consume(ngx_conf_t *cf, ngx_command_t *cmd,
                                   void *conf) noexcept
{
    auto *qlcf = static_cast<ngx_http_provision_x_queue_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (qlcf->zone != NGX_CONF_UNSET_PTR) {
        return provision_x::conf_message("is duplicate");
    }

    ngx_http_provision_x_api_keys_needed(cf);

    time_t lease = 30, wait = 0;
    ngx_int_t max = 100;

    for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
        ngx_str_t s;

        if (ngx_http_provision_x_queue_param(cf, &value[i], "lease=", &s)
            == NGX_OK) {
            lease = ngx_parse_time(&s, 1);
            if (lease == static_cast<time_t>(NGX_ERROR) || lease < 1) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid lease \"%V\", expected at "
                                   "least 1s",
                                   &value[i]);
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

        } else if (ngx_http_provision_x_queue_param(cf, &value[i], "max=", &s)
                   == NGX_OK)
        {
            max = ngx_atoi(s.data, s.len);
            if (max < 1 || max > NGX_HTTP_PROVISION_X_QUEUE_MAX_LIMIT) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max \"%V\", expected 1 to %d",
                                   &value[i],
                                   NGX_HTTP_PROVISION_X_QUEUE_MAX_LIMIT);
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

        } else if (ngx_http_provision_x_queue_param(cf, &value[i], "wait=", &s)
                   == NGX_OK)
        {
            wait = ngx_parse_time(&s, 1);
            if (wait == static_cast<time_t>(NGX_ERROR)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid wait \"%V\"",
                                   &value[i]);
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "\"lease=time\", \"max=number\" or "
                               "\"wait=time\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    qlcf->zone = ngx_http_provision_x_queue_ref(cf, &value[1]);
    if (qlcf->zone == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    qlcf->lease = lease;
    qlcf->max = max;
    qlcf->wait = wait;

    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    clcf->handler = ngx_http_provision_x_queue_consume_handler;

    return NGX_CONF_OK;
}

static void *
ngx_http_provision_x_queue_create_main_conf(ngx_conf_t *cf) noexcept
{
    auto *qmcf = static_cast<ngx_http_provision_x_queue_main_conf_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_queue_main_conf_t)));
    if (qmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&qmcf->zones, cf->pool, 2,
                       sizeof(ngx_http_provision_x_queue_ctx_t *))
            != NGX_OK
        || ngx_array_init(&qmcf->zone_refs, cf->pool, 4,
                          sizeof(ngx_http_provision_x_zone_ref_t))
               != NGX_OK)
    {
        return NULL;
    }

    return qmcf;
}

static char *
ngx_http_provision_x_queue_init_main_conf(ngx_conf_t *cf, void *conf) noexcept
{
    auto *qmcf = static_cast<ngx_http_provision_x_queue_main_conf_t *>(conf);

    return ngx_http_provision_x_zone_refs_check(cf, &qmcf->zone_refs);
}

static void *
ngx_http_provision_x_queue_create_loc_conf(ngx_conf_t *cf) noexcept
{
    auto *conf = static_cast<ngx_http_provision_x_queue_loc_conf_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_queue_loc_conf_t)));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * the consumer directive sets lease, max and wait together with zone,
     * so they need no unset value of their own
     */

    conf->zone = static_cast<ngx_shm_zone_t *>(NGX_CONF_UNSET_PTR);
    conf->api_keys = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);

    return conf;
}

static char *
ngx_http_provision_x_queue_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                          void *child) noexcept
{
    auto *prev = static_cast<ngx_http_provision_x_queue_loc_conf_t *>(parent);
    auto *conf = static_cast<ngx_http_provision_x_queue_loc_conf_t *>(child);

    /* the consumer handler belongs to its own location only */
    if (conf->zone == NGX_CONF_UNSET_PTR) {
        conf->zone = NULL;
    }

    ngx_conf_merge_ptr_value(conf->api_keys, prev->api_keys, NULL);

    /* CDRs carry phone numbers: the consumer API and the status page
     * never run open */
    if (conf->keys_for.len != 0 && conf->api_keys == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" needs \"provision_x_api_key\" in its location "
                      "or above, in %V:%ui",
                      &conf->keys_for, &conf->keys_file, conf->keys_line);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_provision_x_queue_init_module(ngx_cycle_t *cycle) noexcept
{
    /* called once the new cycle is certain to run */
    ngx_http_provision_x_zone_iter_t it;

    ngx_http_provision_x_zones_begin(&it, cycle,
                                     &ngx_http_provision_x_queue_module);

    while (ngx_shm_zone_t *zone = ngx_http_provision_x_zones_next(&it)) {
        auto *ctx = static_cast<ngx_http_provision_x_queue_ctx_t *>(zone->data);

        ctx->committed = 1;

        if (ctx->restored && !ngx_test_config) {
            ngx_http_provision_x_queue_restored(ctx, cycle->log);
        }
    }

    return NGX_OK;
}

static void
ngx_http_provision_x_queue_exit_master(ngx_cycle_t *cycle) noexcept
{
    /* every worker has exited: nothing else touches the zones now */
    ngx_http_provision_x_zone_iter_t it;

    ngx_http_provision_x_zones_begin(&it, cycle,
                                     &ngx_http_provision_x_queue_module);

    while (ngx_shm_zone_t *zone = ngx_http_provision_x_zones_next(&it)) {
        auto *ctx = static_cast<ngx_http_provision_x_queue_ctx_t *>(zone->data);

        if (ctx != NULL && ctx->sh != NULL) {
            ngx_http_provision_x_queue_save(ctx, cycle->log);
        }
    }
}
