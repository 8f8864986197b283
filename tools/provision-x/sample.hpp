// Realistic generated CDRs for `simulate` and `sign --sample`: Huawei
// FeeInfo (spec §3.4.1, times in UTC) and Aliyun SecretReport (§2.6.1,
// Beijing times).  Ids are "<run>-<i>", so one run id gives distinct
// dedup keys and a rerun with the same id repeats them.

#ifndef PROVISION_X_TOOLS_SAMPLE_HPP
#define PROVISION_X_TOOLS_SAMPLE_HPP

#include <cstdint>
#include <random>
#include <string>

namespace provision_x::cli {

using sample_rng = std::mt19937_64;

// One FeeInfo object; appKey is `app`, sessionId and icid derive from
// `run` and `i`.  Calls ended within the hour before `now`.
std::string fee_info(sample_rng &r, const std::string &app,
                     const std::string &run, long i, std::int64_t now);

// One SecretReport object; pool_key is `pool`, call_id "sim-<run>-<i>".
std::string secret_report(sample_rng &r, const std::string &pool,
                          const std::string &run, long i, std::int64_t now);

} // namespace provision_x::cli

#endif
