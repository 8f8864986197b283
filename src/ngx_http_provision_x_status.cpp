/*
 * The status endpoint: every counter and gauge of the module, aggregated
 * across workers from shared memory, as JSON (default) or in the
 * Prometheus text exposition format.  Labels come from a closed set
 * (dialects, reasons, status classes) or from the configuration (app and
 * zone names), never from request data.  Protected by the same bearer API
 * keys as the queue's consumer API.
 */

#include "ngx_http_provision_x_api_key.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_metrics.hpp"
#include "ngx_http_provision_x_queue.hpp"
#include "ngx_http_provision_x_seen.hpp"
#include "ngx_http_provision_x_status.hpp"

#include <cstdarg>

#define NGX_HTTP_PROVISION_X_STATUS_BUF 8192
#define NGX_HTTP_PROVISION_X_STATUS_LINE 1024

static const char *ngx_http_provision_x_status_classes[] = {"2xx", "3xx", "4xx",
                                                            "5xx"};

struct ngx_http_provision_x_out_t {
    ngx_http_request_t *r;
    ngx_chain_t *first;
    ngx_chain_t *last;
    bool failed;
    bool prometheus;
    bool first_item; /* JSON: no comma before the next element */
};

static void
ngx_http_provision_x_out(ngx_http_provision_x_out_t *out, const char *fmt,
                         ...) noexcept
{
    if (out->failed) {
        return;
    }

    ngx_buf_t *b = out->last ? out->last->buf : NULL;

    if (b == NULL || b->end - b->last < NGX_HTTP_PROVISION_X_STATUS_LINE) {
        ngx_chain_t *cl = ngx_alloc_chain_link(out->r->pool);
        b = ngx_create_temp_buf(out->r->pool, NGX_HTTP_PROVISION_X_STATUS_BUF);
        if (cl == NULL || b == NULL) {
            out->failed = true;
            return;
        }

        cl->buf = b;
        cl->next = NULL;

        if (out->last) {
            out->last->next = cl;
        } else {
            out->first = cl;
        }

        out->last = cl;
    }

    va_list args;
    va_start(args, fmt);
    u_char *p = ngx_vslprintf(b->last, b->end, fmt, args);
    va_end(args);

    b->last = p;
}

/* Names are configuration, but may hold quotes or backslashes. */
static ngx_str_t
ngx_http_provision_x_escaped(ngx_http_provision_x_out_t *out,
                             const u_char *data, size_t len) noexcept
{
    ngx_str_t s;
    size_t extra = 0;

    for (size_t i = 0; i < len; i++) {
        extra += (data[i] == '"' || data[i] == '\\' || data[i] < 0x20);
    }

    s.data = static_cast<u_char *>(ngx_pnalloc(out->r->pool, len + extra * 5));
    if (s.data == NULL) {
        out->failed = true;
        s.len = 0;
        return s;
    }

    u_char *p = s.data;

    for (size_t i = 0; i < len; i++) {
        if (data[i] == '"' || data[i] == '\\') {
            *p++ = '\\';
            *p++ = data[i];

        } else if (data[i] < 0x20) {
            p = ngx_sprintf(p, "\\u%04xd", data[i]);

        } else {
            *p++ = data[i];
        }
    }

    s.len = p - s.data;
    return s;
}

static void
ngx_http_provision_x_help(ngx_http_provision_x_out_t *out, const char *name,
                          const char *type, const char *help) noexcept
{
    ngx_http_provision_x_out(out, "# HELP provision_x_%s %s\n", name, help);
    ngx_http_provision_x_out(out, "# TYPE provision_x_%s %s\n", name, type);
}

static void
ngx_http_provision_x_item(ngx_http_provision_x_out_t *out) noexcept
{
    if (!out->first_item) {
        ngx_http_provision_x_out(out, ",");
    }

    out->first_item = false;
}

static void
ngx_http_provision_x_status_build(ngx_http_provision_x_out_t *out) noexcept
{
    if (out->prometheus) {
        ngx_http_provision_x_help(out, "build_info", "gauge",
                                  "The module's version and the nginx it was "
                                  "built for; always 1.");
        ngx_http_provision_x_out(out,
                                 "provision_x_build_info{version=\"%s\","
                                 "nginx=\"%s\"} 1\n",
                                 NGX_HTTP_PROVISION_X_VERSION, NGINX_VERSION);
        return;
    }

    ngx_http_provision_x_out(out,
                             "\"version\":\"%s\",\"nginx_version\":\"%s\",",
                             NGX_HTTP_PROVISION_X_VERSION, NGINX_VERSION);
}

static void
ngx_http_provision_x_status_verify(
    ngx_http_provision_x_out_t *out,
    ngx_http_provision_x_metrics_sh_t *m) noexcept
{
    if (out->prometheus) {
        ngx_http_provision_x_help(out, "verified_total", "counter",
                                  "Callbacks whose signature, clock and nonce "
                                  "passed.");
    } else {
        ngx_http_provision_x_out(out, "\"verified\":[");
        out->first_item = true;
    }

    for (ngx_uint_t a = 0; a <= m->apps; a++) {
        ngx_str_t app =
            ngx_http_provision_x_escaped(out, m->name[a], m->name_len[a]);

        for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
            ngx_atomic_uint_t n = m->app[a].verified[d];

            if (n == 0) {
                continue;
            }

            if (out->prometheus) {
                ngx_http_provision_x_out(
                    out,
                    "provision_x_verified_total{dialect=\"%s\",app=\"%V\"} "
                    "%uA\n",
                    provision_x::dialect_name(
                        static_cast<provision_x::dialect>(d)),
                    &app, n);
            } else {
                ngx_http_provision_x_item(out);
                ngx_http_provision_x_out(
                    out, "{\"dialect\":\"%s\",\"app\":\"%V\",\"count\":%uA}",
                    provision_x::dialect_name(
                        static_cast<provision_x::dialect>(d)),
                    &app, n);
            }
        }
    }

    if (out->prometheus) {
        ngx_http_provision_x_help(out, "rejected_total", "counter",
                                  "Callbacks refused (or, in debug mode, that "
                                  "would have been), by reason.");
    } else {
        ngx_http_provision_x_out(out, "],\"rejected\":[");
        out->first_item = true;
    }

    for (ngx_uint_t a = 0; a <= m->apps; a++) {
        ngx_str_t app =
            ngx_http_provision_x_escaped(out, m->name[a], m->name_len[a]);

        for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
            for (ngx_uint_t k = 1; k < provision_x::reason_count; k++) {
                ngx_atomic_uint_t n = m->app[a].rejected[d][k];
                const char *why = provision_x::reason_table[k].name.data();

                if (n == 0) {
                    continue;
                }

                if (out->prometheus) {
                    ngx_http_provision_x_out(
                        out,
                        "provision_x_rejected_total{dialect=\"%s\","
                        "app=\"%V\",reason=\"%s\"} %uA\n",
                        provision_x::dialect_name(
                            static_cast<provision_x::dialect>(d)),
                        &app, why, n);
                } else {
                    ngx_http_provision_x_item(out);
                    ngx_http_provision_x_out(
                        out,
                        "{\"dialect\":\"%s\",\"app\":\"%V\",\"reason\":\"%s\","
                        "\"count\":%uA}",
                        provision_x::dialect_name(
                            static_cast<provision_x::dialect>(d)),
                        &app, why, n);
                }
            }
        }
    }

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, "]");
    }
}

struct ngx_http_provision_x_cdr_metric_t {
    const char *name;
    const char *help;
    size_t offset;
};

static const ngx_http_provision_x_cdr_metric_t
    ngx_http_provision_x_cdr_metrics[] = {
        {"pushes", "pushes acknowledged after a hand-off.",
         offsetof(ngx_http_provision_x_cdr_counters_t, pushes)},
        {"retries", "identical pushes acknowledged by their body digest.",
         offsetof(ngx_http_provision_x_cdr_counters_t, retries)},
        {"refused", "pushes refused with 4xx (envelope or invalid record).",
         offsetof(ngx_http_provision_x_cdr_counters_t, refused)},
        {"records", "new records handed off to the sink.",
         offsetof(ngx_http_provision_x_cdr_counters_t, records)},
        {"duplicates", "records dropped as already handed off.",
         offsetof(ngx_http_provision_x_cdr_counters_t, duplicates)},
        {"dead_lettered", "invalid records dead-lettered.",
         offsetof(ngx_http_provision_x_cdr_counters_t, invalid)},
};

/*
 * The push types a family reports for dialect d, as counter type
 * indexes: "cdr" the CDR alone; "event" every other type of the dialect
 * and, where a location can take several, "unknown" (refusals before the
 * type was read).  Returns how many.
 */
static ngx_uint_t
ngx_http_provision_x_status_types(
    provision_x::dialect d, bool events,
    ngx_uint_t types[NGX_HTTP_PROVISION_X_TYPE_SLOTS]) noexcept
{
    ngx_uint_t n = 0;
    uint32_t all = 0;

    if (!events) {
        types[n++] = static_cast<ngx_uint_t>(provision_x::push_type::cdr);
        return n;
    }

    for (ngx_uint_t t = 0; t < provision_x::push_type_count; t++) {
        uint32_t bit =
            provision_x::push_type_bit(static_cast<provision_x::push_type>(t));

        if (!provision_x::push_types_valid(d, bit)) {
            continue;
        }

        all |= bit;

        if (t != static_cast<ngx_uint_t>(provision_x::push_type::cdr)) {
            types[n++] = t;
        }
    }

    if (provision_x::push_types_valid(d, all)) {
        types[n++] = NGX_HTTP_PROVISION_X_TYPE_UNKNOWN;
    }

    return n;
}

static const char *
ngx_http_provision_x_status_type_name(ngx_uint_t type) noexcept
{
    if (type >= provision_x::push_type_count) {
        return "unknown";
    }

    return provision_x::push_type_name(
        static_cast<provision_x::push_type>(type));
}

static ngx_atomic_uint_t
ngx_http_provision_x_counter(const ngx_http_provision_x_cdr_counters_t *c,
                             size_t offset) noexcept
{
    return *reinterpret_cast<const ngx_atomic_t *>(
        reinterpret_cast<const u_char *>(c) + offset);
}

/* One type's counters as a JSON object. */
static void
ngx_http_provision_x_status_counters_json(
    ngx_http_provision_x_out_t *out,
    const ngx_http_provision_x_cdr_counters_t *c) noexcept
{
    ngx_http_provision_x_out(out, "{");

    for (const auto &metric : ngx_http_provision_x_cdr_metrics) {
        ngx_http_provision_x_out(
            out, "\"%s\":%uA,", metric.name,
            ngx_http_provision_x_counter(c, metric.offset));
    }

    ngx_http_provision_x_out(out,
                             "\"hand_off\":{\"2xx\":%uA,\"3xx\":%uA,"
                             "\"4xx\":%uA,\"5xx\":%uA}}",
                             c->hand_off[0], c->hand_off[1], c->hand_off[2],
                             c->hand_off[3]);
}

/*
 * The push counters.  CDRs keep the family they always had:
 * provision_x_cdr_<metric>_total{dialect} and, in JSON, "cdr": {dialect:
 * {...}}.  The other types: provision_x_event_<metric>_total{dialect,
 * type} and "events": {dialect: {type: {...}}}.
 */
static void
ngx_http_provision_x_status_pushes(ngx_http_provision_x_out_t *out,
                                   ngx_http_provision_x_metrics_sh_t *m,
                                   bool events) noexcept
{
    const char *family = events ? "event" : "cdr";
    const char *what = events ? "Event" : "CDR";
    ngx_uint_t types[NGX_HTTP_PROVISION_X_TYPE_SLOTS];
    char name[64];
    char help[128];

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, ",\"%s\":{", events ? "events" : "cdr");

        for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
            auto dialect = static_cast<provision_x::dialect>(d);
            ngx_uint_t n =
                ngx_http_provision_x_status_types(dialect, events, types);

            ngx_http_provision_x_out(out, "%s\"%s\":", d > 1 ? "," : "",
                                     provision_x::dialect_name(dialect));

            if (!events) {
                ngx_http_provision_x_status_counters_json(out,
                                                          &m->cdr[d][types[0]]);
                continue;
            }

            for (ngx_uint_t i = 0; i < n; i++) {
                ngx_http_provision_x_out(
                    out, "%s\"%s\":", i ? "," : "{",
                    ngx_http_provision_x_status_type_name(types[i]));
                ngx_http_provision_x_status_counters_json(out,
                                                          &m->cdr[d][types[i]]);
            }

            ngx_http_provision_x_out(out, "}");
        }

        ngx_http_provision_x_out(out, "}");
        return;
    }

    /* the family's series: their counters and labels */
    struct series_t {
        const ngx_http_provision_x_cdr_counters_t *c;
        u_char labels[96];
    };

    series_t
        series[provision_x::dialect_count * NGX_HTTP_PROVISION_X_TYPE_SLOTS];
    ngx_uint_t nseries = 0;

    for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
        auto dialect = static_cast<provision_x::dialect>(d);
        ngx_uint_t n =
            ngx_http_provision_x_status_types(dialect, events, types);

        for (ngx_uint_t i = 0; i < n; i++) {
            series_t *one = &series[nseries++];

            one->c = &m->cdr[d][types[i]];
            u_char *p = ngx_sprintf(one->labels, "dialect=\"%s\"",
                                    provision_x::dialect_name(dialect));
            if (events) {
                p = ngx_sprintf(
                    p, ",type=\"%s\"",
                    ngx_http_provision_x_status_type_name(types[i]));
            }
            *p = '\0';
        }
    }

    for (const auto &metric : ngx_http_provision_x_cdr_metrics) {
        ngx_sprintf(reinterpret_cast<u_char *>(name), "%s_%s_total%Z", family,
                    metric.name);
        ngx_sprintf(reinterpret_cast<u_char *>(help), "%s %s%Z", what,
                    metric.help);
        ngx_http_provision_x_help(out, name, "counter", help);

        for (ngx_uint_t i = 0; i < nseries; i++) {
            ngx_http_provision_x_out(
                out, "provision_x_%s{%s} %uA\n", name, series[i].labels,
                ngx_http_provision_x_counter(series[i].c, metric.offset));
        }
    }

    ngx_sprintf(reinterpret_cast<u_char *>(name), "%s_hand_off_total%Z",
                family);
    ngx_sprintf(reinterpret_cast<u_char *>(help),
                "%s hand-offs to the sink by the status class of its "
                "answer.%Z",
                what);
    ngx_http_provision_x_help(out, name, "counter", help);

    for (ngx_uint_t i = 0; i < nseries; i++) {
        for (ngx_uint_t h = 0; h < NGX_HTTP_PROVISION_X_HAND_OFF_CLASSES; h++) {
            ngx_http_provision_x_out(
                out, "provision_x_%s{%s,class=\"%s\"} %uA\n", name,
                series[i].labels, ngx_http_provision_x_status_classes[h],
                series[i].c->hand_off[h]);
        }
    }
}

/* One dialect's control answers by outcome: Prometheus series or the
 * members of a JSON object.  SMS have no landline outcome. */
static void
ngx_http_provision_x_status_outcomes(ngx_http_provision_x_out_t *out,
                                     const char *metric, const char *dialect,
                                     const ngx_atomic_t *counts,
                                     bool sms) noexcept
{
    const char *sep = "";

    for (ngx_uint_t k = 0; k < NGX_HTTP_PROVISION_X_CC_OUTCOMES; k++) {
        const ngx_str_t *outcome = &ngx_http_provision_x_cc_outcome_names[k];

        if (sms && k == NGX_HTTP_PROVISION_X_CC_LANDLINE) {
            continue;
        }

        if (out->prometheus) {
            ngx_http_provision_x_out(out,
                                     "provision_x_%s{dialect=\"%s\","
                                     "outcome=\"%V\"} %uA\n",
                                     metric, dialect, outcome, counts[k]);
        } else {
            ngx_http_provision_x_out(out, "%s\"%V\":%uA", sep, outcome,
                                     counts[k]);
            sep = ",";
        }
    }
}

static void
ngx_http_provision_x_status_call_control(
    ngx_http_provision_x_out_t *out,
    ngx_http_provision_x_metrics_sh_t *m) noexcept
{
    static const char metric[] = "call_control_total";

    if (out->prometheus) {
        ngx_http_provision_x_help(out, metric, "counter",
                                  "Call-control queries by how they were "
                                  "answered (relayed or the gateway's own).");
    } else {
        ngx_http_provision_x_out(out, ",\"call_control\":{");
    }

    for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
        const char *dialect =
            provision_x::dialect_name(static_cast<provision_x::dialect>(d));

        if (!out->prometheus) {
            ngx_http_provision_x_out(out, "%s\"%s\":{", d > 1 ? "," : "",
                                     dialect);
        }

        ngx_http_provision_x_status_outcomes(out, metric, dialect,
                                             m->call_control[d], false);

        if (!out->prometheus) {
            ngx_http_provision_x_out(out, "}");
        }
    }

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, "}");
    }
}

/* Huawei's SMS Block mode (provision_x_sms_control), by outcome. */
static void
ngx_http_provision_x_status_sms_control(
    ngx_http_provision_x_out_t *out,
    ngx_http_provision_x_metrics_sh_t *m) noexcept
{
    static const char metric[] = "sms_control_total";

    if (out->prometheus) {
        ngx_http_provision_x_help(out, metric, "counter",
                                  "Huawei SMS Block-mode pushes by how they "
                                  "were answered (relayed or the gateway's "
                                  "own).");
    } else {
        ngx_http_provision_x_out(out, ",\"sms_control\":{\"huawei\":{");
    }

    ngx_http_provision_x_status_outcomes(out, metric, "huawei", m->sms_control,
                                         true);

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, "}}");
    }
}

/* A bucket's bound in seconds, as Prometheus and JSON write it: "0.025". */
static u_char *
ngx_http_provision_x_le(u_char *buf, ngx_msec_t ms) noexcept
{
    u_char *p = ngx_sprintf(buf, "%M.%03M", ms / 1000, ms % 1000);

    while (p[-1] == '0') {
        p--;
    }

    if (p[-1] == '.') {
        p--;
    }

    *p = '\0';

    return buf;
}

/* One histogram: Prometheus series under labels, or a JSON object. */
static void
ngx_http_provision_x_status_histogram(
    ngx_http_provision_x_out_t *out, const char *name, const char *labels,
    const ngx_http_provision_x_latency_t *h) noexcept
{
    ngx_atomic_uint_t cumulative = 0;
    u_char le[NGX_INT_T_LEN + 8];

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, "{\"buckets\":[");
    }

    for (ngx_uint_t i = 0; i < NGX_HTTP_PROVISION_X_LATENCY_BOUNDS; i++) {
        cumulative += h->bucket[i];

        if (out->prometheus) {
            ngx_http_provision_x_out(
                out, "provision_x_%s_bucket{%s,le=\"%s\"} %uA\n", name, labels,
                ngx_http_provision_x_le(le,
                                        ngx_http_provision_x_latency_bounds[i]),
                cumulative);
        } else {
            ngx_http_provision_x_out(out, "%s%uA", i ? "," : "", cumulative);
        }
    }

    cumulative += h->bucket[NGX_HTTP_PROVISION_X_LATENCY_BOUNDS];
    ngx_atomic_uint_t sum = h->sum_ms;

    if (out->prometheus) {
        ngx_http_provision_x_out(out,
                                 "provision_x_%s_bucket{%s,le=\"+Inf\"} %uA\n"
                                 "provision_x_%s_sum{%s} %uA.%03uA\n"
                                 "provision_x_%s_count{%s} %uA\n",
                                 name, labels, cumulative, name, labels,
                                 sum / 1000, sum % 1000, name, labels,
                                 cumulative);
    } else {
        ngx_http_provision_x_out(out, "],\"count\":%uA,\"sum\":%uA.%03uA}",
                                 cumulative, sum / 1000, sum % 1000);
    }
}

/*
 * Latency histograms: the hand-off of pushes of any type per dialect and
 * sink (the name keeps its cdr_ prefix), call control per dialect, SMS
 * control.  JSON: "latency": {"le": [bounds], "hand_off": {dialect:
 * {sink: {buckets (cumulative, one per bound), count, sum}}},
 * "call_control": {dialect: {...}}, "sms_control": {...}}.
 */
static void
ngx_http_provision_x_status_latency(
    ngx_http_provision_x_out_t *out,
    ngx_http_provision_x_metrics_sh_t *m) noexcept
{
    static const char hand_off[] = "cdr_hand_off_duration_seconds";
    static const char call_control[] = "call_control_duration_seconds";
    static const char sms_control[] = "sms_control_duration_seconds";
    char labels[64] = "";

    if (out->prometheus) {
        ngx_http_provision_x_help(out, hand_off, "histogram",
                                  "Seconds from the start of a hand-off "
                                  "(CDRs and every other push type) to the "
                                  "sink's answer, by dialect and sink.");
    } else {
        u_char le[NGX_INT_T_LEN + 8];

        ngx_http_provision_x_out(out, ",\"latency\":{\"le\":[");

        for (ngx_uint_t i = 0; i < NGX_HTTP_PROVISION_X_LATENCY_BOUNDS; i++) {
            ngx_http_provision_x_out(
                out, "%s%s", i ? "," : "",
                ngx_http_provision_x_le(
                    le, ngx_http_provision_x_latency_bounds[i]));
        }

        ngx_http_provision_x_out(out, "],\"hand_off\":{");
    }

    for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
        const char *dialect =
            provision_x::dialect_name(static_cast<provision_x::dialect>(d));

        if (!out->prometheus) {
            ngx_http_provision_x_out(out, "%s\"%s\":{", d > 1 ? "," : "",
                                     dialect);
        }

        for (ngx_uint_t k = 0; k < NGX_HTTP_PROVISION_X_SINKS; k++) {
            const char *sink = ngx_http_provision_x_sink_names[k];

            if (out->prometheus) {
                ngx_sprintf(reinterpret_cast<u_char *>(labels),
                            "dialect=\"%s\",sink=\"%s\"%Z", dialect, sink);
            } else {
                ngx_http_provision_x_out(out, "%s\"%s\":", k ? "," : "", sink);
            }

            ngx_http_provision_x_status_histogram(out, hand_off, labels,
                                                  &m->hand_off_latency[d][k]);
        }

        if (!out->prometheus) {
            ngx_http_provision_x_out(out, "}");
        }
    }

    if (out->prometheus) {
        ngx_http_provision_x_help(out, call_control, "histogram",
                                  "Seconds from a call-control query's "
                                  "arrival to its answer, relayed or the "
                                  "gateway's own.");
    } else {
        ngx_http_provision_x_out(out, "},\"call_control\":{");
    }

    for (ngx_uint_t d = 1; d < provision_x::dialect_count; d++) {
        const char *dialect =
            provision_x::dialect_name(static_cast<provision_x::dialect>(d));

        if (out->prometheus) {
            ngx_sprintf(reinterpret_cast<u_char *>(labels), "dialect=\"%s\"%Z",
                        dialect);
        } else {
            ngx_http_provision_x_out(out, "%s\"%s\":", d > 1 ? "," : "",
                                     dialect);
        }

        ngx_http_provision_x_status_histogram(out, call_control, labels,
                                              &m->call_control_latency[d]);
    }

    if (out->prometheus) {
        ngx_http_provision_x_help(out, sms_control, "histogram",
                                  "Seconds from a Huawei SMS Block-mode "
                                  "push's arrival to its answer, relayed or "
                                  "the gateway's own.");
        ngx_sprintf(reinterpret_cast<u_char *>(labels), "dialect=\"huawei\"%Z");
    } else {
        ngx_http_provision_x_out(out, "},\"sms_control\":");
    }

    ngx_http_provision_x_status_histogram(out, sms_control, labels,
                                          &m->sms_control_latency);

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, "}");
    }
}

/* Every target the zone knows, each outcome, zeros included: a target
 * that never answers is as telling as one that fails.  Nothing at all
 * where no target was ever configured (the endpoint needs one). */
static void
ngx_http_provision_x_status_interface(
    ngx_http_provision_x_out_t *out,
    ngx_http_provision_x_metrics_sh_t *m) noexcept
{
    if (m->targets == 0) {
        return;
    }

    if (out->prometheus) {
        ngx_http_provision_x_help(out, "interface_calls_total", "counter",
                                  "Calls of the interface endpoint by "
                                  "platform target (\"\": refused before "
                                  "one was known) and outcome.");
    } else {
        ngx_http_provision_x_out(out, ",\"interface\":[");
    }

    for (ngx_uint_t t = 0; t <= m->targets; t++) {
        ngx_str_t target = ngx_http_provision_x_escaped(out, m->target_name[t],
                                                        m->target_name_len[t]);

        if (!out->prometheus) {
            ngx_http_provision_x_out(out, "%s{\"target\":\"%V\"", t ? "," : "",
                                     &target);
        }

        for (ngx_uint_t k = 0; k < NGX_HTTP_PROVISION_X_INTERFACE_OUTCOMES; k++)
        {
            const char *outcome =
                provision_x::name_of(
                    static_cast<provision_x::interface_outcome>(k))
                    .data();
            ngx_atomic_uint_t n = m->interface[t][k];

            if (out->prometheus) {
                ngx_http_provision_x_out(
                    out,
                    "provision_x_interface_calls_total{target=\"%V\","
                    "outcome=\"%s\"} %uA\n",
                    &target, outcome, n);
            } else {
                ngx_http_provision_x_out(out, ",\"%s\":%uA", outcome, n);
            }
        }

        if (!out->prometheus) {
            ngx_http_provision_x_out(out, "}");
        }
    }

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, "]");
    }
}

static void
ngx_http_provision_x_status_queues(ngx_http_provision_x_out_t *out) noexcept
{
    struct gauge {
        const char *name;
        const char *type;
        const char *help;
    };

    static const gauge gauges[] = {
        {"queue_enqueued_total", "counter", "Records enqueued."},
        {"queue_leased_total", "counter", "Records handed out under a lease."},
        {"queue_acknowledged_total", "counter",
         "Records deleted by a consumer's acknowledgement."},
        {"queue_redelivered_total", "counter",
         "Records visible again after their lease expired."},
        {"queue_refused_full_total", "counter",
         "Pushes refused because the queue was full."},
        {"queue_depth", "gauge", "Records in the queue, leased or not."},
        {"queue_leased", "gauge", "Records under an unexpired lease."},
        {"queue_bytes_used", "gauge", "Bytes of the zone in use."},
        {"queue_bytes_free", "gauge", "Bytes of the zone free."},
        {"queue_oldest_age_seconds", "gauge",
         "Age of the oldest record in the queue."},
    };

    ngx_uint_t n = 0;
    ngx_http_provision_x_queue_stats_t stats[16];
    ngx_str_t names[16];

    ngx_http_provision_x_zone_iter_t it;

    ngx_http_provision_x_zones_begin(&it, const_cast<ngx_cycle_t *>(ngx_cycle),
                                     &ngx_http_provision_x_queue_module);

    while (n < 16) {
        ngx_shm_zone_t *shm = ngx_http_provision_x_zones_next(&it);

        if (shm == NULL) {
            break;
        }

        ngx_http_provision_x_queue_stats(shm, &stats[n]);
        names[n] = ngx_http_provision_x_escaped(out, shm->shm.name.data,
                                                shm->shm.name.len);
        n++;
    }

    if (!out->prometheus) {
        ngx_http_provision_x_out(out, ",\"queues\":[");

        for (ngx_uint_t q = 0; q < n; q++) {
            ngx_http_provision_x_queue_stats_t *st = &stats[q];

            ngx_http_provision_x_out(
                out,
                "%s{\"zone\":\"%V\",\"enqueued\":%uL,\"leased_total\":%uL,"
                "\"acknowledged\":%uL,\"redelivered\":%uL,"
                "\"refused_full\":%uL,\"depth\":%ui,\"leased\":%ui,"
                "\"bytes_used\":%uz,\"bytes_free\":%uz,"
                "\"oldest_age\":%T}",
                q ? "," : "", &names[q], st->enqueued, st->leased_total,
                st->acknowledged, st->redelivered, st->refused_full, st->depth,
                st->leased, st->bytes_used, st->bytes_free, st->oldest_age);
        }

        ngx_http_provision_x_out(out, "]");
        return;
    }

    for (ngx_uint_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
        ngx_http_provision_x_help(out, gauges[g].name, gauges[g].type,
                                  gauges[g].help);

        for (ngx_uint_t q = 0; q < n; q++) {
            ngx_http_provision_x_queue_stats_t *st = &stats[q];
            uint64_t values[] = {
                st->enqueued,     st->leased_total,
                st->acknowledged, st->redelivered,
                st->refused_full, st->depth,
                st->leased,       st->bytes_used,
                st->bytes_free,   static_cast<uint64_t>(st->oldest_age)};

            ngx_http_provision_x_out(out, "provision_x_%s{zone=\"%V\"} %uL\n",
                                     gauges[g].name, &names[q], values[g]);
        }
    }
}

/* What the status page says of a nonce or dedup zone. */
struct ngx_http_provision_x_zone_view_t {
    ngx_str_t name;
    const char *kind;
    size_t size;
    ngx_uint_t max_share;
    provision_x::seen_stats st;
};

static ngx_uint_t
ngx_http_provision_x_zone_views(
    ngx_http_provision_x_out_t *out,
    ngx_http_provision_x_zone_view_t **views) noexcept
{
    ngx_http_provision_x_zone_iter_t it;
    ngx_uint_t n = 0;

    ngx_http_provision_x_zones_begin(&it, const_cast<ngx_cycle_t *>(ngx_cycle),
                                     &ngx_http_provision_x_module);

    while (ngx_http_provision_x_zones_next(&it)) {
        n++;
    }

    *views = static_cast<ngx_http_provision_x_zone_view_t *>(
        ngx_palloc(out->r->pool, (n ? n : 1) * sizeof(**views)));
    if (*views == NULL) {
        out->failed = true;
        return 0;
    }

    ngx_uint_t i = 0;

    ngx_http_provision_x_zones_begin(&it, const_cast<ngx_cycle_t *>(ngx_cycle),
                                     &ngx_http_provision_x_module);

    while (ngx_shm_zone_t *shm = ngx_http_provision_x_zones_next(&it)) {
        auto *ctx = static_cast<ngx_http_provision_x_seen_ctx_t *>(shm->data);

        if (ctx == NULL || ctx->sh == NULL) {
            continue;
        }

        ngx_http_provision_x_zone_view_t *z = &(*views)[i++];

        z->name = ngx_http_provision_x_escaped(out, shm->shm.name.data,
                                               shm->shm.name.len);
        z->kind =
            (ctx->kind == NGX_HTTP_PROVISION_X_ZONE_NONCE) ? "nonce" : "dedup";
        z->size = shm->shm.size;
        z->max_share = ctx->max_share;
        ngx_http_provision_x_seen_stats(ctx, &z->st);
    }

    return i;
}

static double
ngx_http_provision_x_fill(const provision_x::seen_stats *st) noexcept
{
    return st->capacity ? static_cast<double>(st->entries) / st->capacity : 0;
}

static void
ngx_http_provision_x_status_zones_json(ngx_http_provision_x_out_t *out,
                                       ngx_http_provision_x_metrics_sh_t *m,
                                       ngx_http_provision_x_zone_view_t *views,
                                       ngx_uint_t n) noexcept
{
    ngx_http_provision_x_out(out, ",\"zones\":[");

    for (ngx_uint_t i = 0; i < n; i++) {
        ngx_http_provision_x_zone_view_t *z = &views[i];

        ngx_http_provision_x_out(
            out,
            "%s{\"zone\":\"%V\",\"kind\":\"%s\",\"size\":%uz,"
            "\"entries\":%uL,\"capacity\":%uL,\"fill\":%.3f,"
            "\"max_share\":%ui,\"refused_full\":%uL,\"refused_share\":%uL,"
            "\"apps\":[",
            i ? "," : "", &z->name, z->kind, z->size, z->st.entries,
            z->st.capacity, ngx_http_provision_x_fill(&z->st), z->max_share,
            z->st.refused_full, z->st.refused_share);

        out->first_item = true;

        for (ngx_uint_t a = 0; a <= m->apps; a++) {
            if (z->st.owner_entries[a] == 0) {
                continue;
            }

            ngx_str_t app =
                ngx_http_provision_x_escaped(out, m->name[a], m->name_len[a]);

            ngx_http_provision_x_item(out);
            ngx_http_provision_x_out(out, "{\"app\":\"%V\",\"entries\":%uL}",
                                     &app, z->st.owner_entries[a]);
        }

        ngx_http_provision_x_out(out, "]}");
    }

    ngx_http_provision_x_out(out, "]");
}

static void
ngx_http_provision_x_status_zones_prometheus(
    ngx_http_provision_x_out_t *out, ngx_http_provision_x_metrics_sh_t *m,
    ngx_http_provision_x_zone_view_t *views, ngx_uint_t n) noexcept
{
    static const struct {
        const char *name;
        const char *type;
        const char *help;
    } metrics[] = {
        {"zone_entries", "gauge", "Live entries in a nonce or dedup zone."},
        {"zone_size_bytes", "gauge", "Bytes of a nonce or dedup zone."},
        {"zone_capacity", "gauge", "Entries a nonce or dedup zone can hold."},
        {"zone_fill_ratio", "gauge", "Live entries over capacity."},
        {"zone_refused_full_total", "counter",
         "Entries refused because the zone was full."},
        {"zone_refused_share_total", "counter",
         "Entries refused because their app held its share of the zone."},
    };

    for (ngx_uint_t k = 0; k < sizeof(metrics) / sizeof(metrics[0]); k++) {
        ngx_http_provision_x_help(out, metrics[k].name, metrics[k].type,
                                  metrics[k].help);

        for (ngx_uint_t i = 0; i < n; i++) {
            ngx_http_provision_x_zone_view_t *z = &views[i];
            uint64_t values[] = {z->st.entries,      z->size,
                                 z->st.capacity,     0,
                                 z->st.refused_full, z->st.refused_share};

            ngx_http_provision_x_out(out,
                                     "provision_x_%s{zone=\"%V\",kind=\"%s\"} ",
                                     metrics[k].name, &z->name, z->kind);

            if (k == 3) {
                ngx_http_provision_x_out(out, "%.3f\n",
                                         ngx_http_provision_x_fill(&z->st));
            } else {
                ngx_http_provision_x_out(out, "%uL\n", values[k]);
            }
        }
    }

    ngx_http_provision_x_help(out, "zone_app_entries", "gauge",
                              "Live entries of one app in a nonce or dedup "
                              "zone.");

    for (ngx_uint_t i = 0; i < n; i++) {
        ngx_http_provision_x_zone_view_t *z = &views[i];

        for (ngx_uint_t a = 0; a <= m->apps; a++) {
            if (z->st.owner_entries[a] == 0) {
                continue;
            }

            ngx_str_t app =
                ngx_http_provision_x_escaped(out, m->name[a], m->name_len[a]);

            ngx_http_provision_x_out(
                out,
                "provision_x_zone_app_entries{zone=\"%V\",kind=\"%s\","
                "app=\"%V\"} %uL\n",
                &z->name, z->kind, &app, z->st.owner_entries[a]);
        }
    }
}

static void
ngx_http_provision_x_status_zones(ngx_http_provision_x_out_t *out,
                                  ngx_http_provision_x_metrics_sh_t *m) noexcept
{
    ngx_http_provision_x_zone_view_t *views;
    ngx_uint_t n = ngx_http_provision_x_zone_views(out, &views);

    if (out->prometheus) {
        ngx_http_provision_x_status_zones_prometheus(out, m, views, n);
    } else {
        ngx_http_provision_x_status_zones_json(out, m, views, n);
    }
}

static bool
ngx_http_provision_x_wants_prometheus(ngx_http_request_t *r) noexcept
{
    ngx_str_t format;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        return format.len == 10
               && ngx_strncmp(format.data, "prometheus", 10) == 0;
    }

    /* Prometheus scrapers ask for text/plain or its openmetrics variant */
    ngx_table_elt_t *accept = r->headers_in.accept;

    return accept != NULL
           && ngx_strlcasestrn(accept->value.data,
                               accept->value.data + accept->value.len,
                               (u_char *) "text/plain", 10 - 1)
                  != NULL;
}

static ngx_int_t
ngx_http_provision_x_status_handler(ngx_http_request_t *r) noexcept
{
    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    /* the page holds no data; it asks for the key to poll with */
    if (ngx_http_provision_x_status_wants_page(r)) {
        return ngx_http_provision_x_status_page(r);
    }

    if (ngx_http_provision_x_api_key_check(r) != NGX_OK) {
        return ngx_http_provision_x_send_envelope_error(
            r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
            "a valid API key is required");
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_provision_x_metrics_sh_t *m = ngx_http_provision_x_metrics;

    if (m == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_http_provision_x_out_t out;
    ngx_memzero(&out, sizeof(out));
    out.r = r;
    out.prometheus = ngx_http_provision_x_wants_prometheus(r);

    if (!out.prometheus) {
        ngx_http_provision_x_out(&out, "{");
    }

    ngx_http_provision_x_status_build(&out);
    ngx_http_provision_x_status_verify(&out, m);
    ngx_http_provision_x_status_pushes(&out, m, false);
    ngx_http_provision_x_status_pushes(&out, m, true);
    ngx_http_provision_x_status_call_control(&out, m);
    ngx_http_provision_x_status_sms_control(&out, m);
    ngx_http_provision_x_status_latency(&out, m);
    ngx_http_provision_x_status_interface(&out, m);
    ngx_http_provision_x_status_queues(&out);
    ngx_http_provision_x_status_zones(&out, m);

    if (!out.prometheus) {
        ngx_http_provision_x_out(&out, "}\n");
    }

    if (out.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    static const ngx_str_t prometheus_type =
        ngx_string("text/plain; version=0.0.4; charset=utf-8");

    if (ngx_http_provision_x_status_vary(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_provision_x_send(
        r, NGX_HTTP_OK,
        out.prometheus ? &prometheus_type : &ngx_http_provision_x_json_type,
        out.first);
}

char *
ngx_http_provision_x_status(ngx_conf_t *cf, ngx_command_t *cmd,
                            void *conf) noexcept
{
    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    clcf->handler = ngx_http_provision_x_status_handler;

    ngx_http_provision_x_api_keys_needed(cf);

    return NGX_CONF_OK;
}
