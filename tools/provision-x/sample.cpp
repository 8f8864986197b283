#include "sample.hpp"

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
    s += ",\"sessionId\":" +
         jstr("1200_" + run + "_" + std::to_string(i) + "@callenabler.sim");
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

} // namespace provision_x::cli
