#include "sample.hpp"

#include <cstdio>
#include <ctime>

namespace provision_x::cli {

static std::string
wall_time(std::int64_t epoch)
{
    std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

// Beijing wall time, as Aliyun's receipts write it.
static std::string
beijing_time(std::int64_t epoch)
{
    return wall_time(epoch + 8 * 3600);
}

static std::string
digits(sample_rng &r, int n)
{
    std::string s;
    for (int i = 0; i < n; i++) {
        s += static_cast<char>('0' + r() % 10);
    }
    return s;
}

static std::string
jstr(const std::string &s)
{
    // generated values are plain ASCII without quotes or backslashes
    return "\"" + s + "\"";
}

std::string
fee_info(sample_rng &r, const std::string &app, const std::string &run, long i,
         std::int64_t now)
{
    std::int64_t in = now - 600 - static_cast<std::int64_t>(r() % 3600);
    bool answered = r() % 5 != 0;
    std::int64_t alert = in + 2, answer = alert + 3 + r() % 10;
    std::int64_t end = (answered ? answer : alert) + r() % 300;
    std::string x = "+86170" + digits(r, 8);

    std::string s = "{\"direction\":" + std::to_string(r() % 2);
    s += ",\"spId\":\"sp_provision_x_sim\",\"appKey\":" + jstr(app);
    s += ",\"icid\":" + jstr("sim-" + run + "-" + std::to_string(i));
    s += ",\"bindNum\":" + jstr(x);
    s += ",\"sessionId\":"
         + jstr("1200_" + run + "_" + std::to_string(i) + "@callenabler.sim");
    s += ",\"callerNum\":" + jstr("+86138" + digits(r, 8));
    s += ",\"calleeNum\":" + jstr(x);
    s += ",\"fwdDisplayNum\":" + jstr(x);
    s += ",\"fwdDstNum\":" + jstr("+86139" + digits(r, 8));
    s += ",\"callInTime\":" + jstr(wall_time(in));
    s += ",\"fwdStartTime\":" + jstr(wall_time(in + 1));
    s += ",\"fwdAlertingTime\":" + jstr(wall_time(alert));
    if (answered) {
        s += ",\"fwdAnswerTime\":" + jstr(wall_time(answer));
    } else {
        s += ",\"fwdUnaswRsn\":19";
    }
    s += ",\"callEndTime\":" + jstr(wall_time(end));
    s += ",\"ulFailReason\":0,\"sipStatusCode\":0,\"recordFlag\":0";
    s += ",\"serviceType\":\"004\"}";
    return s;
}

std::string
secret_report(sample_rng &r, const std::string &pool, const std::string &run,
              long i, std::int64_t now)
{
    std::int64_t call = now + 8 * 3600 - 600 - r() % 3600;
    bool answered = r() % 5 != 0;
    std::int64_t ring = call + 2, start = answered ? ring + 5 : 0;
    std::int64_t release = (answered ? start : ring) + r() % 300;
    if (!answered) {
        start = release;
    }

    std::string s = "{\"id\":" + std::to_string(1000000 + i);
    s += ",\"pool_key\":" + jstr(pool);
    s += ",\"sub_id\":" + std::to_string(100000 + r() % 900000);
    s += ",\"call_id\":" + jstr("sim-" + run + "-" + std::to_string(i));
    s += ",\"phone_no\":" + jstr("138" + digits(r, 8));
    s += ",\"secret_no\":" + jstr("170" + digits(r, 8));
    s += ",\"peer_no\":" + jstr("139" + digits(r, 8));
    s += ",\"call_type\":" + std::to_string(r() % 2);
    s += ",\"call_time\":" + jstr(wall_time(call));
    s += ",\"call_out_time\":" + jstr(wall_time(call + 1));
    s += ",\"ring_time\":" + jstr(wall_time(ring));
    s += ",\"free_ring_time\":" + jstr(wall_time(ring));
    s += ",\"start_time\":" + jstr(wall_time(start));
    s += ",\"release_time\":" + jstr(wall_time(release));
    s += ",\"release_dir\":" + std::to_string(1 + r() % 2);
    s += ",\"release_cause\":" + std::string(answered ? "16" : "19");
    s += ",\"unconnected_cause\":0";
    s += ",\"control_type\":\"CONTINUE\",\"control_msg\":\"OK\"}";
    return s;
}

// A decimal of exactly n digits from i (the low digits), for numbers.
static std::string
padded(long i, int n)
{
    std::string s = std::to_string(i);
    return s.size() >= static_cast<size_t>(n)
               ? s.substr(s.size() - n)
               : std::string(n - s.size(), '0') + s;
}

static std::string
huawei_event(sample_rng &r, push_type type, const std::string &run, long i,
             std::int64_t now)
{
    std::int64_t at = now - static_cast<std::int64_t>(r() % 600);

    if (type == push_type::num_status) {
        // §3.5: 5 normal, 9 paused, 10 unavailable (with a cause), 11 frozen
        static const char *const statuses[] = {"5", "9", "10", "11"};
        std::string status = statuses[r() % 4];
        std::string s = "{\"number\":" + jstr("+86170" + padded(i, 8))
                        + ",\"status\":" + jstr(status);
        if (status == "10") {
            s += ",\"cause\":" + jstr(std::to_string(1 + r() % 3));
        }
        return s + "}";
    }

    if (type == push_type::sms) {
        char stamp[40];
        std::snprintf(stamp, sizeof(stamp), "%sT%s.%03dZ",
                      wall_time(at).substr(0, 10).c_str(),
                      wall_time(at).substr(11).c_str(),
                      static_cast<int>(r() % 1000));
        std::string s = "{\"smsIdentifier\":"
                        + jstr("sms-" + run + "-" + std::to_string(i));
        s += ",\"notificationMode\":\"Notify\"";
        s += ",\"calling\":" + jstr("+86138" + digits(r, 8));
        s += ",\"called\":" + jstr("+86139" + digits(r, 8));
        s += ",\"virtualNumber\":" + jstr("+86170" + digits(r, 8));
        s += ",\"event\":\"TextSMS\",\"timeStamp\":" + jstr(stamp);
        return s + "}";
    }

    // §3.3.1, §3.3.3: one call link, X mode (userData, no subscriptionId)
    std::string s = "{\"timestamp\":" + jstr(wall_time(at));
    s += ",\"userData\":" + jstr("order-" + std::to_string(i));
    s += ",\"sessionId\":"
         + jstr("1200_" + run + "_" + std::to_string(i) + "@callenabler.sim");
    s += ",\"caller\":" + jstr("+86138" + digits(r, 8));
    s += ",\"called\":" + jstr("+86170" + digits(r, 8));
    if (type == push_type::callin) {
        s += ",\"notifyMode\":\"Notify\"";
    }
    if (type == push_type::disconnect) {
        s += ",\"stateCode\":0,\"stateDesc\":\"normal hang-up\"";
    }
    return s + "}";
}

static std::string
aliyun_receipt(sample_rng &r, push_type type, const std::string &tenant,
               const std::string &run, long i, std::int64_t now)
{
    std::int64_t call = now - 600 - static_cast<std::int64_t>(r() % 3600);

    if (type == push_type::number_report) {
        std::string s = "{\"secret_no\":" + jstr("170" + padded(i, 8));
        s += ",\"city\":\"hangzhou\",\"partner_key\":" + jstr(tenant);
        s += ",\"operating_time\":" + jstr(beijing_time(call));
        s += ",\"status\":" + std::to_string(r() % 2) + ",\"Vendor\":3}";
        return s;
    }

    std::string s = "{\"pool_key\":" + jstr(tenant);
    s += ",\"sub_id\":" + std::to_string(100000 + r() % 900000);
    s += ",\"call_id\":" + jstr("sim-" + run + "-" + std::to_string(i));

    if (type == push_type::recording) {
        // §2.6.2: epoch milliseconds here
        return s + ",\"call_time\":" + std::to_string(call * 1000)
               + ",\"out_id\":" + jstr("order-" + std::to_string(i)) + "}";
    }

    s += ",\"phone_no\":" + jstr("138" + digits(r, 8));
    s += ",\"secret_no\":" + jstr("170" + digits(r, 8));
    s += ",\"peer_no\":" + jstr("139" + digits(r, 8));
    s += ",\"call_type\":" + std::to_string(r() % 2);
    s += ",\"call_time\":" + jstr(beijing_time(call));
    if (type == push_type::ring_report) {
        s += ",\"ring_time\":" + jstr(beijing_time(call + 2));
    } else {
        s += ",\"control_msg\":\"OK\"";
    }
    return s + "}";
}

std::string
push_record(sample_rng &r, dialect d, push_type type, const std::string &tenant,
            const std::string &run, long i, std::int64_t now)
{
    if (type == push_type::cdr) {
        return d == dialect::huawei ? fee_info(r, tenant, run, i, now)
                                    : secret_report(r, tenant, run, i, now);
    }

    return d == dialect::huawei ? huawei_event(r, type, run, i, now)
                                : aliyun_receipt(r, type, tenant, run, i, now);
}

std::string
push_body(dialect d, push_type type, const std::string &app,
          const std::vector<std::string> &records)
{
    std::string list;
    for (const std::string &rec : records) {
        list += (list.empty() ? "" : ",") + rec;
    }

    if (d == dialect::aliyun) {
        return "[" + list + "]";
    }

    switch (type) {
    case push_type::cdr:
        return "{\"eventType\":\"fee\",\"feeLst\":[" + list + "]}";
    case push_type::num_status:
        return "{\"eventType\":\"numStatus\",\"numInfo\":[" + list + "]}";
    case push_type::sms:
        return "{\"appKey\":" + jstr(app) + ",\"smsEvent\":" + list + "}";
    default:
        return "{\"eventType\":" + jstr(push_type_name(type))
               + ",\"statusInfo\":" + list + "}";
    }
}

} // namespace provision_x::cli
