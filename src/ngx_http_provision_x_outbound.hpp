/*
 * The outbound module: a third HTTP module in the same .so.  It signs the
 * gateway's own calls to the platforms (Huawei X-AKSK headers, Aliyun POP
 * RPC v1 query strings) so internal services never hold a secret, and it
 * answers the platforms' call-control queries (and Huawei's SMS Block
 * mode) through the customer's service under a deadline, with a
 * configured fallback.
 */

#ifndef NGX_HTTP_PROVISION_X_OUTBOUND_HPP
#define NGX_HTTP_PROVISION_X_OUTBOUND_HPP

#include "ngx_http_provision_x_apps.hpp"
#include "ngx_http_provision_x_metrics.hpp"

extern "C" {
extern ngx_module_t ngx_http_provision_x_outbound_module;
}

#define NGX_HTTP_PROVISION_X_CC_TIMEOUT 500

/* the interface endpoint's, private to ..._outbound_interface.cpp */
struct ngx_http_provision_x_interface_conf_t;
struct ngx_http_provision_x_interface_call_t;

struct ngx_http_provision_x_outbound_main_conf_t {
    ngx_array_t interface_targets; /* of ..._interface_target_t * */
};

enum ngx_http_provision_x_outbound_var_e {
    NGX_HTTP_PROVISION_X_VAR_HUAWEI_AUTHORIZATION,
    NGX_HTTP_PROVISION_X_VAR_HUAWEI_X_AKSK,
    NGX_HTTP_PROVISION_X_VAR_ALIYUN_POP_QUERY,
    NGX_HTTP_PROVISION_X_VAR_CALL_CONTROL,
};

struct ngx_http_provision_x_outbound_loc_conf_t {
    /* provision_x_huawei_sign; NULL: not signing here */
    ngx_http_provision_x_app_t *huawei_app;

    /* provision_x_aliyun_pop_sign; NULL: not signing here */
    ngx_http_provision_x_app_t *pop_app;
    ngx_str_t pop_access_key_id;
    ngx_str_t pop_method;
    ngx_str_t pop_region;
    ngx_str_t pop_version;
    /* fixed inputs for known-answer tests; NULL: fresh per request */
    ngx_http_complex_value_t *pop_nonce;
    ngx_http_complex_value_t *pop_timestamp;

    /* provision_x_call_control, or provision_x_sms_control (cc_sms) */
    provision_x::dialect cc; /* off: neither */
    ngx_flag_t cc_sms;       /* SMS Block answers, not call control */
    ngx_str_t cc_pass;
    ngx_msec_t cc_timeout;
    ngx_str_t cc_fallback; /* the gateway's own answer, whole body */
    ngx_str_t cc_landline; /* the answer to a landline; empty: ask */

    /* provision_x_interface; NULL: not here (never inherited) */
    ngx_http_provision_x_interface_conf_t *interface;
};

/*
 * A background, in-memory subrequest that the gateway answers for within
 * a deadline (call control, the interface).  Exactly one of answer() (the
 * subrequest ended in time) and expired() (the deadline came first) runs,
 * on the parent, unless the caller settled the call itself; a client
 * abort runs neither, and the timer goes with the request's pool.
 */
struct ngx_http_provision_x_deadline_call_t {
    const char *what; /* names the call in log lines */
    void (*answer)(ngx_http_request_t *r) noexcept;
    void (*expired)(ngx_http_request_t *r) noexcept;

    ngx_http_request_t *request;
    ngx_event_t timer;

    /* how the subrequest ended, set before answer() runs */
    ngx_int_t rc;
    ngx_uint_t status;          /* its response's, or nginx's 502 */
    ngx_uint_t upstream_status; /* what the upstream sent; 0: nothing */
    ngx_str_t body;             /* the upstream's, whole */
    ngx_str_t location;         /* the upstream's Location, as sent */
    unsigned ended : 1;
    unsigned settled : 1;
    unsigned proxied : 1; /* an upstream module handled the subrequest */
    unsigned cut : 1;     /* larger than subrequest_output_buffer_size */
};

struct ngx_http_provision_x_outbound_ctx_t {
    ngx_str_t huawei_authorization; /* both set together, once */
    ngx_str_t huawei_x_aksk;
    ngx_str_t pop_query;

    ngx_http_provision_x_deadline_call_t call; /* call control, interface */
    ngx_http_provision_x_cc_outcome_e outcome;
    unsigned cc_answered : 1; /* outcome is set */

    ngx_http_provision_x_interface_call_t *interface;
};

/*
 * Starts the call to uri?args: NGX_OK with *sr to be dressed by the caller
 * before it runs, or NGX_ERROR when nothing was started.  The call's what,
 * answer and expired are set by the caller first.
 */
ngx_int_t ngx_http_provision_x_deadline_start(
    ngx_http_request_t *r, ngx_http_provision_x_deadline_call_t *call,
    ngx_str_t *uri, ngx_str_t *args, ngx_msec_t timeout,
    ngx_http_request_t **sr) noexcept;

/* The gateway answers now: the deadline and a late answer are moot. */
void ngx_http_provision_x_deadline_settle(
    ngx_http_provision_x_deadline_call_t *call) noexcept;

inline ngx_http_provision_x_outbound_loc_conf_t *
ngx_http_provision_x_outbound_loc_conf(ngx_http_request_t *r) noexcept
{
    return static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_outbound_module));
}

ngx_http_provision_x_outbound_ctx_t *
ngx_http_provision_x_outbound_ctx(ngx_http_request_t *r) noexcept;

ngx_int_t ngx_http_provision_x_sign_variable(ngx_http_request_t *r,
                                             ngx_http_variable_value_t *v,
                                             uintptr_t data) noexcept;

/* A directive's "name=value" value that may hold variables. */
char *ngx_http_provision_x_complex_arg(ngx_conf_t *cf, ngx_str_t *value,
                                       ngx_http_complex_value_t **cv) noexcept;

char *ngx_http_provision_x_huawei_sign(ngx_conf_t *cf, ngx_command_t *cmd,
                                       void *conf) noexcept;
char *ngx_http_provision_x_aliyun_pop_sign(ngx_conf_t *cf, ngx_command_t *cmd,
                                           void *conf) noexcept;
/* provision_x_call_control and provision_x_sms_control */
char *ngx_http_provision_x_call_control(ngx_conf_t *cf, ngx_command_t *cmd,
                                        void *conf) noexcept;

/* The interface endpoint: ngx_http_provision_x_outbound_interface.cpp */
char *ngx_http_provision_x_interface_target(ngx_conf_t *cf, ngx_command_t *cmd,
                                            void *conf) noexcept;
char *ngx_http_provision_x_interface(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf) noexcept;
void *ngx_http_provision_x_outbound_create_main_conf(ngx_conf_t *cf) noexcept;
ngx_int_t ngx_http_provision_x_interface_add_variables(ngx_conf_t *cf) noexcept;
ngx_int_t
ngx_http_provision_x_interface_init_module(ngx_cycle_t *cycle) noexcept;

#endif /* NGX_HTTP_PROVISION_X_OUTBOUND_HPP */
