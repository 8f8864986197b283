/*
 * The C/C++ seam: the only place that includes nginx.
 *
 * nginx's headers carry no extern "C", and they must come before any
 * standard header because they define the 64-bit off_t the rest of the
 * process uses.  Every glue file includes this header first.
 */

#ifndef NGX_HTTP_PROVISION_X_HPP
#define NGX_HTTP_PROVISION_X_HPP

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

extern ngx_module_t ngx_http_provision_x_module;
}

/*
 * The oldest nginx with every API the module uses:
 * ngx_ssl_client_session_cache() appeared in 1.15.2 (r->preserve_body, the
 * next newest, in 1.13.4).  config refuses older trees as well.
 */
#if (nginx_version < 1015002)
#error "ngx_http_provision_x_module needs nginx 1.15.2 or newer"
#endif

#include "core/cdr.hpp"
#include "core/dialect.hpp"
#include "core/hmac.hpp"
#include "core/reason.hpp"

#include <string_view>

namespace provision_x {

inline std::string_view
view(const ngx_str_t &s) noexcept
{
    return {reinterpret_cast<const char *>(s.data), s.len};
}

/* nginx wants char * for its messages; literals are const in C++. */
inline char *
conf_message(const char *text) noexcept
{
    return const_cast<char *>(text);
}

} // namespace provision_x

/* A dialect directive not given at this level: the merge inherits. */
constexpr auto NGX_HTTP_PROVISION_X_DIALECT_UNSET =
    static_cast<provision_x::dialect>(0xff);

/*
 * The dialect value[0] names, "off" only where allowed; the error is
 * logged here.  NGX_CONF_OK or NGX_CONF_ERROR.
 */
char *ngx_http_provision_x_conf_dialect(ngx_conf_t *cf, ngx_str_t *value,
                                        bool allow_off,
                                        provision_x::dialect *d) noexcept;

/* Inherits an unset dialect, "off" at the top. */
void ngx_http_provision_x_merge_dialect(provision_x::dialect *conf,
                                        provision_x::dialect prev) noexcept;

#define NGX_HTTP_PROVISION_X_DIGEST_LEN 16

/* Every shared zone of the .so starts with its kind, so a directive that
 * names a zone can tell a nonce zone from a queue zone. */
enum ngx_http_provision_x_zone_kind_e {
    NGX_HTTP_PROVISION_X_ZONE_NONCE = 1,
    NGX_HTTP_PROVISION_X_ZONE_DEDUP,
    NGX_HTTP_PROVISION_X_ZONE_QUEUE,
};

/* A zone named by a directive, checked once the http block is read (it
 * may be defined further down); errors point at the naming line. */
struct ngx_http_provision_x_zone_ref_t {
    ngx_shm_zone_t *shm_zone;
    ngx_uint_t kind;
    ngx_str_t directive;
    ngx_str_t file;
    ngx_uint_t line;
};

#define NGX_HTTP_PROVISION_X_APP_NAME_MAX 128
#define NGX_HTTP_PROVISION_X_CLOCK_DEFAULT 900

enum ngx_http_provision_x_variable_e {
    NGX_HTTP_PROVISION_X_VAR_DIALECT,
    NGX_HTTP_PROVISION_X_VAR_APP,
    NGX_HTTP_PROVISION_X_VAR_REJECT_REASON,
    NGX_HTTP_PROVISION_X_VAR_CDR_RECORDS,
    NGX_HTTP_PROVISION_X_VAR_CDR_DUPLICATES,
    NGX_HTTP_PROVISION_X_VAR_CDR_INVALID,
    NGX_HTTP_PROVISION_X_VAR_QUEUE_DEPTH,
    NGX_HTTP_PROVISION_X_VAR_CREATED,
};

/* ctx->created */
#define NGX_HTTP_PROVISION_X_CREATED_UTC 1
#define NGX_HTTP_PROVISION_X_CREATED_BEIJING 2

enum ngx_http_provision_x_invalid_e {
    NGX_HTTP_PROVISION_X_INVALID_DEAD_LETTER,
    NGX_HTTP_PROVISION_X_INVALID_REJECT,
};

#define NGX_HTTP_PROVISION_X_DEDUP_TTL (24 * 60 * 60)
#define NGX_HTTP_PROVISION_X_DEAD_LETTER_NAME "provision_x_dead_letter.ndjson"

/*
 * The HMAC keys that verification uses, prepared from one secret when the
 * configuration is read (see provision_x::hmac_key) and wiped when it is
 * released.
 */
struct ngx_http_provision_x_secret_keys_t {
    provision_x::hmac_key aliyun;     /* SHA-1, secret: readings P, A2, A3 */
    provision_x::hmac_key aliyun_amp; /* SHA-1, secret + "&": reading A1 */
    provision_x::hmac_key huawei;     /* SHA-256, secret: X-AKSK */
};

struct ngx_http_provision_x_app_t {
    ngx_str_t name;
    ngx_array_t secrets; /* of ngx_str_t */
    ngx_array_t keys;    /* of ngx_http_provision_x_secret_keys_t *, one
                            per secret, in the same order */
    ngx_uint_t metrics_slot;
};

enum ngx_http_provision_x_mode_e {
    NGX_HTTP_PROVISION_X_MODE_LIVE,
    NGX_HTTP_PROVISION_X_MODE_DEBUG,
};

struct ngx_http_provision_x_loc_conf_t;

/* A location with provision_x_cdr, and where it says so. */
struct ngx_http_provision_x_receiver_t {
    ngx_http_provision_x_loc_conf_t *plcf;
    ngx_http_core_srv_conf_t *cscf; /* whose locations forward= names */
    ngx_str_t file;
    ngx_uint_t line;
};

struct ngx_http_provision_x_main_conf_t {
    ngx_array_t apps;      /* of ngx_http_provision_x_app_t */
    ngx_array_t zone_refs; /* of ngx_http_provision_x_zone_ref_t */
    ngx_array_t receivers; /* of ngx_http_provision_x_receiver_t */
    ngx_flag_t log_redact;
    size_t cdr_max_body; /* the largest of the CDR receivers; 0: none */
};

struct ngx_http_provision_x_loc_conf_t {
    provision_x::dialect verify;
    ngx_array_t *apps; /* of ngx_http_provision_x_app_t *; NULL: any */
    ngx_uint_t mode;
    time_t clock_past;
    time_t clock_future;
    ngx_shm_zone_t *nonce_zone;
    ngx_uint_t aliyun_encoder;
    ngx_uint_t aliyun_key;
    ngx_flag_t aliyun_json;
    ngx_flag_t aliyun_require_format;
    ngx_flag_t huawei_wsse;
    ngx_flag_t huawei_beijing_time;
    size_t verify_body_max;
    ngx_uint_t reject_log_level;

    provision_x::dialect cdr; /* of the CDR receiver, or off */
    ngx_str_t cdr_forward;
    ngx_str_t cdr_redis;
    ngx_shm_zone_t *cdr_queue;
    ngx_shm_zone_t *cdr_dedup;
    std::string_view *cdr_tenants; /* aliyun tenants=; NULL: any */
    ngx_uint_t cdr_ntenants;
    size_t cdr_max_body;
    ngx_uint_t cdr_max_records;
    ngx_uint_t cdr_invalid;
    ngx_open_file_t *cdr_dead_letter;
};

/* Where a CDR receiver hands its new records off. */
enum ngx_http_provision_x_sink_e {
    NGX_HTTP_PROVISION_X_SINK_QUEUE,
    NGX_HTTP_PROVISION_X_SINK_FORWARD,
    NGX_HTTP_PROVISION_X_SINK_REDIS,
    NGX_HTTP_PROVISION_X_SINKS
};

extern const char
    *const ngx_http_provision_x_sink_names[NGX_HTTP_PROVISION_X_SINKS];

/* One CDR push on its way through the handler. */
struct ngx_http_provision_x_cdr_t {
    provision_x::cdr_push *push;
    provision_x::cdr_line_meta meta;
    ngx_str_t *lines; /* NDJSON lines of the new records */
    u_char (*keys)[NGX_HTTP_PROVISION_X_DIGEST_LEN];
    const provision_x::cdr_record **records; /* the new records */
    ngx_uint_t fresh;
    ngx_uint_t known; /* of the fresh: already in a shared sink (Redis) */
    ngx_uint_t duplicates;
    ngx_uint_t invalid;
    u_char body_digest[NGX_HTTP_PROVISION_X_DIGEST_LEN];
    ngx_int_t forward_status;  /* of the sink's subrequest */
    ngx_msec_t hand_off_start; /* ngx_current_msec, for the histogram */
    ngx_uint_t sink;           /* ngx_http_provision_x_sink_e */
    unsigned retry : 1;
    unsigned forward_done : 1;
    unsigned redis_written : 1;  /* Redis confirmed: known is set */
    unsigned redis_noscript : 1; /* Redis lacked the script: ask again */
    unsigned redis_eval : 1;     /* send the script itself */
};

struct ngx_http_provision_x_ctx_t {
    provision_x::dialect dialect; /* what the access phase verified */
    ngx_http_provision_x_app_t *app;
    ngx_uint_t reason; /* provision_x::reason */
    ngx_int_t status;  /* the access verdict, for re-entry */
    ngx_http_provision_x_loc_conf_t *verified_by; /* where it was reached */
    ngx_http_provision_x_cdr_t *cdr;
    unsigned waiting_body : 1;
    unsigned body_read : 1;
    unsigned verified : 1;
    unsigned passed : 1;  /* the request did verify */
    unsigned debug : 1;   /* the verdict came from a debug-mode location */
    unsigned created : 2; /* Huawei Created read as: 1 UTC, 2 Beijing time */
};

/* "zone=NAME:SIZE", checked the way limit_req checks it */
ngx_int_t ngx_http_provision_x_zone_arg(ngx_conf_t *cf, ngx_str_t *arg,
                                        ngx_str_t *name,
                                        ssize_t *size) noexcept;

ngx_shm_zone_t *ngx_http_provision_x_zone_refer(ngx_conf_t *cf,
                                                ngx_array_t *refs,
                                                ngx_str_t *name,
                                                ngx_uint_t kind,
                                                void *tag) noexcept;
char *ngx_http_provision_x_zone_refs_check(ngx_conf_t *cf,
                                           ngx_array_t *refs) noexcept;

ngx_http_provision_x_app_t *
ngx_http_provision_x_app_find(ngx_http_provision_x_main_conf_t *pmcf,
                              std::string_view name) noexcept;
char *ngx_http_provision_x_app(ngx_conf_t *cf, ngx_command_t *cmd,
                               void *conf) noexcept;

ngx_http_provision_x_ctx_t *
ngx_http_provision_x_get_ctx(ngx_http_request_t *r) noexcept;
ngx_http_provision_x_ctx_t *
ngx_http_provision_x_ensure_ctx(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_access_handler(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_access_init_process(ngx_cycle_t *cycle) noexcept;
void ngx_http_provision_x_access_exit_process(ngx_cycle_t *cycle) noexcept;

/* How a refusal is answered: the reason, and the platform's own code and
 * text for this very cause when it has one ("" : the reason's). */
struct ngx_http_provision_x_refusal_t {
    provision_x::reason why;
    const char *detail; /* for the log line, or NULL */
    std::string_view code;
    std::string_view message;
};

ngx_int_t ngx_http_provision_x_reject(
    ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx,
    const ngx_http_provision_x_refusal_t *refusal) noexcept;
ngx_int_t ngx_http_provision_x_reject_init(ngx_conf_t *cf) noexcept;

/* The shared memory zones of one module (tag) in a cycle, in order. */
struct ngx_http_provision_x_zone_iter_t {
    ngx_list_part_t *part;
    ngx_uint_t next;
    void *tag;
};

void ngx_http_provision_x_zones_begin(ngx_http_provision_x_zone_iter_t *it,
                                      ngx_cycle_t *cycle, void *tag) noexcept;
ngx_shm_zone_t *
ngx_http_provision_x_zones_next(ngx_http_provision_x_zone_iter_t *it) noexcept;

ngx_int_t
ngx_http_provision_x_add_variable_table(ngx_conf_t *cf,
                                        ngx_http_variable_t *table) noexcept;

ngx_int_t ngx_http_provision_x_cdr_handler(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_cdr_init_process(ngx_cycle_t *cycle) noexcept;
void ngx_http_provision_x_cdr_exit_process(ngx_cycle_t *cycle) noexcept;
ngx_int_t ngx_http_provision_x_cdr_answer(ngx_http_request_t *r,
                                          ngx_uint_t status,
                                          const char *message) noexcept;
ngx_int_t
ngx_http_provision_x_cdr_commit(ngx_http_request_t *r,
                                ngx_http_provision_x_ctx_t *ctx) noexcept;
ngx_int_t ngx_http_provision_x_cdr_sink_status(ngx_http_request_t *sr,
                                               ngx_int_t rc) noexcept;
void ngx_http_provision_x_cdr_sink_finish(ngx_http_request_t *r,
                                          ngx_http_provision_x_ctx_t *ctx,
                                          ngx_int_t status,
                                          const char *sink) noexcept;
ngx_int_t
ngx_http_provision_x_forward(ngx_http_request_t *r,
                             ngx_http_provision_x_ctx_t *ctx) noexcept;
ngx_int_t ngx_http_provision_x_redis(ngx_http_request_t *r,
                                     ngx_http_provision_x_ctx_t *ctx) noexcept;

/* Log hygiene: masks credentials in every line of these logs. */
ngx_int_t ngx_http_provision_x_redact_log(ngx_pool_t *pool,
                                          ngx_log_t *log) noexcept;
void ngx_http_provision_x_redact_request_line(ngx_http_request_t *r) noexcept;

char *ngx_http_provision_x_status(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf) noexcept;
bool ngx_http_provision_x_status_wants_page(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_status_page(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_status_vary(ngx_http_request_t *r) noexcept;

ngx_int_t ngx_http_provision_x_metrics_add_zone(
    ngx_conf_t *cf, ngx_http_provision_x_main_conf_t *pmcf) noexcept;
void
ngx_http_provision_x_metrics_verified(provision_x::dialect dialect,
                                      ngx_http_provision_x_app_t *app) noexcept;
void ngx_http_provision_x_metrics_rejected(provision_x::dialect dialect,
                                           ngx_http_provision_x_app_t *app,
                                           provision_x::reason why) noexcept;
void ngx_http_provision_x_metrics_cdr(provision_x::dialect dialect,
                                      ngx_uint_t records, ngx_uint_t duplicates,
                                      ngx_uint_t invalid) noexcept;
void
ngx_http_provision_x_metrics_cdr_retry(provision_x::dialect dialect) noexcept;
void
ngx_http_provision_x_metrics_cdr_refused(provision_x::dialect dialect) noexcept;
void ngx_http_provision_x_metrics_hand_off(provision_x::dialect dialect,
                                           ngx_uint_t sink, ngx_int_t status,
                                           ngx_msec_t elapsed) noexcept;

/* How a call-control query was answered; $provision_x_call_control. */
enum ngx_http_provision_x_cc_outcome_e {
    NGX_HTTP_PROVISION_X_CC_RELAYED,
    NGX_HTTP_PROVISION_X_CC_LANDLINE,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_STATUS,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_INVALID,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_TIMEOUT,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_ERROR,
    NGX_HTTP_PROVISION_X_CC_OUTCOMES
};

extern const ngx_str_t
    ngx_http_provision_x_cc_outcome_names[NGX_HTTP_PROVISION_X_CC_OUTCOMES];

void ngx_http_provision_x_metrics_call_control(
    provision_x::dialect dialect, ngx_http_provision_x_cc_outcome_e outcome,
    ngx_msec_t elapsed) noexcept;

#endif /* NGX_HTTP_PROVISION_X_HPP */
