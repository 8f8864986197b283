/*
 * The consumer API of a queue zone ("provision_x_queue_consume"):
 *
 *   GET    LOC?max=N&wait=S    lease up to N records (200, NDJSON, with
 *                              X-Lease-Id), or 204 when none is visible
 *                              after waiting up to S seconds
 *   DELETE LOC?lease=ID        acknowledge a lease: its records are gone
 *   POST   LOC/ack?lease=ID    the same, for clients that cannot DELETE
 *
 * Every request needs an API key first.  Errors come in one JSON envelope
 * {"status_code":N,"message":...,"data":null,"error":{"code":...,
 * "message":...}}.
 *
 * The long poll never blocks the worker: an empty queue arms a timer that
 * tries again every NGX_HTTP_PROVISION_X_QUEUE_POLL ms until the wait is
 * over, the client goes away or the worker shuts down.
 */

#include "ngx_http_provision_x_api_key.hpp"
#include "ngx_http_provision_x_queue_zone.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_log.hpp"

#define NGX_HTTP_PROVISION_X_QUEUE_POLL 100

struct ngx_http_provision_x_queue_wait_t {
    ngx_http_request_t *request;
    ngx_event_t timer;
    ngx_msec_t deadline;
    ngx_uint_t max;
    uint64_t *found; /* the lease's scratch, reused by every attempt */
};

/* consumers that do not acknowledge keep asking */
static ngx_http_provision_x_log_limit_t ngx_http_provision_x_queue_no_slot =
    NGX_HTTP_PROVISION_X_LOG_LIMIT("no free lease slot", 1);

static ngx_int_t
ngx_http_provision_x_queue_header(ngx_http_request_t *r, const char *key,
                                  u_char *value, size_t len) noexcept
{
    ngx_str_t name = {ngx_strlen(key),
                      reinterpret_cast<u_char *>(const_cast<char *>(key))};

    return ngx_http_provision_x_push_header(r, name, {len, value});
}

static ngx_int_t
ngx_http_provision_x_queue_header_str(ngx_http_request_t *r, const char *key,
                                      const char *value) noexcept
{
    return ngx_http_provision_x_queue_header(
        r, key, reinterpret_cast<u_char *>(const_cast<char *>(value)),
        ngx_strlen(value));
}

static ngx_int_t
ngx_http_provision_x_queue_send_acked(ngx_http_request_t *r, ngx_str_t *id,
                                      ngx_uint_t count) noexcept
{
    size_t len =
        sizeof("{\"lease\":\"\",\"acknowledged\":}") + id->len + NGX_INT_T_LEN;

    auto *data = static_cast<u_char *>(ngx_pnalloc(r->pool, len));
    if (data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the id was checked to be hex digits: nothing to escape */
    u_char *last =
        ngx_sprintf(data, "{\"lease\":\"%V\",\"acknowledged\":%ui}", id, count);

    return ngx_http_provision_x_send_envelope(
        r, NGX_HTTP_OK,
        std::string_view(reinterpret_cast<char *>(data), last - data));
}

static ngx_int_t
ngx_http_provision_x_queue_send_lease(ngx_http_request_t *r,
                                      ngx_http_provision_x_queue_lease_t *lease,
                                      time_t timeout) noexcept
{
    auto *p = static_cast<u_char *>(ngx_pnalloc(
        r->pool, sizeof("Mon, 28 Sep 1970 06:00:00 GMT") + 3 * NGX_INT_T_LEN));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u_char *expires = p;
    u_char *expires_end = ngx_http_time(expires, ngx_time() + timeout);
    u_char *seconds = expires_end;
    u_char *seconds_end = ngx_sprintf(seconds, "%T", timeout);
    u_char *count = seconds_end;
    u_char *count_end = ngx_sprintf(count, "%ui", lease->count);
    u_char *again = count_end;
    u_char *again_end = ngx_sprintf(again, "%ui", lease->redelivered);

    if (ngx_http_provision_x_queue_header(r, "X-Lease-Id", lease->id,
                                          sizeof(lease->id))
            != NGX_OK
        || ngx_http_provision_x_queue_header(r, "X-Lease-Expires", expires,
                                             expires_end - expires)
               != NGX_OK
        || ngx_http_provision_x_queue_header(r, "X-Lease-Timeout", seconds,
                                             seconds_end - seconds)
               != NGX_OK
        || ngx_http_provision_x_queue_header(r, "X-Lease-Count", count,
                                             count_end - count)
               != NGX_OK
        || ngx_http_provision_x_queue_header(r, "X-Lease-Redelivered", again,
                                             again_end - again)
               != NGX_OK
        || ngx_http_provision_x_no_store(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_provision_x_send_bytes(r, NGX_HTTP_OK,
                                           &ngx_http_provision_x_ndjson_type,
                                           lease->body.data, lease->body.len);
}

static ngx_int_t
ngx_http_provision_x_queue_send_empty(ngx_http_request_t *r) noexcept
{
    if (ngx_http_provision_x_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->header_only = 1;

    return ngx_http_provision_x_send(r, NGX_HTTP_NO_CONTENT, NULL, NULL);
}

/*
 * One attempt to lease.  NGX_DECLINED when nothing is visible (nothing
 * was sent); otherwise what was sent returned.
 */
static ngx_int_t
ngx_http_provision_x_queue_try(ngx_http_request_t *r, ngx_uint_t max,
                               uint64_t *found) noexcept
{
    ngx_http_provision_x_queue_loc_conf_t *qlcf =
        ngx_http_provision_x_queue_loc_conf(r);
    auto *ctx =
        static_cast<ngx_http_provision_x_queue_ctx_t *>(qlcf->zone->data);
    ngx_http_provision_x_queue_lease_t lease;

    switch (ngx_http_provision_x_queue_lease(ctx, max, found,
                                             qlcf->lease * 1000, r->pool,
                                             &lease, r->connection->log))
    {
    case NGX_HTTP_PROVISION_X_QUEUE_LEASED:
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "provision_x queue: lease %*s of %ui records",
                       sizeof(lease.id), lease.id, lease.count);
        return ngx_http_provision_x_queue_send_lease(r, &lease, qlcf->lease);

    case NGX_HTTP_PROVISION_X_QUEUE_EMPTY:
        return NGX_DECLINED;

    case NGX_HTTP_PROVISION_X_QUEUE_NO_SLOT_FREE:
        if (ngx_http_provision_x_log_allowed(
                &ngx_http_provision_x_queue_no_slot, r->connection->log))
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "provision_x: queue zone \"%V\" has no free lease "
                          "slot: too many leases are open",
                          &ctx->shm_zone->shm.name);
        }
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_SERVICE_UNAVAILABLE, "too_many_leases",
            "too many leases are open; acknowledge or let them expire");

    case NGX_HTTP_PROVISION_X_QUEUE_RETIRED:
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_SERVICE_UNAVAILABLE, "reloading",
            "the queue is moving to a reloaded configuration; retry");

    default:
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
            "the lease could not be made");
    }
}

static void
ngx_http_provision_x_queue_wait_cleanup(void *data) noexcept
{
    auto *wait = static_cast<ngx_http_provision_x_queue_wait_t *>(data);

    if (wait->timer.timer_set) {
        ngx_del_timer(&wait->timer);
    }
}

static void
ngx_http_provision_x_queue_poll(ngx_event_t *ev) noexcept
{
    auto *wait = static_cast<ngx_http_provision_x_queue_wait_t *>(ev->data);
    ngx_http_request_t *r = wait->request;
    ngx_connection_t *c = r->connection;

    ngx_int_t rc = ngx_http_provision_x_queue_try(r, wait->max, wait->found);

    if (rc == NGX_DECLINED) {
        auto left =
            static_cast<ngx_msec_int_t>(wait->deadline - ngx_current_msec);

        /* a worker shutting down answers now rather than hold up exit */
        if (left > 0 && !ngx_exiting && !ngx_terminate) {
            ngx_add_timer(ev, ngx_min(left, NGX_HTTP_PROVISION_X_QUEUE_POLL));
            return;
        }

        rc = ngx_http_provision_x_queue_send_empty(r);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}

static ngx_int_t
ngx_http_provision_x_queue_wait(ngx_http_request_t *r, ngx_uint_t max,
                                uint64_t *found, time_t seconds) noexcept
{
    auto *wait = static_cast<ngx_http_provision_x_queue_wait_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_provision_x_queue_wait_t)));
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wait->request = r;
    wait->max = max;
    wait->found = found;
    wait->deadline = ngx_current_msec + seconds * 1000;
    wait->timer.handler = ngx_http_provision_x_queue_poll;
    wait->timer.data = wait;
    wait->timer.log = r->connection->log;

    cln->handler = ngx_http_provision_x_queue_wait_cleanup;
    cln->data = wait;

    /* a client that hangs up ends the wait (and the request) */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_add_timer(&wait->timer, ngx_min(static_cast<ngx_msec_t>(seconds * 1000),
                                        NGX_HTTP_PROVISION_X_QUEUE_POLL));

    r->main->count++;

    return NGX_DONE;
}

static ngx_int_t
ngx_http_provision_x_queue_get(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_queue_loc_conf_t *qlcf =
        ngx_http_provision_x_queue_loc_conf(r);
    ngx_uint_t max = qlcf->max;
    time_t seconds = qlcf->wait;
    ngx_str_t arg;

    if (ngx_http_arg(r, (u_char *) "max", 3, &arg) == NGX_OK) {
        ngx_int_t n = ngx_atoi(arg.data, arg.len);

        if (n < 1) {
            return ngx_http_provision_x_send_envelope_error(
                r, NGX_HTTP_BAD_REQUEST, "bad_request",
                "max must be a positive integer");
        }

        max = ngx_min(static_cast<ngx_uint_t>(n), qlcf->max);
    }

    if (ngx_http_arg(r, (u_char *) "wait", 4, &arg) == NGX_OK) {
        ngx_int_t n = ngx_atoi(arg.data, arg.len);

        if (n == NGX_ERROR) {
            return ngx_http_provision_x_send_envelope_error(
                r, NGX_HTTP_BAD_REQUEST, "bad_request",
                "wait must be a whole number of seconds");
        }

        seconds = ngx_min(static_cast<time_t>(n), qlcf->wait);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    auto *found =
        static_cast<uint64_t *>(ngx_palloc(r->pool, max * sizeof(uint64_t)));
    if (found == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_int_t rc = ngx_http_provision_x_queue_try(r, max, found);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (seconds > 0) {
        return ngx_http_provision_x_queue_wait(r, max, found, seconds);
    }

    return ngx_http_provision_x_queue_send_empty(r);
}

static ngx_int_t
ngx_http_provision_x_queue_ack_request(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_queue_loc_conf_t *qlcf =
        ngx_http_provision_x_queue_loc_conf(r);
    auto *ctx =
        static_cast<ngx_http_provision_x_queue_ctx_t *>(qlcf->zone->data);
    u_char id[NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN];
    ngx_str_t arg;

    if (ngx_http_arg(r, (u_char *) "lease", 5, &arg) != NGX_OK) {
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_BAD_REQUEST, "bad_request",
            "the lease to acknowledge is missing (lease=ID)");
    }

    if (ngx_http_provision_x_queue_parse_id(&arg, id) != NGX_OK) {
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_BAD_REQUEST, "bad_request",
            "a lease id is 32 hexadecimal digits");
    }

    ngx_uint_t count;

    switch (ngx_http_provision_x_queue_ack(ctx, id, &count)) {
    case NGX_HTTP_PROVISION_X_QUEUE_ACKED:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "provision_x queue: lease %V acknowledged, %ui records",
                       &arg, count);
        return ngx_http_provision_x_queue_send_acked(r, &arg, count);

    case NGX_HTTP_PROVISION_X_QUEUE_ACK_EXPIRED:
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_CONFLICT, "lease_expired",
            "the lease expired before this acknowledgement; its records "
            "are delivered again");

    case NGX_HTTP_PROVISION_X_QUEUE_ACK_RETIRED:
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_CONFLICT, "lease_expired",
            "a reload resized the queue and ended the lease; its records "
            "are delivered again");

    default:
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_NOT_FOUND, "lease_not_found",
            "no such lease: it was never issued or ended long ago");
    }
}

/* POST is an ack only at ".../ack", so a stray POST leases nothing */
static bool
ngx_http_provision_x_queue_is_ack_uri(ngx_http_request_t *r) noexcept
{
    return r->uri.len >= 4
           && ngx_strncmp(r->uri.data + r->uri.len - 4, "/ack", 4) == 0;
}

ngx_int_t
ngx_http_provision_x_queue_consume_handler(ngx_http_request_t *r) noexcept
{
    /* an unauthenticated client learns nothing, not even the methods */
    if (ngx_http_provision_x_api_key_check(r) != NGX_OK) {
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
            "a valid API key is required (Authorization: Bearer <key>)");
    }

    if (r->method == NGX_HTTP_GET) {
        return ngx_http_provision_x_queue_get(r);
    }

    if (r->method == NGX_HTTP_DELETE
        || (r->method == NGX_HTTP_POST
            && ngx_http_provision_x_queue_is_ack_uri(r)))
    {
        return ngx_http_provision_x_queue_ack_request(r);
    }

    if (ngx_http_provision_x_queue_header_str(r, "Allow", "GET, DELETE, POST")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_provision_x_send_envelope_error(
        r, NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
        "GET leases records; DELETE (or POST .../ack) with lease=ID "
        "acknowledges them");
}
