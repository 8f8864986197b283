/*
 * The queue module's own declarations: a queue zone's per-cycle context
 * and the operations the consumer API, the snapshot code and the module
 * hooks share.  The rest of the module sees only
 * ngx_http_provision_x_queue.hpp.
 *
 * The zone holds one slab allocation, made when the zone is created: the
 * byte ring of core/ring.hpp (records, lease slots, and the crash-safety
 * rules that make a worker killed at any instruction lose nothing).  The
 * glue (ngx_http_provision_x_queue_zone.cpp) holds the zone's mutex
 * around every ring operation, writes the holder's pid for the next
 * holder to check, and logs what a recovery found.
 */

#ifndef NGX_HTTP_PROVISION_X_QUEUE_ZONE_HPP
#define NGX_HTTP_PROVISION_X_QUEUE_ZONE_HPP

#include "ngx_http_provision_x_conf.hpp"
#include "ngx_http_provision_x_queue.hpp"

#include "core/ring.hpp"

/* bytes; hex doubles them */
#define NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN provision_x::ring_lease_id_size

/* shm_zone->data of a queue zone; kind first, like every zone's context */
struct ngx_http_provision_x_queue_ctx_t {
    ngx_uint_t kind; /* NGX_HTTP_PROVISION_X_ZONE_QUEUE */
    ngx_shm_zone_t *shm_zone;
    ngx_slab_pool_t *shpool;
    provision_x::ring_header *sh;
    ngx_str_t snapshot; /* path, or empty */

    /* a reload that resized the zone: the zone it replaced, retired */
    ngx_slab_pool_t *old_shpool;
    provision_x::ring_header *old_sh;

    unsigned committed : 1; /* the cycle that built this ctx runs */
    unsigned restored : 1;  /* records were read from the snapshot */
};

enum ngx_http_provision_x_queue_lease_rc_e {
    NGX_HTTP_PROVISION_X_QUEUE_LEASED,
    NGX_HTTP_PROVISION_X_QUEUE_EMPTY,
    NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT_FREE, /* too many open leases */
    NGX_HTTP_PROVISION_X_QUEUE_RETIRED,      /* a reload replaced it */
    NGX_HTTP_PROVISION_X_QUEUE_LEASE_ERROR,
};

struct ngx_http_provision_x_queue_lease_t {
    u_char id[NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN * 2]; /* hex */
    ngx_uint_t count;
    ngx_uint_t redelivered;
    ngx_str_t body; /* the records, each followed by "\n" */
};

enum ngx_http_provision_x_queue_ack_rc_e {
    NGX_HTTP_PROVISION_X_QUEUE_ACKED,
    NGX_HTTP_PROVISION_X_QUEUE_ACK_UNKNOWN, /* no such lease (any more) */
    NGX_HTTP_PROVISION_X_QUEUE_ACK_EXPIRED, /* records visible again */
    NGX_HTTP_PROVISION_X_QUEUE_ACK_RETIRED,
};

/* The shared-memory pieces the consumer, snapshot and module code use. */

ngx_int_t ngx_http_provision_x_queue_init_zone(ngx_shm_zone_t *shm_zone,
                                               void *data) noexcept;

/*
 * found: room for max record positions, the caller's, so that a long poll
 * that tries again and again holds the same memory throughout; the
 * leased records' bytes come from pool.
 */
ngx_http_provision_x_queue_lease_rc_e ngx_http_provision_x_queue_lease(
    ngx_http_provision_x_queue_ctx_t *ctx, ngx_uint_t max, uint64_t *found,
    ngx_msec_t timeout, ngx_pool_t *pool,
    ngx_http_provision_x_queue_lease_t *out, ngx_log_t *log) noexcept;

ngx_http_provision_x_queue_ack_rc_e
ngx_http_provision_x_queue_ack(ngx_http_provision_x_queue_ctx_t *ctx,
                               const u_char *id, ngx_uint_t *count) noexcept;

/* Parses 32 hex digits into a lease id; NGX_ERROR if malformed. */
ngx_int_t ngx_http_provision_x_queue_parse_id(const ngx_str_t *hex,
                                              u_char *id) noexcept;

/*
 * Without taking the lock (the master at exit, when no worker is left):
 * completes the update of a worker that was killed while holding it.
 */
void ngx_http_provision_x_queue_repair(ngx_http_provision_x_queue_ctx_t *ctx,
                                       ngx_log_t *log) noexcept;

/* Snapshot file: restore into a fresh zone, write at master exit. */
ngx_int_t
ngx_http_provision_x_queue_restore(ngx_http_provision_x_queue_ctx_t *ctx,
                                   ngx_log_t *log) noexcept;
void ngx_http_provision_x_queue_save(ngx_http_provision_x_queue_ctx_t *ctx,
                                     ngx_log_t *log) noexcept;
/* The cycle that restored a snapshot runs: the file is set aside. */
void ngx_http_provision_x_queue_restored(ngx_http_provision_x_queue_ctx_t *ctx,
                                         ngx_log_t *log) noexcept;

/* The consumer API's content handler (provision_x_queue_consume). */
ngx_int_t
ngx_http_provision_x_queue_consume_handler(ngx_http_request_t *r) noexcept;

/*
 * Location configuration of the queue module: the consumer API and the
 * API keys (the SHA-256 of each).
 */
#define NGX_HTTP_PROVISION_X_API_KEY_DIGEST 32

struct ngx_http_provision_x_queue_loc_conf_t {
    ngx_shm_zone_t *zone; /* provision_x_queue_consume, or NULL */
    time_t lease;         /* seconds */
    ngx_uint_t max;
    time_t wait;           /* seconds */
    ngx_array_t *api_keys; /* of u_char[DIGEST]; NULL: none */
    ngx_str_t keys_for;    /* the directive here that needs api_keys */
    ngx_str_t keys_file;   /* ... and where it is */
    ngx_uint_t keys_line;
};

inline ngx_http_provision_x_queue_loc_conf_t *
ngx_http_provision_x_queue_loc_conf(ngx_http_request_t *r) noexcept
{
    return static_cast<ngx_http_provision_x_queue_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_queue_module));
}

struct ngx_http_provision_x_queue_main_conf_t {
    ngx_array_t zones;     /* of ngx_http_provision_x_queue_ctx_t * */
    ngx_array_t zone_refs; /* of ngx_http_provision_x_zone_ref_t */
};

char *ngx_http_provision_x_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
                                   void *conf) noexcept;

#endif /* NGX_HTTP_PROVISION_X_QUEUE_ZONE_HPP */
