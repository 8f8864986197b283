/*
 * The outbound module: directives, configuration and variables.  The
 * signing lives in ngx_http_provision_x_sign_vars.cpp, the call-control
 * handler in ngx_http_provision_x_call_control.cpp, the interface endpoint
 * in ngx_http_provision_x_outbound_interface.cpp.
 */

#include "ngx_http_provision_x_outbound.hpp"

static ngx_int_t
ngx_http_provision_x_outbound_add_variables(ngx_conf_t *cf) noexcept;
static void *
ngx_http_provision_x_outbound_create_loc_conf(ngx_conf_t *cf) noexcept;
static char *ngx_http_provision_x_outbound_merge_loc_conf(ngx_conf_t *cf,
                                                          void *parent,
                                                          void *child) noexcept;
static ngx_int_t
ngx_http_provision_x_call_control_variable(ngx_http_request_t *r,
                                           ngx_http_variable_value_t *v,
                                           uintptr_t data) noexcept;

// clang-format off
static ngx_command_t ngx_http_provision_x_outbound_commands[] = {

    { ngx_string("provision_x_huawei_sign"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_provision_x_huawei_sign,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_aliyun_pop_sign"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_provision_x_aliyun_pop_sign,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_call_control"),
      NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_provision_x_call_control,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_sms_control"),
      NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_provision_x_call_control,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_interface_target"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_provision_x_interface_target,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_interface"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_provision_x_interface,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t ngx_http_provision_x_outbound_module_ctx = {
    ngx_http_provision_x_outbound_add_variables,
                                           /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_provision_x_outbound_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_provision_x_outbound_create_loc_conf,
                                           /* create location configuration */
    ngx_http_provision_x_outbound_merge_loc_conf
                                           /* merge location configuration */
};


ngx_module_t ngx_http_provision_x_outbound_module = {
    NGX_MODULE_V1,
    &ngx_http_provision_x_outbound_module_ctx, /* module context */
    ngx_http_provision_x_outbound_commands, /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_provision_x_interface_init_module, /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* Not cacheable: the ctx keeps the signed values instead, so that the
 * Authorization/X-AKSK pair always comes from one signing. */
static ngx_http_variable_t ngx_http_provision_x_outbound_vars[] = {

    { ngx_string("provision_x_huawei_authorization"), NULL,
      ngx_http_provision_x_sign_variable,
      NGX_HTTP_PROVISION_X_VAR_HUAWEI_AUTHORIZATION,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_huawei_x_aksk"), NULL,
      ngx_http_provision_x_sign_variable,
      NGX_HTTP_PROVISION_X_VAR_HUAWEI_X_AKSK,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_aliyun_pop_query"), NULL,
      ngx_http_provision_x_sign_variable,
      NGX_HTTP_PROVISION_X_VAR_ALIYUN_POP_QUERY,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_call_control"), NULL,
      ngx_http_provision_x_call_control_variable,
      NGX_HTTP_PROVISION_X_VAR_CALL_CONTROL,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};
// clang-format on

static ngx_int_t
ngx_http_provision_x_outbound_add_variables(ngx_conf_t *cf) noexcept
{
    if (ngx_http_provision_x_add_variable_table(
            cf, ngx_http_provision_x_outbound_vars)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_provision_x_interface_add_variables(cf);
}

static void *
ngx_http_provision_x_outbound_create_loc_conf(ngx_conf_t *cf) noexcept
{
    auto *conf =
        static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(ngx_pcalloc(
            cf->pool, sizeof(ngx_http_provision_x_outbound_loc_conf_t)));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->huawei_app = NULL;
     *     conf->pop_app = NULL;  (and the rest of the POP settings)
     *     conf->cc_pass = { 0, NULL };
     *     conf->cc_fallback = { 0, NULL };
     *     conf->cc_landline = { 0, NULL };
     */

    conf->cc = NGX_HTTP_PROVISION_X_DIALECT_UNSET;
    conf->cc_timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}

static char *
ngx_http_provision_x_outbound_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                             void *child) noexcept
{
    auto *prev =
        static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(parent);
    auto *conf = static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(child);

    if (conf->huawei_app == NULL) {
        conf->huawei_app = prev->huawei_app;
    }

    /* the POP settings travel together: one directive sets them all */
    if (conf->pop_app == NULL) {
        conf->pop_app = prev->pop_app;
        conf->pop_access_key_id = prev->pop_access_key_id;
        conf->pop_method = prev->pop_method;
        conf->pop_region = prev->pop_region;
        conf->pop_version = prev->pop_version;
        conf->pop_nonce = prev->pop_nonce;
        conf->pop_timestamp = prev->pop_timestamp;
    }

    /* call control is a content handler: never inherited */
    if (conf->cc == NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        conf->cc = provision_x::dialect::off;
    }
    ngx_conf_init_msec_value(conf->cc_timeout, NGX_HTTP_PROVISION_X_CC_TIMEOUT);

    return NGX_CONF_OK;
}

ngx_http_provision_x_outbound_ctx_t *
ngx_http_provision_x_outbound_ctx(ngx_http_request_t *r) noexcept
{
    auto *ctx = static_cast<ngx_http_provision_x_outbound_ctx_t *>(
        ngx_http_get_module_ctx(r, ngx_http_provision_x_outbound_module));
    if (ctx != NULL) {
        return ctx;
    }

    ctx = static_cast<ngx_http_provision_x_outbound_ctx_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_provision_x_outbound_ctx_t)));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_provision_x_outbound_module);

    return ctx;
}

static ngx_int_t
ngx_http_provision_x_call_control_variable(ngx_http_request_t *r,
                                           ngx_http_variable_value_t *v,
                                           uintptr_t data) noexcept
{
    auto *ctx = static_cast<ngx_http_provision_x_outbound_ctx_t *>(
        ngx_http_get_module_ctx(r, ngx_http_provision_x_outbound_module));

    if (ctx == NULL || !ctx->cc_answered) {
        v->not_found = 1;
        return NGX_OK;
    }

    const ngx_str_t &outcome =
        ngx_http_provision_x_cc_outcome_names[ctx->outcome];

    v->data = outcome.data;
    v->len = outcome.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
