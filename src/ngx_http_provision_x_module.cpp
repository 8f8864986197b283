/*
 * Module definition: directives, configuration create/merge, phase and
 * variable registration.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_apps.hpp"
#include "ngx_http_provision_x_cdr.hpp"
#include "ngx_http_provision_x_log.hpp"
#include "ngx_http_provision_x_metrics.hpp"
#include "ngx_http_provision_x_queue.hpp"
#include "ngx_http_provision_x_redact.hpp"
#include "ngx_http_provision_x_seen.hpp"
#include "ngx_http_provision_x_status.hpp"

#include "core/encoding.hpp"

using provision_x::dialect;
using provision_x::reason;

enum ngx_http_provision_x_variable_e {
    NGX_HTTP_PROVISION_X_VAR_DIALECT,
    NGX_HTTP_PROVISION_X_VAR_APP,
    NGX_HTTP_PROVISION_X_VAR_REJECT_REASON,
    NGX_HTTP_PROVISION_X_VAR_CDR_RECORDS,
    NGX_HTTP_PROVISION_X_VAR_CDR_DUPLICATES,
    NGX_HTTP_PROVISION_X_VAR_CDR_INVALID,
    NGX_HTTP_PROVISION_X_VAR_PUSH_TYPE,
    NGX_HTTP_PROVISION_X_VAR_QUEUE_DEPTH,
    NGX_HTTP_PROVISION_X_VAR_CREATED,
};

static ngx_int_t ngx_http_provision_x_init(ngx_conf_t *cf) noexcept;
static ngx_int_t ngx_http_provision_x_add_variables(ngx_conf_t *cf) noexcept;
static void *ngx_http_provision_x_create_main_conf(ngx_conf_t *cf) noexcept;
static char *ngx_http_provision_x_init_main_conf(ngx_conf_t *cf,
                                                 void *conf) noexcept;
static void *ngx_http_provision_x_create_loc_conf(ngx_conf_t *cf) noexcept;
static char *ngx_http_provision_x_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                                 void *child) noexcept;
static char *ngx_http_provision_x_verify(ngx_conf_t *cf, ngx_command_t *cmd,
                                         void *conf) noexcept;
static char *ngx_http_provision_x_clock(ngx_conf_t *cf, ngx_command_t *cmd,
                                        void *conf) noexcept;
static char *ngx_http_provision_x_nonce_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                             void *conf) noexcept;
static char *ngx_http_provision_x_nonce(ngx_conf_t *cf, ngx_command_t *cmd,
                                        void *conf) noexcept;
static char *ngx_http_provision_x_dedup_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                             void *conf) noexcept;
static char *ngx_http_provision_x_receive(ngx_conf_t *cf, ngx_command_t *cmd,
                                          void *conf) noexcept;
static char *ngx_http_provision_x_dead_letter(ngx_conf_t *cf,
                                              ngx_command_t *cmd,
                                              void *conf) noexcept;
static ngx_int_t ngx_http_provision_x_init_module(ngx_cycle_t *cycle) noexcept;
static ngx_int_t ngx_http_provision_x_init_process(ngx_cycle_t *cycle) noexcept;
static void ngx_http_provision_x_exit_process(ngx_cycle_t *cycle) noexcept;

static ngx_conf_enum_t ngx_http_provision_x_modes[] = {
    {ngx_string("live"), NGX_HTTP_PROVISION_X_MODE_LIVE},
    {ngx_string("debug"), NGX_HTTP_PROVISION_X_MODE_DEBUG},
    {ngx_null_string, 0}};

static ngx_conf_enum_t ngx_http_provision_x_encoders[] = {
    {ngx_string("java"),
     static_cast<ngx_uint_t>(provision_x::url_flavour::java)},
    {ngx_string("rfc3986"),
     static_cast<ngx_uint_t>(provision_x::url_flavour::rfc3986)},
    {ngx_null_string, 0}};

static ngx_conf_enum_t ngx_http_provision_x_aliyun_keys[] = {
    {ngx_string("plain"), 0},
    {ngx_string("ampersand"), 1},
    {ngx_null_string, 0}};

static ngx_conf_enum_t ngx_http_provision_x_log_levels[] = {
    {ngx_string("info"), NGX_LOG_INFO},
    {ngx_string("notice"), NGX_LOG_NOTICE},
    {ngx_string("warn"), NGX_LOG_WARN},
    {ngx_string("error"), NGX_LOG_ERR},
    {ngx_null_string, 0}};

#define NGX_HTTP_PROVISION_X_ANY_CONF                                          \
    (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF)

// clang-format off
static ngx_command_t ngx_http_provision_x_commands[] = {

    { ngx_string("provision_x_app"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_provision_x_app,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_nonce_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_provision_x_nonce_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_verify"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_1MORE,
      ngx_http_provision_x_verify,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_mode"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, mode),
      ngx_http_provision_x_modes },

    { ngx_string("provision_x_clock"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE12,
      ngx_http_provision_x_clock,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_nonce"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_http_provision_x_nonce,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_aliyun_encoder"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, aliyun_encoder),
      ngx_http_provision_x_encoders },

    { ngx_string("provision_x_aliyun_key"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, aliyun_key),
      ngx_http_provision_x_aliyun_keys },

    { ngx_string("provision_x_aliyun_json"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, aliyun_json),
      NULL },

    { ngx_string("provision_x_aliyun_require_format"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, aliyun_require_format),
      NULL },

    { ngx_string("provision_x_huawei_wsse"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, huawei_wsse),
      NULL },

    { ngx_string("provision_x_huawei_beijing_time"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, huawei_beijing_time),
      NULL },

    { ngx_string("provision_x_verify_body_max"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, verify_body_max),
      NULL },

    { ngx_string("provision_x_reject_log_level"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_loc_conf_t, reject_log_level),
      ngx_http_provision_x_log_levels },

    { ngx_string("provision_x_dedup_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_provision_x_dedup_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_receive"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_provision_x_receive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_cdr"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_provision_x_receive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_provision_x_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_log_redact"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_provision_x_main_conf_t, log_redact),
      NULL },

    { ngx_string("provision_x_dead_letter"),
      NGX_HTTP_PROVISION_X_ANY_CONF|NGX_CONF_TAKE1,
      ngx_http_provision_x_dead_letter,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t ngx_http_provision_x_module_ctx = {
    ngx_http_provision_x_add_variables,    /* preconfiguration */
    ngx_http_provision_x_init,             /* postconfiguration */

    ngx_http_provision_x_create_main_conf, /* create main configuration */
    ngx_http_provision_x_init_main_conf,   /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_provision_x_create_loc_conf,  /* create location configuration */
    ngx_http_provision_x_merge_loc_conf    /* merge location configuration */
};
// clang-format on

static char *
ngx_http_provision_x_verify(ngx_conf_t *cf, ngx_command_t *cmd,
                            void *conf) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (plcf->verify != NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        return provision_x::conf_message("is duplicate");
    }

    if (ngx_http_provision_x_conf_dialect(cf, &value[1], true, &plcf->verify)
        != NGX_CONF_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    plcf->verify_file = cf->conf_file->file.name;
    plcf->verify_line = cf->conf_file->line;

    if (cf->args->nelts > 2 && plcf->verify == dialect::off) {
        return provision_x::conf_message("takes no apps with \"off\"");
    }

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(cf);

    plcf->apps = ngx_array_create(cf->pool, cf->args->nelts - 2,
                                  sizeof(ngx_http_provision_x_app_t *));
    if (plcf->apps == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
        if (value[i].len <= 4 || ngx_strncmp(value[i].data, "app=", 4) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "\"app=name\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        std::string_view app_name(reinterpret_cast<char *>(value[i].data) + 4,
                                  value[i].len - 4);
        ngx_http_provision_x_app_t *app =
            ngx_http_provision_x_app_find(pmcf, app_name);

        if (app == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown app \"%*s\": define it with "
                               "provision_x_app first",
                               app_name.size(), app_name.data());
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        auto **slot = static_cast<ngx_http_provision_x_app_t **>(
            ngx_array_push(plcf->apps));
        if (slot == NULL) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        *slot = app;
    }

    return NGX_CONF_OK;
}

static char *
ngx_http_provision_x_clock(ngx_conf_t *cf, ngx_command_t *cmd,
                           void *conf) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (plcf->clock_past != NGX_CONF_UNSET) {
        return provision_x::conf_message("is duplicate");
    }

    for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
        ngx_str_t s = value[i];
        time_t *limit;

        if (s.len > 5 && ngx_strncmp(s.data, "past=", 5) == 0) {
            limit = &plcf->clock_past;
            s.data += 5;
            s.len -= 5;

        } else if (s.len > 7 && ngx_strncmp(s.data, "future=", 7) == 0) {
            limit = &plcf->clock_future;
            s.data += 7;
            s.len -= 7;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "\"past=time\" or \"future=time\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        time_t t = ngx_parse_time(&s, 1);
        if (t == static_cast<time_t>(NGX_ERROR) || *limit != NGX_CONF_UNSET) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        *limit = t;
    }

    /* a limit left out keeps its default */
    if (plcf->clock_past == NGX_CONF_UNSET) {
        plcf->clock_past = NGX_HTTP_PROVISION_X_CLOCK_DEFAULT;
    }

    if (plcf->clock_future == NGX_CONF_UNSET) {
        plcf->clock_future = NGX_HTTP_PROVISION_X_CLOCK_DEFAULT;
    }

    return NGX_CONF_OK;
}

static char *
ngx_http_provision_x_nonce_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                void *conf) noexcept
{
    return ngx_http_provision_x_seen_zone(cf, NGX_HTTP_PROVISION_X_ZONE_NONCE);
}

static char *
ngx_http_provision_x_nonce(ngx_conf_t *cf, ngx_command_t *cmd,
                           void *conf) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (plcf->nonce_zone != NGX_CONF_UNSET_PTR) {
        return provision_x::conf_message("is duplicate");
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        plcf->nonce_zone = NULL;
        return NGX_CONF_OK;
    }

    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(cf);

    plcf->nonce_zone = ngx_http_provision_x_zone_refer(
        cf, &pmcf->zone_refs, &value[1], NGX_HTTP_PROVISION_X_ZONE_NONCE,
        &ngx_http_provision_x_module);

    return plcf->nonce_zone ? NGX_CONF_OK : NGX_HTTP_PROVISION_X_CONF_ERROR;
}

static char *
ngx_http_provision_x_dedup_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                void *conf) noexcept
{
    return ngx_http_provision_x_seen_zone(cf, NGX_HTTP_PROVISION_X_ZONE_DEDUP);
}

/*
 * tenants=A,B,...: the pool_key/partner_key values an (unsigned) Aliyun
 * receiver takes records of; the others are dead-lettered.
 */
static ngx_int_t
ngx_http_provision_x_cdr_tenants(ngx_conf_t *cf,
                                 ngx_http_provision_x_loc_conf_t *plcf,
                                 ngx_str_t *list) noexcept
{
    std::string_view all = provision_x::view(*list);
    ngx_uint_t n = 1;

    for (char c : all) {
        n += (c == ',');
    }

    plcf->cdr_tenants = static_cast<std::string_view *>(
        ngx_palloc(cf->pool, n * sizeof(std::string_view)));
    if (plcf->cdr_tenants == NULL) {
        return NGX_ERROR;
    }

    plcf->cdr_ntenants = 0;

    for (size_t at = 0; at <= all.size();) {
        size_t comma = all.find(',', at);
        size_t end = (comma == std::string_view::npos) ? all.size() : comma;

        if (end == at) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"tenants=%V\": an empty "
                               "tenant",
                               list);
            return NGX_ERROR;
        }

        plcf->cdr_tenants[plcf->cdr_ntenants++] = all.substr(at, end - at);
        at = end + 1;
    }

    return NGX_OK;
}

/* The push type a types= name stands for in dialect d. */
static bool
ngx_http_provision_x_type_named(dialect d, std::string_view name,
                                provision_x::push_type *t) noexcept
{
    /* the platforms' own names for their CDR push */
    if ((d == dialect::huawei && name == "fee")
        || (d == dialect::aliyun && name == "SecretReport"))
    {
        *t = provision_x::push_type::cdr;
        return true;
    }

    return provision_x::push_type_from_name(d, name, t);
}

/*
 * types=A,B,...: the push types a receiver takes, by the names of the
 * line's "type" or, for the CDR, the platform's ("fee", "SecretReport").
 * Huawei: any set of its types (the app's status URL gets call events and,
 * without a URL of its own, number status, spec §3.1); Aliyun: exactly
 * one, since the platform pushes each receipt type to its own URL (§2.6).
 */
static ngx_int_t
ngx_http_provision_x_receive_types(ngx_conf_t *cf, dialect d, ngx_str_t *arg,
                                   std::string_view list,
                                   uint32_t *types) noexcept
{
    *types = 0;

    for (size_t at = 0; at <= list.size();) {
        size_t comma = list.find(',', at);
        size_t end = (comma == std::string_view::npos) ? list.size() : comma;
        std::string_view name = list.substr(at, end - at);
        provision_x::push_type t;

        if (!ngx_http_provision_x_type_named(d, name, &t)) {
            u_char known[256];
            u_char *p = known;

            for (size_t i = 0; i < provision_x::push_type_count; i++) {
                auto c = static_cast<provision_x::push_type>(i);

                if (provision_x::push_types_valid(
                        d, provision_x::push_type_bit(c))) {
                    p = ngx_slprintf(p, known + sizeof(known), "%s%s",
                                     p == known ? "" : ", ",
                                     provision_x::push_type_name(c));
                }
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": \"%*s\" is no %s "
                               "push type (%*s, or %s for cdr)",
                               arg, name.size(), name.data(),
                               provision_x::dialect_name(d), p - known, known,
                               d == dialect::huawei ? "fee" : "SecretReport");
            return NGX_ERROR;
        }

        if (*types & provision_x::push_type_bit(t)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": \"%*s\" is "
                               "repeated",
                               arg, name.size(), name.data());
            return NGX_ERROR;
        }

        *types |= provision_x::push_type_bit(t);
        at = end + 1;
    }

    if (!provision_x::push_types_valid(d, *types)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": an aliyun receiver "
                           "takes exactly one type, the platform pushes each "
                           "to its own URL",
                           arg);
        return NGX_ERROR;
    }

    return NGX_OK;
}

/* forward=/uri, redis=/uri or queue=name: the receiver's one sink */
static ngx_int_t
ngx_http_provision_x_receive_sink(ngx_conf_t *cf,
                                  ngx_http_provision_x_loc_conf_t *plcf,
                                  const ngx_http_provision_x_cdr_sink_t *sink,
                                  ngx_str_t *v) noexcept
{
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (plcf->cdr_sink != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive needs exactly one sink: "
                           "forward=/uri, queue=name or redis=/uri",
                           &value[0]);
        return NGX_ERROR;
    }

    plcf->cdr_sink = sink;

    if (sink == &ngx_http_provision_x_cdr_queue) {
        plcf->cdr_queue = ngx_http_provision_x_queue_ref(cf, v);
        return plcf->cdr_queue != NULL ? NGX_OK : NGX_ERROR;
    }

    if (v->data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs %s=/uri of a location in "
                           "this server",
                           &value[0], sink->name);
        return NGX_ERROR;
    }

    plcf->cdr_sink_uri = *v;

    return NGX_OK;
}

/*
 * One key=value parameter of a receiver other than its sink; NGX_DECLINED
 * for a key it does not take.
 */
static ngx_int_t
ngx_http_provision_x_receive_param(ngx_conf_t *cf,
                                   ngx_http_provision_x_loc_conf_t *plcf,
                                   ngx_str_t *arg, std::string_view key,
                                   ngx_str_t *v, bool cdr_form) noexcept
{
    if (key == "types" && !cdr_form) {
        if (plcf->cdr_types != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\"", arg);
            return NGX_ERROR;
        }

        return ngx_http_provision_x_receive_types(
            cf, plcf->cdr, arg, provision_x::view(*v), &plcf->cdr_types);
    }

    if (key == "dedup") {
        plcf->cdr_dedup = ngx_http_provision_x_zone_refer(
            cf, &ngx_http_provision_x_main_conf(cf)->zone_refs, v,
            NGX_HTTP_PROVISION_X_ZONE_DEDUP, &ngx_http_provision_x_module);
        return plcf->cdr_dedup != NULL ? NGX_OK : NGX_ERROR;
    }

    if (key == "tenants") {
        return ngx_http_provision_x_cdr_tenants(cf, plcf, v);
    }

    if (key == "invalid") {
        std::string_view how = provision_x::view(*v);

        if (how == "dead_letter" || how == "reject") {
            plcf->cdr_invalid = (how == "reject")
                                    ? NGX_HTTP_PROVISION_X_INVALID_REJECT
                                    : NGX_HTTP_PROVISION_X_INVALID_DEAD_LETTER;
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected "
                           "\"invalid=dead_letter\" or \"invalid=reject\"",
                           arg);
        return NGX_ERROR;
    }

    ngx_int_t n;

    if (key == "dedup_ttl") {
        n = ngx_parse_time(v, 1);
        plcf->cdr_dedup_ttl = n;

    } else if (key == "max_records") {
        n = ngx_atoi(v->data, v->len);
        plcf->cdr_max_records = n;

    } else if (key == "max_body") {
        n = ngx_parse_size(v);
        plcf->cdr_max_body = n;

    } else {
        return NGX_DECLINED;
    }

    /* a value that did not parse: the configuration is not used */
    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                           arg);
        return NGX_ERROR;
    }

    return NGX_OK;
}

/* what the parameters allow only together, checked once all are read */
static char *
ngx_http_provision_x_receive_check(
    ngx_http_provision_x_loc_conf_t *plcf) noexcept
{
    if (plcf->cdr_types == 0) {
        return provision_x::conf_message(
            "needs types=: the push types this location receives");
    }

    if (plcf->cdr_tenants != NULL && plcf->cdr != dialect::aliyun) {
        return provision_x::conf_message(
            "takes tenants= for Aliyun only: Huawei records are bound to the "
            "app that signed the push");
    }

    if (plcf->cdr_dedup_ttl != 0 && plcf->cdr_dedup == NULL) {
        return provision_x::conf_message(
            "takes dedup_ttl= only with dedup=: without a zone nothing is "
            "remembered");
    }

    if (plcf->cdr_sink == NULL) {
        return provision_x::conf_message(
            "needs exactly one sink: forward=/uri, queue=name or redis=/uri");
    }

    return NGX_CONF_OK;
}

/*
 * The receiver is remembered with its line, for the checks of its sink at
 * the end of http{}, and becomes the location's content handler.
 */
static char *
ngx_http_provision_x_receive_register(
    ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_provision_x_loc_conf_t *plcf) noexcept
{
    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(cf);

    auto *receiver = static_cast<ngx_http_provision_x_receiver_t *>(
        ngx_array_push(&pmcf->receivers));
    if (receiver == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    receiver->plcf = plcf;
    receiver->cscf = static_cast<ngx_http_core_srv_conf_t *>(
        ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module));
    receiver->directive = cmd->name;
    receiver->file = cf->conf_file->file.name;
    receiver->line = cf->conf_file->line;

    /* each worker's push parser is sized once, for the largest body */
    pmcf->cdr_max_body = ngx_max(pmcf->cdr_max_body, plcf->cdr_max_body);

    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = ngx_http_provision_x_cdr_handler;

    return NGX_CONF_OK;
}

/*
 * provision_x_receive huawei|aliyun types=LIST
 *                     forward=URI|queue=NAME|redis=URI [dedup=NAME]
 *                     [dedup_ttl=TIME] [max_records=N] [max_body=SIZE]
 *                     [invalid=dead_letter|reject] [tenants=A,B];
 * provision_x_cdr     the same for CDRs: no types=.
 */
static char *
ngx_http_provision_x_receive(ngx_conf_t *cf, ngx_command_t *cmd,
                             void *conf) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);
    bool cdr_form = provision_x::view(cmd->name) == "provision_x_cdr";

    if (plcf->cdr != NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        return provision_x::conf_message(
            "is duplicate: one receiver per location (provision_x_receive "
            "takes several Huawei types)");
    }

    if (ngx_http_provision_x_conf_dialect(cf, &value[1], false, &plcf->cdr)
        != NGX_CONF_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    plcf->cdr_types =
        cdr_form ? provision_x::push_type_bit(provision_x::push_type::cdr) : 0;

    for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
        std::string_view arg = provision_x::view(value[i]);
        size_t eq = arg.find('=');

        if (eq == std::string_view::npos || eq + 1 == arg.size()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        std::string_view key = arg.substr(0, eq);
        ngx_str_t v = {value[i].len - eq - 1, value[i].data + eq + 1};
        const ngx_http_provision_x_cdr_sink_t *sink =
            ngx_http_provision_x_cdr_sink_named(key);
        ngx_int_t rc =
            (sink != NULL)
                ? ngx_http_provision_x_receive_sink(cf, plcf, sink, &v)
                : ngx_http_provision_x_receive_param(cf, plcf, &value[i], key,
                                                     &v, cdr_form);

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"%s", &value[i],
                               cdr_form && key == "types"
                                   ? ": provision_x_receive takes types="
                                   : "");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    char *rv = ngx_http_provision_x_receive_check(plcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_provision_x_receive_register(cf, cmd, plcf);
}

/*
 * Would a subrequest to uri find a location of this server?  The same
 * walk as nginx's static location lookup; a server with regex locations
 * may match anything.
 */
static bool
ngx_http_provision_x_location_found(ngx_http_core_srv_conf_t *cscf,
                                    const ngx_str_t *uri) noexcept
{
    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        cscf->ctx->loc_conf[ngx_http_core_module.ctx_index]);

#if (NGX_PCRE)
    if (clcf->regex_locations != NULL) {
        return true;
    }
#endif

    ngx_http_location_tree_node_t *node = clcf->static_locations;
    u_char *p = uri->data;
    size_t len = uri->len;
    bool found = false;

    while (node != NULL) {
        size_t n = ngx_min(len, static_cast<size_t>(node->len));
        ngx_int_t rc = ngx_filename_cmp(p, node->name, n);

        if (rc != 0) {
            node = (rc < 0) ? node->left : node->right;
            continue;
        }

        if (len > node->len) {
            if (node->inclusive) {
                found = true;
                p += node->len;
                len -= node->len;
                node = node->tree;
                continue;
            }

            node = node->right;
            continue;
        }

        if (len == node->len) {
            return found || node->exact != NULL || node->inclusive != NULL;
        }

        node = node->left;
    }

    return found;
}

/* forward= and redis= must name a location: else every push gets 502. */
static ngx_int_t
ngx_http_provision_x_check_sinks(
    ngx_conf_t *cf, ngx_http_provision_x_main_conf_t *pmcf) noexcept
{
    auto *rcv =
        static_cast<ngx_http_provision_x_receiver_t *>(pmcf->receivers.elts);

    for (ngx_uint_t i = 0; i < pmcf->receivers.nelts; i++) {
        ngx_http_provision_x_loc_conf_t *plcf = rcv[i].plcf;
        ngx_str_t *uri = &plcf->cdr_sink_uri;

        if (uri->len == 0
            || ngx_http_provision_x_location_found(rcv[i].cscf, uri)) {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" %s=%V names no location of its "
                      "server: add \"location = %V { internal; ... }\" in "
                      "%V:%ui",
                      &rcv[i].directive, plcf->cdr_sink->name, uri, uri,
                      &rcv[i].file, rcv[i].line);
        return NGX_ERROR;
    }

    return NGX_OK;
}

/*
 * Anyone who can reach a receiver that verifies nothing (Aliyun pushes
 * are not signed) can fill a queue or a dedup zone: one it shares with a
 * signed receiver then refuses, or forgets, the signed platform's pushes
 * too.  Said once per zone, at nginx -t.
 */
static void
ngx_http_provision_x_warn_shared_zones(
    ngx_conf_t *cf, ngx_http_provision_x_main_conf_t *pmcf) noexcept
{
    auto *rcv =
        static_cast<ngx_http_provision_x_receiver_t *>(pmcf->receivers.elts);
    ngx_uint_t n = pmcf->receivers.nelts;
    for (ngx_uint_t i = 0; i < n; i++) {
        if (rcv[i].plcf->verify != dialect::off) {
            continue;
        }

        for (ngx_uint_t j = 0; j < n; j++) {
            if (rcv[j].plcf->verify == dialect::off) {
                continue;
            }

            ngx_http_provision_x_loc_conf_t *u = rcv[i].plcf;
            ngx_http_provision_x_loc_conf_t *s = rcv[j].plcf;
            const char *kind = NULL;
            ngx_shm_zone_t *zone = NULL;

            if (u->cdr_queue != NULL && u->cdr_queue == s->cdr_queue) {
                kind = "queue";
                zone = u->cdr_queue;

            } else if (u->cdr_dedup != NULL && u->cdr_dedup == s->cdr_dedup) {
                kind = "dedup";
                zone = u->cdr_dedup;

            } else {
                continue;
            }

            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "%s zone \"%V\" takes pushes from a receiver that "
                          "verifies nothing (%V:%ui) and from a signed one "
                          "(%V:%ui): whoever reaches the first can fill it "
                          "for both; give each its own zone%s",
                          kind, &zone->shm.name, &rcv[i].file, rcv[i].line,
                          &rcv[j].file, rcv[j].line,
                          zone == u->cdr_dedup ? ", or set max_share=" : "");
            break;
        }
    }
}

/*
 * Dead letters hold callers' phone numbers: the file is created 0600
 * before nginx opens it for appending (nginx would create it 0644), and a
 * missing directory is reported here, at the directive, instead of as a
 * bare open() failure when the cycle starts.
 */
static ngx_open_file_t *
ngx_http_provision_x_dead_letter_open(ngx_conf_t *cf, ngx_str_t *name) noexcept
{
    ngx_str_t full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 0) != NGX_OK) {
        return NULL;
    }

    u_char *slash = NULL;

    for (u_char *p = full.data; p < full.data + full.len; p++) {
        if (*p == '/') {
            slash = p;
        }
    }

    if (slash != NULL && slash != full.data) {
        ngx_str_t dir;
        ngx_file_info_t fi;

        dir.len = slash - full.data;
        dir.data = static_cast<u_char *>(ngx_pnalloc(cf->pool, dir.len + 1));
        if (dir.data == NULL) {
            return NULL;
        }

        *ngx_cpymem(dir.data, full.data, dir.len) = '\0';

        if (ngx_file_info(dir.data, &fi) == NGX_FILE_ERROR || !ngx_is_dir(&fi))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "dead-letter file \"%V\": directory \"%V\" "
                               "does not exist; set "
                               "\"provision_x_dead_letter\" to a file in "
                               "an existing directory, or \"off\"",
                               &full, &dir);
            return NULL;
        }
    }

    ngx_fd_t fd = ngx_open_file(full.data, NGX_FILE_APPEND,
                                NGX_FILE_CREATE_OR_OPEN, 0600);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " dead-letter file \"%V\" failed",
                           &full);
        return NULL;
    }

    ngx_close_file(fd);

    return ngx_conf_open_file(cf->cycle, name);
}

/*
 * The default file lies beside nginx's default access log, the way
 * access_log's own default is chosen: /var/log/nginx on Debian, the
 * prefix's logs/ in a build with nginx's own defaults.
 */
static ngx_int_t
ngx_http_provision_x_dead_letter_default(ngx_conf_t *cf,
                                         ngx_str_t *path) noexcept
{
    static const std::string_view access_log = NGX_HTTP_LOG_PATH;
    static const std::string_view name = NGX_HTTP_PROVISION_X_DEAD_LETTER_NAME;

    size_t slash = access_log.rfind('/');
    size_t dir = (slash == std::string_view::npos) ? 0 : slash + 1;

    path->len = dir + name.size();
    path->data = static_cast<u_char *>(ngx_pnalloc(cf->pool, path->len + 1));
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    u_char *p = ngx_cpymem(path->data, access_log.data(), dir);
    p = ngx_cpymem(p, name.data(), name.size());
    *p = '\0';

    return NGX_OK;
}

static char *
ngx_http_provision_x_dead_letter(ngx_conf_t *cf, ngx_command_t *cmd,
                                 void *conf) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (plcf->cdr_dead_letter != NGX_CONF_UNSET_PTR) {
        return provision_x::conf_message("is duplicate");
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        plcf->cdr_dead_letter = NULL;
        return NGX_CONF_OK;
    }

    plcf->cdr_dead_letter =
        ngx_http_provision_x_dead_letter_open(cf, &value[1]);

    return plcf->cdr_dead_letter ? NGX_CONF_OK
                                 : NGX_HTTP_PROVISION_X_CONF_ERROR;
}

static void
ngx_http_provision_x_set_variable(ngx_http_variable_value_t *v,
                                  const u_char *data, size_t len) noexcept
{
    v->data = const_cast<u_char *>(data);
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}

static ngx_int_t
ngx_http_provision_x_variable(ngx_http_request_t *r,
                              ngx_http_variable_value_t *v,
                              uintptr_t data) noexcept
{
    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);

    v->not_found = 1;

    if (data == NGX_HTTP_PROVISION_X_VAR_QUEUE_DEPTH) {
        ngx_http_provision_x_loc_conf_t *plcf =
            ngx_http_provision_x_loc_conf(r);

        if (plcf->cdr_queue == NULL) {
            return NGX_OK;
        }

        ngx_uint_t depth = ngx_http_provision_x_queue_depth(plcf->cdr_queue);

        u_char *p = static_cast<u_char *>(ngx_pnalloc(r->pool, NGX_INT_T_LEN));
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_http_provision_x_set_variable(v, p,
                                          ngx_sprintf(p, "%ui", depth) - p);
        return NGX_OK;
    }

    if (ctx == NULL) {
        return NGX_OK;
    }

    switch (data) {
    case NGX_HTTP_PROVISION_X_VAR_DIALECT: {
        const char *name = provision_x::dialect_name(ctx->dialect);
        ngx_http_provision_x_set_variable(
            v, reinterpret_cast<const u_char *>(name), ngx_strlen(name));
        break;
    }

    case NGX_HTTP_PROVISION_X_VAR_APP:
        if (ctx->app != NULL) {
            ngx_http_provision_x_set_variable(v, ctx->app->name.data,
                                              ctx->app->name.len);
        }
        break;

    case NGX_HTTP_PROVISION_X_VAR_CDR_RECORDS:
    case NGX_HTTP_PROVISION_X_VAR_CDR_DUPLICATES:
    case NGX_HTTP_PROVISION_X_VAR_CDR_INVALID: {
        if (ctx->cdr == NULL) {
            break;
        }

        ngx_uint_t n = (data == NGX_HTTP_PROVISION_X_VAR_CDR_RECORDS)
                           ? ctx->cdr->fresh - ctx->cdr->known
                       : (data == NGX_HTTP_PROVISION_X_VAR_CDR_DUPLICATES)
                           ? ctx->cdr->duplicates + ctx->cdr->known
                           : ctx->cdr->invalid;

        u_char *p = static_cast<u_char *>(ngx_pnalloc(r->pool, NGX_INT_T_LEN));
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_http_provision_x_set_variable(v, p, ngx_sprintf(p, "%ui", n) - p);
        break;
    }

    case NGX_HTTP_PROVISION_X_VAR_PUSH_TYPE:
        if (ctx->cdr != NULL && ctx->cdr->type < provision_x::push_type_count) {
            const char *name = provision_x::push_type_name(
                static_cast<provision_x::push_type>(ctx->cdr->type));
            ngx_http_provision_x_set_variable(
                v, reinterpret_cast<const u_char *>(name), ngx_strlen(name));
        }
        break;

    case NGX_HTTP_PROVISION_X_VAR_CREATED:
        if (ctx->created == NGX_HTTP_PROVISION_X_CREATED_UTC) {
            ngx_http_provision_x_set_variable(
                v, reinterpret_cast<const u_char *>("utc"), 3);

        } else if (ctx->created == NGX_HTTP_PROVISION_X_CREATED_BEIJING) {
            ngx_http_provision_x_set_variable(
                v, reinterpret_cast<const u_char *>("beijing"), 7);
        }
        break;

    case NGX_HTTP_PROVISION_X_VAR_REJECT_REASON:
        if (ctx->reason != 0) {
            std::string_view name =
                provision_x::describe(static_cast<reason>(ctx->reason)).name;
            ngx_http_provision_x_set_variable(
                v, reinterpret_cast<const u_char *>(name.data()), name.size());
        }
        break;
    }

    return NGX_OK;
}

// clang-format off
static ngx_http_variable_t ngx_http_provision_x_vars[] = {

    { ngx_string("provision_x_dialect"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_DIALECT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_app"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_APP,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_reject_reason"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_REJECT_REASON,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_cdr_records"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_CDR_RECORDS,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_cdr_duplicates"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_CDR_DUPLICATES,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_cdr_invalid"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_CDR_INVALID,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_push_type"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_PUSH_TYPE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_created"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_CREATED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_queue_depth"), NULL,
      ngx_http_provision_x_variable, NGX_HTTP_PROVISION_X_VAR_QUEUE_DEPTH,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};
// clang-format on

static ngx_int_t
ngx_http_provision_x_add_variables(ngx_conf_t *cf) noexcept
{
    return ngx_http_provision_x_add_variable_table(cf,
                                                   ngx_http_provision_x_vars);
}

static void *
ngx_http_provision_x_create_main_conf(ngx_conf_t *cf) noexcept
{
    auto *pmcf = static_cast<ngx_http_provision_x_main_conf_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_main_conf_t)));
    if (pmcf == NULL) {
        return NULL;
    }

    pmcf->log_redact = NGX_CONF_UNSET;

    if (ngx_array_init(&pmcf->apps, cf->pool, 4,
                       sizeof(ngx_http_provision_x_app_t))
            != NGX_OK
        || ngx_array_init(&pmcf->receivers, cf->pool, 4,
                          sizeof(ngx_http_provision_x_receiver_t))
               != NGX_OK
        || ngx_array_init(&pmcf->zone_refs, cf->pool, 4,
                          sizeof(ngx_http_provision_x_zone_ref_t))
               != NGX_OK)
    {
        return NULL;
    }

    return pmcf;
}

static char *
ngx_http_provision_x_init_main_conf(ngx_conf_t *cf, void *conf) noexcept
{
    auto *pmcf = static_cast<ngx_http_provision_x_main_conf_t *>(conf);

    ngx_conf_init_value(pmcf->log_redact, 1);

    return ngx_http_provision_x_zone_refs_check(cf, &pmcf->zone_refs);
}

static void *
ngx_http_provision_x_create_loc_conf(ngx_conf_t *cf) noexcept
{
    auto *conf = static_cast<ngx_http_provision_x_loc_conf_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_loc_conf_t)));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->apps = NULL;
     *     conf->cdr_sink = NULL;
     *     conf->cdr_sink_uri = { 0, NULL };
     *     conf->cdr_queue = NULL;
     *     conf->cdr_dedup = NULL;
     */

    conf->verify = NGX_HTTP_PROVISION_X_DIALECT_UNSET;
    conf->mode = NGX_CONF_UNSET_UINT;
    conf->clock_past = NGX_CONF_UNSET;
    conf->clock_future = NGX_CONF_UNSET;
    conf->nonce_zone = static_cast<ngx_shm_zone_t *>(NGX_CONF_UNSET_PTR);
    conf->aliyun_encoder = NGX_CONF_UNSET_UINT;
    conf->aliyun_key = NGX_CONF_UNSET_UINT;
    conf->aliyun_json = NGX_CONF_UNSET;
    conf->aliyun_require_format = NGX_CONF_UNSET;
    conf->huawei_wsse = NGX_CONF_UNSET;
    conf->huawei_beijing_time = NGX_CONF_UNSET;
    conf->verify_body_max = NGX_CONF_UNSET_SIZE;
    conf->reject_log_level = NGX_CONF_UNSET_UINT;
    conf->cdr = NGX_HTTP_PROVISION_X_DIALECT_UNSET;
    conf->cdr_max_body = provision_x::cdr_default_max_body;
    conf->cdr_max_records = 0;
    conf->cdr_invalid = NGX_HTTP_PROVISION_X_INVALID_DEAD_LETTER;
    conf->cdr_dead_letter = static_cast<ngx_open_file_t *>(NGX_CONF_UNSET_PTR);

    return conf;
}

static char *
ngx_http_provision_x_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                    void *child) noexcept
{
    auto *prev = static_cast<ngx_http_provision_x_loc_conf_t *>(parent);
    auto *conf = static_cast<ngx_http_provision_x_loc_conf_t *>(child);

    if (conf->verify == NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        conf->apps = prev->apps;
        conf->verify_file = prev->verify_file;
        conf->verify_line = prev->verify_line;
    }

    ngx_http_provision_x_merge_dialect(&conf->verify, prev->verify);
    ngx_conf_merge_uint_value(
        conf->mode, prev->mode,
        static_cast<ngx_uint_t>(NGX_HTTP_PROVISION_X_MODE_LIVE));

    if (conf->clock_past == NGX_CONF_UNSET) {
        conf->clock_past = prev->clock_past;
        conf->clock_future = prev->clock_future;
    }

    ngx_conf_merge_value(conf->clock_past, prev->clock_past,
                         NGX_HTTP_PROVISION_X_CLOCK_DEFAULT);
    ngx_conf_merge_value(conf->clock_future, prev->clock_future,
                         NGX_HTTP_PROVISION_X_CLOCK_DEFAULT);
    if (conf->nonce_zone == NGX_CONF_UNSET_PTR) {
        conf->nonce_zone = prev->nonce_zone;
    }
    ngx_conf_merge_uint_value(
        conf->aliyun_encoder, prev->aliyun_encoder,
        static_cast<ngx_uint_t>(provision_x::url_flavour::java));
    ngx_conf_merge_uint_value(conf->aliyun_key, prev->aliyun_key, 0);
    ngx_conf_merge_value(conf->aliyun_json, prev->aliyun_json, 1);
    ngx_conf_merge_value(conf->aliyun_require_format,
                         prev->aliyun_require_format, 1);
    ngx_conf_merge_value(conf->huawei_wsse, prev->huawei_wsse, 0);
    ngx_conf_merge_value(conf->huawei_beijing_time, prev->huawei_beijing_time,
                         1);
    ngx_conf_merge_size_value(conf->verify_body_max, prev->verify_body_max,
                              64 * 1024);
    ngx_conf_merge_uint_value(conf->reject_log_level, prev->reject_log_level,
                              NGX_LOG_WARN);

    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(cf);

    if (pmcf->log_redact
        && ngx_http_provision_x_redact_log(cf->pool, clcf->error_log) != NGX_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    /* the CDR receiver belongs to its location alone: no inheritance */
    if (conf->cdr == NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        conf->cdr = dialect::off;
    }

    if (conf->cdr_dead_letter == NGX_CONF_UNSET_PTR) {
        conf->cdr_dead_letter = prev->cdr_dead_letter;
    }

    /*
     * The default file is opened only for a location that receives CDRs:
     * loading the module must not open files nobody asked for.
     */
    if (conf->cdr != dialect::off
        && conf->cdr_dead_letter == NGX_CONF_UNSET_PTR) {
        ngx_str_t path;

        if (ngx_http_provision_x_dead_letter_default(cf, &path) != NGX_OK) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        conf->cdr_dead_letter =
            ngx_http_provision_x_dead_letter_open(cf, &path);
        if (conf->cdr_dead_letter == NULL) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    /*
     * Verification without replay protection must be asked for by name;
     * merged at the end of http{}, so the error names the verify line.
     */
    if (conf->verify != dialect::off && conf->nonce_zone == NGX_CONF_UNSET_PTR)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"provision_x_verify\" needs \"provision_x_nonce\": "
                      "a nonce zone, or \"off\", in %V:%ui",
                      &conf->verify_file, conf->verify_line);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_provision_x_init(ngx_conf_t *cf) noexcept
{
    auto *cmcf = static_cast<ngx_http_core_main_conf_t *>(
        ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(cf);

    /*
     * The verdict is reached in the rewrite phase, ahead of the location's
     * own rewrite directives (handlers of a phase run last-registered
     * first), so "return", "rewrite" and "set" only ever see a verified
     * request and can use $provision_x_*; the access phase enforces the
     * same cached verdict for anything that skipped the rewrite phase.
     */
    static const ngx_uint_t phases[] = {NGX_HTTP_REWRITE_PHASE,
                                        NGX_HTTP_ACCESS_PHASE};

    for (ngx_uint_t phase : phases) {
        auto *h = static_cast<ngx_http_handler_pt *>(
            ngx_array_push(&cmcf->phases[phase].handlers));
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_provision_x_access_handler;
    }

    if (pmcf->log_redact
        && ngx_http_provision_x_redact_request_variable(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_provision_x_metrics_add_zone(cf, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_provision_x_check_sinks(cf, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_provision_x_warn_shared_zones(cf, pmcf);

    return ngx_http_provision_x_reject_init(cf);
}

static ngx_int_t
ngx_http_provision_x_init_module(ngx_cycle_t *cycle) noexcept
{
    /* called once the new cycle is certain to run */
    ngx_http_provision_x_seen_commit(cycle);

    /*
     * Once per start or reload, in the master: which build serves.  The
     * running nginx's version is that of its core module; load_module
     * refuses any other, but a log read after an upgrade should not make
     * anyone guess.  "nginx -t" and "nginx -s" stay quiet.
     */
    if (!ngx_test_config && ngx_process != NGX_PROCESS_SIGNALLER) {
        ngx_uint_t running = ngx_core_module.version;

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "provision_x %s (built with nginx %s, running nginx "
                      "%ui.%ui.%ui)",
                      NGX_HTTP_PROVISION_X_VERSION, NGINX_VERSION,
                      running / 1000000, running / 1000 % 1000, running % 1000);
    }

    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NGX_OK;
    }

    auto *pmcf = static_cast<ngx_http_provision_x_main_conf_t *>(
        ngx_http_cycle_get_module_main_conf(cycle,
                                            ngx_http_provision_x_module));

    /* the main-level logs are all known only now (an error_log after the
     * http block, say); location-level ones got the writer in merge */
    if (pmcf->log_redact
        && ngx_http_provision_x_redact_log(cycle->pool, &cycle->new_log)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}

static ngx_int_t
ngx_http_provision_x_init_process(ngx_cycle_t *cycle) noexcept
{
    if (ngx_http_provision_x_access_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_provision_x_cdr_init_process(cycle);
}

static void
ngx_http_provision_x_exit_process(ngx_cycle_t *cycle) noexcept
{
    /* the counts of the last warnings left out are not lost with us */
    ngx_http_provision_x_log_flush(cycle->log);

    ngx_http_provision_x_cdr_exit_process(cycle);
    ngx_http_provision_x_access_exit_process(cycle);
}

// clang-format off
ngx_module_t ngx_http_provision_x_module = {
    NGX_MODULE_V1,
    &ngx_http_provision_x_module_ctx,      /* module context */
    ngx_http_provision_x_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_provision_x_init_module,      /* init module */
    ngx_http_provision_x_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_provision_x_exit_process,     /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};
// clang-format on
