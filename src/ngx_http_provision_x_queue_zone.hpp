/*
 * The queue module's own declarations: the shared-memory layout of a queue
 * zone, its per-cycle context and the operations the consumer API, the
 * snapshot code and the module hooks share.  The rest of the module sees
 * only ngx_http_provision_x_queue.hpp.
 *
 * Layout.  One slab allocation, made when the zone is created, holds the
 * header, the lease slots and a byte ring.  Records sit in the ring one
 * after the other, each a 32-byte header plus its bytes, in arrival order;
 * nothing else is allocated afterwards, so the slab allocator (which is not
 * safe against a process dying inside it) is never entered at request
 * time, and the capacity is the ring's bytes.
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
 *   lease  records are tagged with (slot, generation) while the slot is
 *          still free, then the slot becomes ACTIVE;
 *   ack    the slot becomes ACKING, then its records are flagged one by
 *          one (idempotent), then the slot is freed;
 *   expiry the slot is freed: its tagged records are visible again.
 * The process holding the lock writes its pid into the header; a process
 * that takes the lock and finds a pid there knows its holder died (nginx
 * force-unlocks the mutex of a dead worker) and repairs: it finishes any
 * ACKING slot, checks every record header and recounts the gauges.
 */

#ifndef NGX_HTTP_PROVISION_X_QUEUE_ZONE_HPP
#define NGX_HTTP_PROVISION_X_QUEUE_ZONE_HPP

#include "ngx_http_provision_x_conf.hpp"
#include "ngx_http_provision_x_queue.hpp"

#include <cstdint>
#include <type_traits>

#define NGX_HTTP_PROVISION_X_QUEUE_MAGIC 0x5158505851585058ULL /* "PXQX" */
#define NGX_HTTP_PROVISION_X_QUEUE_VERSION 1
#define NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT 0xffffffffU
#define NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN 16 /* bytes; hex doubles */

enum ngx_http_provision_x_queue_rec_state_e : uint32_t {
    NGX_HTTP_PROVISION_X_QUEUE_REC_READY = 1,
    NGX_HTTP_PROVISION_X_QUEUE_REC_ACKED,
    NGX_HTTP_PROVISION_X_QUEUE_REC_PAD,
};

enum ngx_http_provision_x_queue_slot_state_e : uint32_t {
    NGX_HTTP_PROVISION_X_QUEUE_SLOT_FREE = 0,
    NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACTIVE,
    NGX_HTTP_PROVISION_X_QUEUE_SLOT_ACKING,
};

/* why a free slot's last lease ended, for the answer to a late ack */
enum ngx_http_provision_x_queue_outcome_e : uint32_t {
    NGX_HTTP_PROVISION_X_QUEUE_ENDED_NONE = 0,
    NGX_HTTP_PROVISION_X_QUEUE_ENDED_ACKED,
    NGX_HTTP_PROVISION_X_QUEUE_ENDED_EXPIRED,
};

/* One entry of the ring; the record's bytes follow the header. */
struct ngx_http_provision_x_queue_rec_t {
    uint32_t size;  /* of the entry, header included, 8-aligned */
    uint32_t state; /* ngx_http_provision_x_queue_rec_state_e */
    uint32_t len;   /* of the record bytes */
    uint32_t slot;  /* of its last lease, or NO_SLOT */
    uint32_t gen;   /* generation of that lease */
    uint32_t deliveries;
    int64_t enqueued; /* wall clock, seconds */
};

struct ngx_http_provision_x_queue_slot_t {
    uint32_t state;   /* ngx_http_provision_x_queue_slot_state_e */
    uint32_t outcome; /* ngx_http_provision_x_queue_outcome_e */
    uint32_t gen;     /* bumped for every lease in this slot */
    uint32_t count;   /* records leased */
    u_char id[NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN];
    uint64_t expire; /* ngx_current_msec */
    uint64_t first;  /* position of its first and last record */
    uint64_t last;
};

struct ngx_http_provision_x_queue_sh_t {
    uint64_t magic;
    uint32_t version;
    uint32_t nslots;
    uint64_t cap;  /* bytes of the ring */
    uint64_t head; /* logical positions */
    uint64_t tail;
    uint64_t scan;    /* no visible record lies in [head, scan) */
    int64_t holder;   /* pid holding the lock, 0 when none */
    uint32_t retired; /* replaced by a zone of another size */
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

static_assert(std::is_standard_layout_v<ngx_http_provision_x_queue_rec_t> &&
              std::is_trivially_copyable_v<ngx_http_provision_x_queue_rec_t>);
static_assert(std::is_standard_layout_v<ngx_http_provision_x_queue_slot_t> &&
              std::is_trivially_copyable_v<ngx_http_provision_x_queue_slot_t>);
static_assert(std::is_standard_layout_v<ngx_http_provision_x_queue_sh_t> &&
              std::is_trivially_copyable_v<ngx_http_provision_x_queue_sh_t>);
static_assert(sizeof(ngx_http_provision_x_queue_rec_t) == 32);
static_assert(sizeof(ngx_http_provision_x_queue_slot_t) % 8 == 0);
static_assert(sizeof(ngx_http_provision_x_queue_sh_t) % 8 == 0);

/* shm_zone->data of a queue zone; kind first, like every zone's context */
struct ngx_http_provision_x_queue_ctx_t {
    ngx_uint_t kind; /* NGX_HTTP_PROVISION_X_ZONE_QUEUE */
    ngx_shm_zone_t *shm_zone;
    ngx_slab_pool_t *shpool;
    ngx_http_provision_x_queue_sh_t *sh;
    ngx_str_t snapshot; /* path, or empty */

    /* a reload that resized the zone: the zone it replaced, retired */
    ngx_slab_pool_t *old_shpool;
    ngx_http_provision_x_queue_sh_t *old_sh;

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
 * Appends one record, as visible, without taking the lock: for zones no
 * other process uses yet (restore, resize).  NGX_DECLINED when it does not
 * fit.
 */
ngx_int_t ngx_http_provision_x_queue_append_unlocked(
    ngx_http_provision_x_queue_sh_t *sh, const u_char *data, size_t len,
    uint32_t deliveries, int64_t enqueued) noexcept;

/*
 * Walks the live records in order, without taking the lock (the master at
 * exit, when no worker is left).  The callback returns NGX_OK to go on.
 */
using ngx_http_provision_x_queue_walk_pt =
    ngx_int_t (*)(void *data, const ngx_http_provision_x_queue_rec_t *rec,
                  const u_char *bytes) noexcept;

ngx_int_t
ngx_http_provision_x_queue_walk(ngx_http_provision_x_queue_sh_t *sh,
                                ngx_http_provision_x_queue_walk_pt handler,
                                void *data) noexcept;

/* Repairs what a holder that died left behind (see above). */
void ngx_http_provision_x_queue_recover(ngx_http_provision_x_queue_sh_t *sh,
                                        ngx_str_t *name,
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
