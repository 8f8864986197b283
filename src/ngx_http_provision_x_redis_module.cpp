/*
 * ngx_http_provision_x_redis_module, the fourth HTTP module in the .so.
 *
 * "provision_x_cdr ... redis=/uri" makes a subrequest to a location with
 * "provision_x_redis_pass"; that location speaks RESP to Redis as an
 * upstream protocol, the way core's memcached module does, so upstream
 * blocks, keepalive, timeouts, next-upstream retries and balancing are
 * nginx's own and no worker ever blocks.  The sink gives the subrequest
 * this module's ctx, holding the write (which also proves that the
 * subrequest came from the sink); the outcome is written back there, and
 * the parent acknowledges the platform only when Redis confirmed it.
 *
 * Every request starts with RESET, so it never depends on what a
 * kept-alive connection did before (see core/redis.hpp).  Without AUTH or
 * SELECT, RESET is pipelined with the script: one round trip.  With them,
 * RESET, AUTH and SELECT go first, alone, and the script is written only
 * once each of their replies said OK: Redis runs a pipelined command even
 * when an AUTH or SELECT before it failed, and would then write as the
 * default user or into database 0.  The script is called by its SHA-1;
 * when Redis does not know it (a restarted or new server) the sink asks
 * once more with EVAL, which also loads it.
 */

#include "ngx_http_provision_x_apps.hpp"
#include "ngx_http_provision_x_redis.hpp"

using provision_x::resp_rc;
using provision_x::resp_reply;
using provision_x::resp_type;

#define NGX_HTTP_PROVISION_X_REDIS_STREAM "provision_x:cdr"
#define NGX_HTTP_PROVISION_X_REDIS_PREFIX "provision_x:seen:"

/* a leaf, intermediates and a root: what managed Redis services present */
#define NGX_HTTP_PROVISION_X_REDIS_SSL_DEPTH 4

struct ngx_http_provision_x_redis_loc_conf_t {
    ngx_http_upstream_conf_t upstream;
    ngx_str_t stream;
    ngx_str_t prefix;
    time_t ttl;
    ngx_uint_t maxlen; /* 0: no cap */
    ngx_str_t user;
    ngx_str_t password; /* empty: no AUTH */
    ngx_int_t db;       /* NGX_CONF_UNSET: no SELECT */
#if (NGX_HTTP_SSL)
    ngx_flag_t ssl;
    ngx_str_t ssl_trusted_certificate;
#endif
};

static ngx_http_provision_x_redis_loc_conf_t *
ngx_http_provision_x_redis_loc_conf(ngx_http_request_t *r) noexcept
{
    return static_cast<ngx_http_provision_x_redis_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_redis_module));
}

static char *ngx_http_provision_x_redis_pass(ngx_conf_t *cf, ngx_command_t *cmd,
                                             void *conf) noexcept;
static char *ngx_http_provision_x_redis_maxlen(ngx_conf_t *cf,
                                               ngx_command_t *cmd,
                                               void *conf) noexcept;
static char *ngx_http_provision_x_redis_password_file(ngx_conf_t *cf,
                                                      ngx_command_t *cmd,
                                                      void *conf) noexcept;
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_provision_x_redis_set_ssl(
    ngx_conf_t *cf, ngx_http_provision_x_redis_loc_conf_t *conf) noexcept;
#endif
static void *
ngx_http_provision_x_redis_create_loc_conf(ngx_conf_t *cf) noexcept;
static char *ngx_http_provision_x_redis_merge_loc_conf(ngx_conf_t *cf,
                                                       void *parent,
                                                       void *child) noexcept;

/* One request to Redis. */
struct ngx_http_provision_x_redis_ctx_t {
    ngx_http_provision_x_redis_write_t *write;
    ngx_chain_t *script;      /* what is left to write of the script's call */
    u_char *script_start;     /* to write it again to the next upstream */
    unsigned handshake : 1;   /* the script waits for the preamble's OKs */
    unsigned verdict_due : 1; /* the preamble's replies were read */
};

static ngx_http_provision_x_redis_ctx_t *
ngx_http_provision_x_redis_get_ctx(ngx_http_request_t *r) noexcept
{
    return static_cast<ngx_http_provision_x_redis_ctx_t *>(
        ngx_http_get_module_ctx(r, ngx_http_provision_x_redis_module));
}

static char ngx_http_provision_x_redis_sha1[provision_x::redis_sha1_hex_size];
static bool ngx_http_provision_x_redis_sha1_ready;

#define NGX_HTTP_PROVISION_X_REDIS_CONF                                        \
    (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF)

// clang-format off
static ngx_conf_bitmask_t ngx_http_provision_x_redis_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_response"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};

static ngx_command_t ngx_http_provision_x_redis_commands[] = {

    { ngx_string("provision_x_redis_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_provision_x_redis_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_redis_stream"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, stream),
      NULL },

    { ngx_string("provision_x_redis_key_prefix"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, prefix),
      NULL },

    { ngx_string("provision_x_redis_ttl"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, ttl),
      NULL },

    { ngx_string("provision_x_redis_maxlen"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_http_provision_x_redis_maxlen,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_redis_user"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, user),
      NULL },

    { ngx_string("provision_x_redis_password_file"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_http_provision_x_redis_password_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provision_x_redis_db"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, db),
      NULL },

    { ngx_string("provision_x_redis_connect_timeout"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("provision_x_redis_send_timeout"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("provision_x_redis_read_timeout"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("provision_x_redis_buffer_size"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.buffer_size),
      NULL },

    { ngx_string("provision_x_redis_next_upstream"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.next_upstream),
      &ngx_http_provision_x_redis_next_upstream_masks },

    { ngx_string("provision_x_redis_next_upstream_tries"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t,
               upstream.next_upstream_tries),
      NULL },

    { ngx_string("provision_x_redis_next_upstream_timeout"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t,
               upstream.next_upstream_timeout),
      NULL },

#if (NGX_HTTP_SSL)

    { ngx_string("provision_x_redis_ssl"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, ssl),
      NULL },

    { ngx_string("provision_x_redis_ssl_verify"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.ssl_verify),
      NULL },

    { ngx_string("provision_x_redis_ssl_trusted_certificate"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t,
               ssl_trusted_certificate),
      NULL },

    { ngx_string("provision_x_redis_ssl_name"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t, upstream.ssl_name),
      NULL },

    { ngx_string("provision_x_redis_ssl_server_name"),
      NGX_HTTP_PROVISION_X_REDIS_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provision_x_redis_loc_conf_t,
               upstream.ssl_server_name),
      NULL },

#endif

      ngx_null_command
};


static ngx_http_module_t ngx_http_provision_x_redis_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_provision_x_redis_create_loc_conf,
                                           /* create location configuration */
    ngx_http_provision_x_redis_merge_loc_conf
                                           /* merge location configuration */
};


ngx_module_t ngx_http_provision_x_redis_module = {
    NGX_MODULE_V1,
    &ngx_http_provision_x_redis_module_ctx, /* module context */
    ngx_http_provision_x_redis_commands,   /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};
// clang-format on

/* --- the upstream protocol: RESP ----------------------------------------- */

void *
ngx_http_provision_x_redis_ctx(ngx_pool_t *pool,
                               ngx_http_provision_x_redis_write_t *w) noexcept
{
    auto *rctx = static_cast<ngx_http_provision_x_redis_ctx_t *>(
        ngx_pcalloc(pool, sizeof(ngx_http_provision_x_redis_ctx_t)));
    if (rctx != NULL) {
        rctx->write = w;
    }

    return rctx;
}

static bool
ngx_http_provision_x_redis_needs_handshake(
    ngx_http_provision_x_redis_loc_conf_t *rlcf) noexcept
{
    return rlcf->password.len != 0 || rlcf->db != NGX_CONF_UNSET;
}

static ngx_chain_t *
ngx_http_provision_x_redis_chain(ngx_http_request_t *r, size_t len) noexcept
{
    ngx_buf_t *b = ngx_create_temp_buf(r->pool, len);
    ngx_chain_t *cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NULL;
    }

    /* TLS buffers output until told to flush; each piece is all there is */
    b->flush = 1;

    cl->buf = b;
    cl->next = NULL;

    return cl;
}

/* RESET, and AUTH and SELECT when configured, into one buffer. */
static ngx_chain_t *
ngx_http_provision_x_redis_preamble(ngx_http_request_t *r,
                                    ngx_http_provision_x_redis_loc_conf_t *rlcf,
                                    size_t extra) noexcept
{
    std::string_view user = provision_x::view(rlcf->user);
    std::string_view password = provision_x::view(rlcf->password);
    size_t len = provision_x::redis_reset_command.size() + extra;

    if (password.size()) {
        len += provision_x::redis_auth_size(user, password);
    }

    if (rlcf->db != NGX_CONF_UNSET) {
        len += provision_x::redis_select_size(rlcf->db);
    }

    ngx_chain_t *cl = ngx_http_provision_x_redis_chain(r, len);
    if (cl == NULL) {
        return NULL;
    }

    auto *p = reinterpret_cast<char *>(
        ngx_cpymem(cl->buf->last, provision_x::redis_reset_command.data(),
                   provision_x::redis_reset_command.size()));

    if (password.size()) {
        p = provision_x::redis_auth(p, user, password);
    }

    if (rlcf->db != NGX_CONF_UNSET) {
        p = provision_x::redis_select(p, rlcf->db);
    }

    cl->buf->last = reinterpret_cast<u_char *>(p);

    return cl;
}

static ngx_int_t
ngx_http_provision_x_redis_create_request(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_redis_loc_conf_t *rlcf =
        ngx_http_provision_x_redis_loc_conf(r);
    ngx_http_provision_x_redis_ctx_t *rctx =
        ngx_http_provision_x_redis_get_ctx(r);
    ngx_http_provision_x_redis_write_t *w = rctx->write;

    provision_x::redis_sink_params params;
    params.stream = provision_x::view(rlcf->stream);
    params.prefix = provision_x::view(rlcf->prefix);
    params.dialect = provision_x::dialect_name(w->dialect);
    /* a receiver's dedup_ttl= (number status) is the TTL of its keys in
     * Redis too: a record pushed again after it must be written again */
    params.ttl = w->ttl ? w->ttl : rlcf->ttl;
    params.maxlen = rlcf->maxlen;
    params.eval = w->eval;
    params.sha1 = ngx_http_provision_x_redis_sha1;

    size_t script_len =
        provision_x::redis_sink_command_size(params, w->records, w->n);

    rctx->handshake = ngx_http_provision_x_redis_needs_handshake(rlcf);

    /* without a handshake the script follows RESET in the same buffer */
    ngx_chain_t *preamble = ngx_http_provision_x_redis_preamble(
        r, rlcf, rctx->handshake ? 0 : script_len);
    ngx_chain_t *script = rctx->handshake
                              ? ngx_http_provision_x_redis_chain(r, script_len)
                              : preamble;
    if (preamble == NULL || script == NULL) {
        return NGX_ERROR;
    }

    script->buf->last =
        reinterpret_cast<u_char *>(provision_x::redis_sink_command(
            reinterpret_cast<char *>(script->buf->last), params, w->records,
            w->n));

    rctx->script = script;
    rctx->script_start = script->buf->pos;

    r->upstream->request_bufs = preamble;

    return NGX_OK;
}

static ngx_int_t
ngx_http_provision_x_redis_reinit_request(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_redis_loc_conf_t *rlcf =
        ngx_http_provision_x_redis_loc_conf(r);
    ngx_http_provision_x_redis_ctx_t *rctx =
        ngx_http_provision_x_redis_get_ctx(r);

    /* the next upstream gets the whole exchange again */
    rctx->handshake = ngx_http_provision_x_redis_needs_handshake(rlcf);
    rctx->verdict_due = 0;
    rctx->script->buf->pos = rctx->script_start;

    return NGX_OK;
}

static ngx_int_t
ngx_http_provision_x_redis_invalid(ngx_http_request_t *r, const char *what,
                                   const resp_reply &reply) noexcept
{
    if (reply.type == resp_type::error) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: redis %s failed: %*s", what,
                      reply.text.size(), reply.text.data());

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: redis sent an unexpected reply to %s",
                      what);
    }

    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
}

static void
ngx_http_provision_x_redis_wrote(ngx_http_request_t *r,
                                 ngx_http_upstream_t *u) noexcept
{
    /* the script is out; its reply comes through the read side */
}

/*
 * Writes what is left of the script's call; the rest goes when the
 * connection can take it.  A connection that fails here fails its read
 * too, and the upstream's read timeout bounds the wait either way.
 */
static void
ngx_http_provision_x_redis_write_script(ngx_http_request_t *r,
                                        ngx_http_upstream_t *u) noexcept
{
    ngx_http_provision_x_redis_ctx_t *rctx =
        ngx_http_provision_x_redis_get_ctx(r);
    ngx_connection_t *c = u->peer.connection;

    ngx_chain_t *rest = c->send_chain(c, rctx->script, 0);

    if (rest == NGX_CHAIN_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: writing the script to redis failed");
        u->write_event_handler = ngx_http_provision_x_redis_wrote;
        return;
    }

    if (rest == NULL) {
        u->write_event_handler = ngx_http_provision_x_redis_wrote;
        return;
    }

    rctx->script = rest;
    u->write_event_handler = ngx_http_provision_x_redis_write_script;

    /* still writable (the chain stopped short): go on after this event */
    if (c->write->ready) {
        ngx_post_event(c->write, &ngx_posted_events);
        return;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: waiting to write to redis failed");
    }
}

/*
 * The replies to RESET, AUTH and SELECT; each must say so, or nothing
 * else is sent.
 */
static ngx_int_t
ngx_http_provision_x_redis_check_preamble(
    ngx_http_request_t *r, ngx_http_provision_x_redis_loc_conf_t *rlcf,
    const char **p, const char *last) noexcept
{
    const char *what[3];
    ngx_uint_t n = 0;

    what[n++] = "RESET";

    if (rlcf->password.len) {
        what[n++] = "AUTH";
    }

    if (rlcf->db != NGX_CONF_UNSET) {
        what[n++] = "SELECT";
    }

    resp_reply replies[3];
    const char *q = *p;

    for (ngx_uint_t i = 0; i < n; i++) {
        size_t used;

        switch (provision_x::resp_parse(q, last - q, replies[i], &used)) {
        case resp_rc::ok:
            q += used;
            break;

        case resp_rc::incomplete:
            return NGX_AGAIN;

        default:
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "provision_x: redis sent invalid RESP");
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }
    }

    for (ngx_uint_t i = 0; i < n; i++) {
        if (replies[i].type != resp_type::simple
            || replies[i].text != (i == 0 ? "RESET" : "OK"))
        {
            return ngx_http_provision_x_redis_invalid(r, what[i], replies[i]);
        }
    }

    *p = q;

    return NGX_OK;
}

/*
 * The replies are small and come at once: the preamble's, then the
 * script's verdict.  Each is parsed from the start of what is unread on
 * every call until it is complete, so no parser state outlives a call.
 */
static ngx_int_t
ngx_http_provision_x_redis_process_header(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_redis_loc_conf_t *rlcf =
        ngx_http_provision_x_redis_loc_conf(r);
    ngx_http_provision_x_redis_ctx_t *rctx =
        ngx_http_provision_x_redis_get_ctx(r);
    ngx_http_provision_x_redis_write_t *w = rctx->write;
    ngx_http_upstream_t *u = r->upstream;

    auto *p = reinterpret_cast<const char *>(u->buffer.pos);
    auto *last = reinterpret_cast<const char *>(u->buffer.last);

    if (!rctx->verdict_due) {
        ngx_int_t rc =
            ngx_http_provision_x_redis_check_preamble(r, rlcf, &p, last);
        if (rc != NGX_OK) {
            return rc;
        }

        u->buffer.pos = reinterpret_cast<u_char *>(const_cast<char *>(p));
        rctx->verdict_due = 1;

        if (rctx->handshake) {
            ngx_http_provision_x_redis_write_script(r, u);
            return NGX_AGAIN;
        }
    }

    resp_reply verdict;
    size_t used;

    switch (provision_x::resp_parse(p, last - p, verdict, &used)) {
    case resp_rc::ok:
        p += used;
        break;

    case resp_rc::incomplete:
        return NGX_AGAIN;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: redis sent invalid RESP");
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (verdict.type == resp_type::error && !w->eval
        && verdict.text.substr(0, 9) == "NOSCRIPT ")
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "provision_x: redis does not know the sink script "
                      "yet, sending it with EVAL");
        w->noscript = 1;

    } else if (verdict.type == resp_type::bulk && verdict.text.size() == w->n
               && verdict.text.find_first_not_of("01")
                      == std::string_view::npos)
    {
        w->known = 0;

        for (char c : verdict.text) {
            w->known += (c == '0');
        }

        w->written = 1;

    } else {
        return ngx_http_provision_x_redis_invalid(r, "CDR write", verdict);
    }

    u->buffer.pos = reinterpret_cast<u_char *>(const_cast<char *>(p));
    u->headers_in.status_n = NGX_HTTP_OK;
    u->headers_in.content_length_n = 0;
    u->state->status = NGX_HTTP_OK;

    /* anything after the reply means we and Redis disagree: do not reuse */
    u->keepalive = (p == last);

    return NGX_OK;
}

static void
ngx_http_provision_x_redis_finalize_request(ngx_http_request_t *r,
                                            ngx_int_t rc) noexcept
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "provision_x redis request finalized: %i", rc);
}

static ngx_int_t
ngx_http_provision_x_redis_handler(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_redis_ctx_t *rctx =
        ngx_http_provision_x_redis_get_ctx(r);

    if (rctx == NULL || rctx->write->n == 0) {
        /* only the CDR sink's subrequest has records to write */
        return NGX_HTTP_NOT_FOUND;
    }

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_provision_x_redis_loc_conf_t *rlcf =
        ngx_http_provision_x_redis_loc_conf(r);
    ngx_http_upstream_t *u = r->upstream;

    ngx_str_set(&u->schema, "redis://");

#if (NGX_HTTP_SSL)
    if (rlcf->ssl) {
        ngx_str_set(&u->schema, "rediss://");
        u->ssl = 1;
    }
#endif
    u->output.tag =
        reinterpret_cast<ngx_buf_tag_t>(&ngx_http_provision_x_redis_module);
    u->conf = &rlcf->upstream;

    u->create_request = ngx_http_provision_x_redis_create_request;
    u->reinit_request = ngx_http_provision_x_redis_reinit_request;
    u->process_header = ngx_http_provision_x_redis_process_header;
    u->finalize_request = ngx_http_provision_x_redis_finalize_request;

    r->main->count++;

    ngx_http_upstream_init(r);

    return NGX_DONE;
}

/* --- configuration ------------------------------------------------------- */

static char *
ngx_http_provision_x_redis_pass(ngx_conf_t *cf, ngx_command_t *cmd,
                                void *conf) noexcept
{
    auto *rlcf = static_cast<ngx_http_provision_x_redis_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (rlcf->upstream.upstream) {
        return provision_x::conf_message("is duplicate");
    }

    ngx_url_t url;
    ngx_memzero(&url, sizeof(ngx_url_t));
    url.url = value[1];
    url.no_resolve = 1;

    rlcf->upstream.upstream = ngx_http_upstream_add(cf, &url, 0);
    if (rlcf->upstream.upstream == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (!ngx_http_provision_x_redis_sha1_ready) {
        if (!provision_x::redis_sink_script_sha1(
                ngx_http_provision_x_redis_sha1)) {
            return provision_x::conf_message("cannot hash the sink script");
        }

        ngx_http_provision_x_redis_sha1_ready = true;
    }

    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = ngx_http_provision_x_redis_handler;

    return NGX_CONF_OK;
}

static char *
ngx_http_provision_x_redis_maxlen(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf) noexcept
{
    auto *rlcf = static_cast<ngx_http_provision_x_redis_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (rlcf->maxlen != NGX_CONF_UNSET_UINT) {
        return provision_x::conf_message("is duplicate");
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        rlcf->maxlen = 0;
        return NGX_CONF_OK;
    }

    ngx_int_t n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", expected a positive "
                           "number or \"off\"",
                           &value[1]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    rlcf->maxlen = n;

    return NGX_CONF_OK;
}

static char *
ngx_http_provision_x_redis_password_file(ngx_conf_t *cf, ngx_command_t *cmd,
                                         void *conf) noexcept
{
    auto *rlcf = static_cast<ngx_http_provision_x_redis_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (rlcf->password.data != NULL) {
        return provision_x::conf_message("is duplicate");
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&rlcf->password, "");
        return NGX_CONF_OK;
    }

    ngx_str_t path = value[1];

    if (ngx_http_provision_x_read_secret(cf, &path, &rlcf->password) != NGX_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

static void *
ngx_http_provision_x_redis_create_loc_conf(ngx_conf_t *cf) noexcept
{
    auto *conf = static_cast<ngx_http_provision_x_redis_loc_conf_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_redis_loc_conf_t)));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.upstream = NULL;
     *     conf->upstream.next_upstream = 0;
     *     conf->upstream.buffering = 0;
     *     conf->upstream.pass_request_headers = 0;
     *     conf->upstream.pass_request_body = 0;
     *     conf->upstream.intercept_errors = 0;
     *     conf->stream = { 0, NULL };
     *     conf->prefix = { 0, NULL };
     *     conf->user = { 0, NULL };
     *     conf->password = { 0, NULL };
     */

    conf->upstream.local =
        static_cast<ngx_http_upstream_local_t *>(NGX_CONF_UNSET_PTR);
    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    conf->ttl = NGX_CONF_UNSET;
    conf->maxlen = NGX_CONF_UNSET_UINT;
    conf->db = NGX_CONF_UNSET;

#if (NGX_HTTP_SSL)
    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.ssl = NULL;
     *     conf->upstream.ssl_name = NULL;
     *     conf->ssl_trusted_certificate = { 0, NULL };
     */

    conf->ssl = NGX_CONF_UNSET;
    conf->upstream.ssl_verify = NGX_CONF_UNSET;
    conf->upstream.ssl_server_name = NGX_CONF_UNSET;
    conf->upstream.ssl_session_reuse = NGX_CONF_UNSET;
#endif

    return conf;
}

static char *
ngx_http_provision_x_redis_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                          void *child) noexcept
{
    auto *prev = static_cast<ngx_http_provision_x_redis_loc_conf_t *>(parent);
    auto *conf = static_cast<ngx_http_provision_x_redis_loc_conf_t *>(child);

    ngx_conf_merge_ptr_value(conf->upstream.local, prev->upstream.local, NULL);
    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);

    /* a platform waits for its acknowledgement well under a second */
    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 1000);
    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 2000);
    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 2000);
    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);
    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size,
                              static_cast<size_t>(ngx_pagesize));

    ngx_conf_merge_bitmask_value(
        conf->upstream.next_upstream, prev->upstream.next_upstream,
        NGX_CONF_BITMASK_SET | NGX_HTTP_UPSTREAM_FT_ERROR
            | NGX_HTTP_UPSTREAM_FT_TIMEOUT);

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream =
            NGX_CONF_BITMASK_SET | NGX_HTTP_UPSTREAM_FT_OFF;

    } else {
        /*
         * The subrequest inherits the platform's POST, but the write is
         * idempotent (the dedup keys), so a request that reached one
         * server may be tried on the next.
         */
        conf->upstream.next_upstream |= NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT;
    }

    ngx_conf_merge_str_value(conf->stream, prev->stream,
                             NGX_HTTP_PROVISION_X_REDIS_STREAM);
    ngx_conf_merge_str_value(conf->prefix, prev->prefix,
                             NGX_HTTP_PROVISION_X_REDIS_PREFIX);
    ngx_conf_merge_value(conf->ttl, prev->ttl, NGX_HTTP_PROVISION_X_DEDUP_TTL);
    ngx_conf_merge_uint_value(conf->maxlen, prev->maxlen, 0);
    ngx_conf_merge_str_value(conf->user, prev->user, "");
    ngx_conf_merge_str_value(conf->password, prev->password, "");
    ngx_conf_merge_value(conf->db, prev->db, NGX_CONF_UNSET);

    if (conf->ttl <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"provision_x_redis_ttl\" must be at least 1s");
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (conf->stream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"provision_x_redis_stream\" must not be empty");
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (conf->user.len && conf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"provision_x_redis_user\" needs "
                           "\"provision_x_redis_password_file\"");
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

#if (NGX_HTTP_SSL)
    ngx_conf_merge_value(conf->ssl, prev->ssl, 0);

    /* a password sent over TLS to whoever answers is no better than plain */
    ngx_conf_merge_value(conf->upstream.ssl_verify, prev->upstream.ssl_verify,
                         1);
    ngx_conf_merge_value(conf->upstream.ssl_server_name,
                         prev->upstream.ssl_server_name, 0);
    ngx_conf_merge_value(conf->upstream.ssl_session_reuse,
                         prev->upstream.ssl_session_reuse, 1);
    ngx_conf_merge_str_value(conf->ssl_trusted_certificate,
                             prev->ssl_trusted_certificate, "");

    if (conf->upstream.ssl_name == NULL) {
        conf->upstream.ssl_name = prev->upstream.ssl_name;
    }

    /* only the location that talks to Redis needs a context of its own */
    if (conf->ssl && conf->upstream.upstream != NULL
        && ngx_http_provision_x_redis_set_ssl(cf, conf) != NGX_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }
#endif

    return NGX_CONF_OK;
}

#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_provision_x_redis_set_ssl(
    ngx_conf_t *cf, ngx_http_provision_x_redis_loc_conf_t *conf) noexcept
{
    if (conf->upstream.ssl_verify && conf->ssl_trusted_certificate.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"provision_x_redis_ssl_verify\" needs "
                           "\"provision_x_redis_ssl_trusted_certificate\", "
                           "or \"provision_x_redis_ssl_verify off\"");
        return NGX_ERROR;
    }

    auto *ssl =
        static_cast<ngx_ssl_t *>(ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t)));
    if (ssl == NULL) {
        return NGX_ERROR;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2 | NGX_SSL_TLSv1_3, NULL) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    conf->upstream.ssl = ssl;

    if (conf->upstream.ssl_verify
        && ngx_ssl_trusted_certificate(cf, ssl, &conf->ssl_trusted_certificate,
                                       NGX_HTTP_PROVISION_X_REDIS_SSL_DEPTH)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_ssl_client_session_cache(cf, ssl,
                                        conf->upstream.ssl_session_reuse);
}

#endif
