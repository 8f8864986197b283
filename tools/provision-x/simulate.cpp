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
        if (item.empty() || *end != '\0' || !(v >= 0 && v <= 100000) ||
            (!out.empty() && v < out.back())) {
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
    bool ok = root != nullptr && json_is_object(root) &&
              json_is_number(json_object_get(root, "code"));
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

    std::string dialect = o.choice("dialect", "", {"huawei", "aliyun"});
    http_url url = parse_http_url(o.require("url"));
    bool huawei = dialect == "huawei";
    provision_x::dialect which =
        huawei ? provision_x::dialect::huawei : provision_x::dialect::aliyun;
    std::string type_name = o.get("type", huawei ? "fee" : "SecretReport");
    push_type type = push_type::cdr;
    if (type_name != (huawei ? "fee" : "SecretReport") &&
        !push_type_from_name(which, type_name, &type)) {
        throw usage_error("--type " + type_name + " is no " + dialect +
                          " push type (see --help)");
    }
    std::string app = o.get("app", huawei ? "demo-huawei" : "demo-aliyun");
    std::string secret;
    if (huawei) {
        secret = read_secret(o.require("secret-file"));
    } else if (o.has("secret-file")) {
        throw usage_error("aliyun receipt pushes are not signed; "
                          "drop --secret-file");
    }
    long records = o.number("records", 100, 1, 1000000);
    // the most one push of the type holds (§3.3-§3.6, §2.6)
    long most = static_cast<long>(cdr_max_records(which, type, {}));
    long batch = o.number("batch", std::min(most, 50L), 1, most);
    double scale = o.real("time-scale", 600, 1e-3, 1e9);
    std::vector<double> offsets =
        retry_offsets(o.has("schedule") ? parse_schedule(o.get("schedule", ""))
                                        : vendor_schedule(dialect),
                      scale);
    double max_seconds = o.real("max-seconds", 60, 0.1, 86400 * 7);
    http_client_options copt;
    copt.timeout = o.real("timeout", 5, 0.01, 600);
    copt.allow_remote = o.has("allow-remote");
    copt.insecure = o.has("insecure");
    copt.cacert = o.get("cacert", "");
    if ((copt.insecure || !copt.cacert.empty()) && !url.tls) {
        throw usage_error("--insecure and --cacert are for https:// URLs");
    }
    if (copt.insecure && !copt.cacert.empty()) {
        throw usage_error("--insecure and --cacert exclude each other");
    }
    std::uint64_t seed = static_cast<std::uint64_t>(
        o.number("seed", static_cast<long long>(now_epoch()), 0, (1LL << 62)));
    bool verbose = o.has("verbose");

    // Generate and merge.
    sample_rng r(seed);
    std::string run = std::to_string(seed);
    std::int64_t now = now_epoch();
    std::vector<push> pushes;
    for (long i = 0; i < records;) {
        long n = std::min<long>(records - i, 1 + r() % batch);
        push p;
        p.records = n;
        std::vector<std::string> list;
        for (long k = 0; k < n; k++, i++) {
            list.push_back(push_record(r, which, type, app, run, i + 1, now));
        }
        p.body = push_body(which, type, app, list);
        pushes.push_back(std::move(p));
    }

    using clock_type = std::chrono::steady_clock;
    auto start = clock_type::now();
    auto elapsed = [&] {
        return std::chrono::duration<double>(clock_type::now() - start).count();
    };

    auto later = [&](std::size_t a, std::size_t b) {
        return pushes[a].due > pushes[b].due ||
               (pushes[a].due == pushes[b].due && a > b);
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)>
        queue(later);
    for (std::size_t i = 0; i < pushes.size(); i++) {
        queue.push(i);
    }

    long attempts = 0, retries = 0, acked = 0, given_up = 0;
    long pushes_given_up = 0;
    std::vector<double> latencies;
    std::map<std::string, long> failures;
    bool deadline_hit = false;

    while (!queue.empty()) {
        std::size_t i = queue.top();
        push &p = pushes[i];
        if (p.due > max_seconds) {
            deadline_hit = true;
            break;
        }
        double wait = p.due - elapsed();
        if (wait > 0) {
            std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        }
        if (elapsed() > max_seconds) {
            deadline_hit = true;
            break;
        }
        queue.pop();

        std::vector<std::pair<std::string, std::string>> headers;
        headers.emplace_back("Content-Type", "application/json;charset=UTF-8");
        if (huawei) {
            std::string authorization, x_aksk;
            sig_error e = build_aksk_headers(app, secret, fresh_nonce(),
                                             utc_text(now_epoch()),
                                             authorization, x_aksk);
            if (e == sig_error::bad_input) {
                throw usage_error("--app is not a valid Huawei app key");
            }
            if (e != sig_error::ok) {
                throw io_error("signing failed");
            }
            headers.emplace_back("Authorization", authorization);
            headers.emplace_back("X-AKSK", x_aksk);
        }

        if (p.attempts > 0) {
            retries++;
        }
        p.attempts++;
        attempts++;
        http_response res = http_send(url, "POST", headers, p.body, copt);
        if (res.status != 0) {
            latencies.push_back(res.seconds);
        }
        bool ok = acknowledged(dialect, res);
        std::string outcome =
            res.status ? "HTTP " + std::to_string(res.status) : res.error;
        if (verbose) {
            std::cout << "push " << i + 1 << " attempt " << p.attempts << ": "
                      << p.records << " records, " << outcome
                      << (res.status ? ", " + ms(res.seconds) : "") << "\n";
        }
        if (ok) {
            acked += p.records;
            continue;
        }
        failures[outcome]++;
        double t = elapsed();
        if (p.first_failure < 0) {
            p.first_failure = t;
        }
        std::size_t retry = static_cast<std::size_t>(p.attempts - 1);
        if (retry < offsets.size()) {
            p.due = p.first_failure + offsets[retry];
            queue.push(i);
        } else {
            given_up += p.records;
            pushes_given_up++;
        }
    }

    long pending = records - acked - given_up;
    std::cout << "dialect: " << dialect << "\n"
              << "type: " << push_type_name(type) << "\n"
              << "pushes: " << pushes.size() << " (attempts " << attempts
              << ")\n"
              << "records: " << records << "\n"
              << "acknowledged: " << acked << "\n"
              << "retries: " << retries << "\n"
              << "given up: " << given_up << " (" << pushes_given_up
              << " pushes)\n"
              << "pending at deadline: " << pending
              << (deadline_hit ? " (--max-seconds reached)" : "") << "\n";
    for (const auto &f : failures) {
        std::cout << "failed attempts: " << f.second << " x " << f.first
                  << "\n";
    }
    std::cout << "latency: p50 " << ms(percentile(latencies, 50)) << ", p99 "
              << ms(percentile(latencies, 99)) << ", max "
              << ms(percentile(latencies, 100)) << "\n"
              << "elapsed: " << ms(elapsed()) << "\n";
    return acked == records ? exit_ok : exit_failure;
}

} // namespace provision_x::cli
