#include "simulate.hpp"
#include "args.hpp"
#include "http_client.hpp"
#include "io.hpp"
#include "sample.hpp"

#include "core/cdr.hpp"
#include "core/signature.hpp"

#include <jansson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <queue>
#include <random>
#include <sstream>
#include <thread>

namespace provision_x::cli {

const char simulate_help[] =
    "usage: provision-x simulate --dialect huawei|aliyun --url URL\n"
    "                            [--type TYPE] [--app NAME]\n"
    "                            [--secret-file FILE] [...]\n"
    "\n"
    "Acts as the platform: generates records of one push type (CDRs by\n"
    "default: Huawei FeeInfo, Aliyun SecretReport), merges them into\n"
    "pushes, signs every attempt afresh (huawei) and retries\n"
    "unacknowledged pushes on the vendor's schedule (huawei 1, 4, 9, 106,\n"
    "203, 300 min; aliyun 1, 5, 10 min after the first failure),\n"
    "compressed by --time-scale.  Prints a summary.\n"
    "\n"
    "  --type TYPE         huawei: fee (default), callin, callout,\n"
    "                      alerting, answer, disconnect (call events, one\n"
    "                      per push), numStatus (up to 100 per push),\n"
    "                      smsEvent (one per push); aliyun: SecretReport\n"
    "                      (default), SecretStartReport, SecretRingReport,\n"
    "                      SecretRecording, NumberManagementReport\n"
    "  --url URL           http://host:port/path or https://... of the\n"
    "                      gateway (loopback only unless --allow-remote)\n"
    "  --cacert FILE       https: trust the CA certificates in FILE (PEM)\n"
    "                      instead of the system's\n"
    "  --insecure          https: do not verify the gateway's certificate\n"
    "  --app NAME          huawei: app key (Username, appKey);\n"
    "                      aliyun: pool_key (default demo-huawei /\n"
    "                      demo-aliyun)\n"
    "  --secret-file FILE  huawei: the app's secret (required)\n"
    "  --records N         CDRs to deliver (default 100)\n"
    "  --batch N           at most N per push (default and maximum the\n"
    "                      type's: fee 50, numStatus 100, the other\n"
    "                      Huawei events 1, aliyun 1000, default 50);\n"
    "                      sizes vary from 1 to N\n"
    "  --time-scale F      schedule divided by F (default 600: 1 min ->\n"
    "                      0.1 s)\n"
    "  --schedule LIST     retry offsets in minutes, e.g. 1,4,9 (default\n"
    "                      the vendor's)\n"
    "  --max-seconds S     stop after S seconds (default 60); records\n"
    "                      still pending count as not acknowledged\n"
    "  --timeout S         per attempt (default 5; the platform's own\n"
    "                      deadline is 0.7 s for aliyun)\n"
    "  --seed N            generator seed (default: the time)\n"
    "  --allow-remote      allow a non-loopback target\n"
    "  --verbose           one line per attempt\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit: 0 every record acknowledged, 1 records given up or pending,\n"
    "2 usage error, 3 I/O error.\n";

std::vector<double>
vendor_schedule(const std::string &dialect)
{
    if (dialect == "huawei") {
        return {1, 4, 9, 106, 203, 300};
    }
    return {1, 5, 10};
}

std::vector<double>
parse_schedule(const std::string &text)
{
    std::vector<double> out;
    if (text.empty() || text == "none") {
        return out;
    }
    std::stringstream s(text);
    std::string item;
    while (std::getline(s, item, ',')) {
        char *end = nullptr;
        double v = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !(v >= 0 && v <= 100000)
            || (!out.empty() && v < out.back()))
        {
            throw usage_error("--schedule wants ascending minutes, e.g. "
                              "1,4,9 (or none)");
        }
        out.push_back(v);
    }
    return out;
}

std::vector<double>
retry_offsets(const std::vector<double> &minutes, double time_scale)
{
    std::vector<double> out;
    for (double m : minutes) {
        out.push_back(m * 60.0 / time_scale);
    }
    return out;
}

double
percentile(std::vector<double> v, double p)
{
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * v.size()));
    return v[rank == 0 ? 0 : std::min(rank, v.size()) - 1];
}

namespace {

struct push {
    std::string body;
    long records = 0;
    int attempts = 0;
    double first_failure = -1;
    double due = 0;
};

// Aliyun: HTTP 200 and a JSON body whose "code" is a number (§2.6).
// Huawei: HTTP 200 (§3.4).
bool
acknowledged(const std::string &dialect, const http_response &res)
{
    if (res.status != 200) {
        return false;
    }
    if (dialect != "aliyun") {
        return true;
    }
    json_t *root = json_loadb(res.body.data(), res.body.size(), 0, nullptr);
    bool ok = root != nullptr && json_is_object(root)
              && json_is_number(json_object_get(root, "code"));
    json_decref(root);
    return ok;
}

std::string
ms(double seconds)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f ms", seconds * 1e3);
    return buf;
}

// What a run is asked to do, as read from the command line.
struct simulation {
    std::string dialect_name;
    provision_x::dialect dialect = provision_x::dialect::huawei;
    push_type type = push_type::cdr;
    http_url url;
    std::string app;
    std::string secret;
    long records = 0;
    long batch = 0;
    std::vector<double> offsets; // retry offsets, seconds after a failure
    double max_seconds = 0;
    http_client_options client;
    std::uint64_t seed = 0;
    bool verbose = false;
};

simulation
read_simulation(const options &o)
{
    simulation s;
    s.dialect_name = o.choice("dialect", "", {"huawei", "aliyun"});
    s.url = parse_http_url(o.require("url"));
    bool huawei = s.dialect_name == "huawei";
    s.dialect =
        huawei ? provision_x::dialect::huawei : provision_x::dialect::aliyun;
    std::string cdr_name = huawei ? "fee" : "SecretReport";
    std::string type_name = o.get("type", cdr_name);
    if (type_name != cdr_name
        && !push_type_from_name(s.dialect, type_name, &s.type))
    {
        throw usage_error("--type " + type_name + " is no " + s.dialect_name
                          + " push type (see --help)");
    }
    s.app = o.get("app", huawei ? "demo-huawei" : "demo-aliyun");
    if (huawei) {
        s.secret = read_secret(o.require("secret-file"));
    } else if (o.has("secret-file")) {
        throw usage_error("aliyun receipt pushes are not signed; "
                          "drop --secret-file");
    }
    s.records = o.number("records", 100, 1, 1000000);
    // the most one push of the type holds (§3.3-§3.6, §2.6)
    long most = static_cast<long>(cdr_max_records(s.dialect, s.type, {}));
    s.batch = o.number("batch", std::min(most, 50L), 1, most);
    double scale = o.real("time-scale", 600, 1e-3, 1e9);
    s.offsets =
        retry_offsets(o.has("schedule") ? parse_schedule(o.get("schedule", ""))
                                        : vendor_schedule(s.dialect_name),
                      scale);
    s.max_seconds = o.real("max-seconds", 60, 0.1, 86400 * 7);
    s.client.timeout = o.real("timeout", 5, 0.01, 600);
    s.client.allow_remote = o.has("allow-remote");
    s.client.insecure = o.has("insecure");
    s.client.cacert = o.get("cacert", "");
    if ((s.client.insecure || !s.client.cacert.empty()) && !s.url.tls) {
        throw usage_error("--insecure and --cacert are for https:// URLs");
    }
    if (s.client.insecure && !s.client.cacert.empty()) {
        throw usage_error("--insecure and --cacert exclude each other");
    }
    s.seed = static_cast<std::uint64_t>(
        o.number("seed", static_cast<long long>(now_epoch()), 0, (1LL << 62)));
    s.verbose = o.has("verbose");
    return s;
}

// The records merged into pushes of 1 to --batch records each.
std::vector<push>
generate_pushes(const simulation &s)
{
    sample_rng r(s.seed);
    std::string run = std::to_string(s.seed);
    std::int64_t now = now_epoch();
    std::vector<push> pushes;
    for (long i = 0; i < s.records;) {
        long n = std::min<long>(s.records - i, 1 + r() % s.batch);
        push p;
        p.records = n;
        std::vector<std::string> list;
        for (long k = 0; k < n; k++, i++) {
            list.push_back(
                push_record(r, s.dialect, s.type, s.app, run, i + 1, now));
        }
        p.body = push_body(s.dialect, s.type, s.app, list);
        pushes.push_back(std::move(p));
    }
    return pushes;
}

// Every attempt is signed afresh: a new nonce and Created (huawei).
std::vector<std::pair<std::string, std::string>>
attempt_headers(const simulation &s)
{
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("Content-Type", "application/json;charset=UTF-8");
    if (s.dialect != provision_x::dialect::huawei) {
        return headers;
    }
    std::string authorization, x_aksk;
    sig_error e =
        build_aksk_headers(s.app, s.secret, fresh_nonce(),
                           utc_text(now_epoch()), authorization, x_aksk);
    if (e == sig_error::bad_input) {
        throw usage_error("--app is not a valid Huawei app key");
    }
    if (e != sig_error::ok) {
        throw io_error("signing failed");
    }
    headers.emplace_back("Authorization", authorization);
    headers.emplace_back("X-AKSK", x_aksk);
    return headers;
}

// What the run saw, for the summary.
struct tally {
    long attempts = 0;
    long retries = 0;
    long acked = 0;
    long given_up = 0;
    long pushes_given_up = 0;
    std::vector<double> latencies;
    std::map<std::string, long> failures;
    bool deadline_hit = false;
    double elapsed = 0;
};

// Sends every push when due, retrying each unacknowledged one at the
// schedule's offsets after its first failure, until all are settled or
// --max-seconds is reached.
tally
replay(const simulation &s, std::vector<push> &pushes)
{
    using clock_type = std::chrono::steady_clock;
    auto start = clock_type::now();
    auto elapsed = [&] {
        return std::chrono::duration<double>(clock_type::now() - start).count();
    };

    auto later = [&](std::size_t a, std::size_t b) {
        return pushes[a].due > pushes[b].due
               || (pushes[a].due == pushes[b].due && a > b);
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)>
        queue(later);
    for (std::size_t i = 0; i < pushes.size(); i++) {
        queue.push(i);
    }

    tally t;
    while (!queue.empty()) {
        std::size_t i = queue.top();
        push &p = pushes[i];
        if (p.due > s.max_seconds) {
            t.deadline_hit = true;
            break;
        }
        double wait = p.due - elapsed();
        if (wait > 0) {
            std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        }
        if (elapsed() > s.max_seconds) {
            t.deadline_hit = true;
            break;
        }
        queue.pop();

        if (p.attempts > 0) {
            t.retries++;
        }
        p.attempts++;
        t.attempts++;
        http_response res =
            http_send(s.url, "POST", attempt_headers(s), p.body, s.client);
        if (res.status != 0) {
            t.latencies.push_back(res.seconds);
        }
        std::string outcome =
            res.status ? "HTTP " + std::to_string(res.status) : res.error;
        if (s.verbose) {
            std::cout << "push " << i + 1 << " attempt " << p.attempts << ": "
                      << p.records << " records, " << outcome
                      << (res.status ? ", " + ms(res.seconds) : "") << "\n";
        }
        if (acknowledged(s.dialect_name, res)) {
            t.acked += p.records;
            continue;
        }
        t.failures[outcome]++;
        if (p.first_failure < 0) {
            p.first_failure = elapsed();
        }
        std::size_t retry = static_cast<std::size_t>(p.attempts - 1);
        if (retry < s.offsets.size()) {
            p.due = p.first_failure + s.offsets[retry];
            queue.push(i);
        } else {
            t.given_up += p.records;
            t.pushes_given_up++;
        }
    }
    t.elapsed = elapsed();
    return t;
}

void
print_summary(const simulation &s, std::size_t pushes, const tally &t)
{
    long pending = s.records - t.acked - t.given_up;
    std::cout << "dialect: " << s.dialect_name << "\n"
              << "type: " << push_type_name(s.type) << "\n"
              << "pushes: " << pushes << " (attempts " << t.attempts << ")\n"
              << "records: " << s.records << "\n"
              << "acknowledged: " << t.acked << "\n"
              << "retries: " << t.retries << "\n"
              << "given up: " << t.given_up << " (" << t.pushes_given_up
              << " pushes)\n"
              << "pending at deadline: " << pending
              << (t.deadline_hit ? " (--max-seconds reached)" : "") << "\n";
    for (const auto &f : t.failures) {
        std::cout << "failed attempts: " << f.second << " x " << f.first
                  << "\n";
    }
    std::cout << "latency: p50 " << ms(percentile(t.latencies, 50)) << ", p99 "
              << ms(percentile(t.latencies, 99)) << ", max "
              << ms(percentile(t.latencies, 100)) << "\n"
              << "elapsed: " << ms(t.elapsed) << "\n";
}

} // namespace

int
run_simulate(int argc, char **argv)
{
    options o(argc, argv,
              {"dialect", "url", "app", "secret-file", "records", "batch",
               "time-scale", "schedule", "max-seconds", "timeout", "seed",
               "cacert", "type"},
              {"help", "allow-remote", "verbose", "insecure"});
    if (o.has("help")) {
        std::cout << simulate_help;
        return exit_ok;
    }
    if (!o.positional().empty()) {
        throw usage_error("unexpected argument " + o.positional().front());
    }

    simulation s = read_simulation(o);
    std::vector<push> pushes = generate_pushes(s);
    tally t = replay(s, pushes);
    print_summary(s, pushes.size(), t);
    return t.acked == s.records ? exit_ok : exit_failure;
}

} // namespace provision_x::cli
