/*
 * ngx_http_provision_x_module, the main module: verification of callbacks
 * (provision_x_verify and its settings), the nonce and dedup zones, the
 * push receiver (provision_x_receive, and provision_x_cdr, its CDR form),
 * the status endpoint and error-log redaction.  Its
 * configuration, shared by the files that implement those concerns.
 */

#ifndef NGX_HTTP_PROVISION_X_MODULE_HPP
#define NGX_HTTP_PROVISION_X_MODULE_HPP

#include "ngx_http_provision_x_conf.hpp"

extern "C" {
extern ngx_module_t ngx_http_provision_x_module;
}

#define NGX_HTTP_PROVISION_X_DIGEST_LEN 16
#define NGX_HTTP_PROVISION_X_CLOCK_DEFAULT 900
#define NGX_HTTP_PROVISION_X_DEDUP_TTL (24 * 60 * 60)
#define NGX_HTTP_PROVISION_X_DEAD_LETTER_NAME "provision_x_dead_letter.ndjson"

enum ngx_http_provision_x_mode_e {
    NGX_HTTP_PROVISION_X_MODE_LIVE,
    NGX_HTTP_PROVISION_X_MODE_DEBUG,
};

enum ngx_http_provision_x_invalid_e {
    NGX_HTTP_PROVISION_X_INVALID_DEAD_LETTER,
    NGX_HTTP_PROVISION_X_INVALID_REJECT,
};

struct ngx_http_provision_x_loc_conf_t;
struct ngx_http_provision_x_cdr_sink_t;

/* A location with provision_x_receive (or _cdr), and where it says so. */
struct ngx_http_provision_x_receiver_t {
    ngx_http_provision_x_loc_conf_t *plcf;
    ngx_http_core_srv_conf_t *cscf; /* whose locations forward= names */
    ngx_str_t directive;            /* provision_x_receive or _cdr */
    ngx_str_t file;
    ngx_uint_t line;
};

struct ngx_http_provision_x_main_conf_t {
    ngx_array_t apps;      /* of ngx_http_provision_x_app_t */
    ngx_array_t zone_refs; /* of ngx_http_provision_x_zone_ref_t */
    ngx_array_t receivers; /* of ngx_http_provision_x_receiver_t */
    ngx_flag_t log_redact;
    size_t cdr_max_body; /* the largest of the receivers; 0: none */
};

struct ngx_http_provision_x_loc_conf_t {
    provision_x::dialect verify;
    ngx_str_t verify_file; /* where provision_x_verify is, for errors */
    ngx_uint_t verify_line;
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

    /*
     * The push receiver (its fields keep the cdr_ prefix of the core's
     * parser, which reads every push type): its dialect, or off.
     */
    provision_x::dialect cdr;
    uint32_t cdr_types; /* provision_x::push_type_bit()s it takes */
    const ngx_http_provision_x_cdr_sink_t *cdr_sink;
    ngx_str_t cdr_sink_uri;    /* forward=, redis= */
    ngx_shm_zone_t *cdr_queue; /* queue= */
    ngx_shm_zone_t *cdr_dedup;
    time_t cdr_dedup_ttl;          /* dedup_ttl=; 0: the zone's ttl */
    std::string_view *cdr_tenants; /* aliyun tenants=; NULL: any */
    ngx_uint_t cdr_ntenants;
    size_t cdr_max_body;
    ngx_uint_t cdr_max_records;
    ngx_uint_t cdr_invalid;
    ngx_open_file_t *cdr_dead_letter;
};

inline ngx_http_provision_x_loc_conf_t *
ngx_http_provision_x_loc_conf(ngx_http_request_t *r) noexcept
{
    return static_cast<ngx_http_provision_x_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_module));
}

inline ngx_http_provision_x_main_conf_t *
ngx_http_provision_x_main_conf(ngx_http_request_t *r) noexcept
{
    return static_cast<ngx_http_provision_x_main_conf_t *>(
        ngx_http_get_module_main_conf(r, ngx_http_provision_x_module));
}

inline ngx_http_provision_x_main_conf_t *
ngx_http_provision_x_main_conf(ngx_conf_t *cf) noexcept
{
    return static_cast<ngx_http_provision_x_main_conf_t *>(
        ngx_http_conf_get_module_main_conf(cf, ngx_http_provision_x_module));
}

#endif /* NGX_HTTP_PROVISION_X_MODULE_HPP */
