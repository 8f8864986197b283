// Realistic generated pushes for `simulate` and `sign --sample`: Huawei
// FeeInfo (spec §3.4.1, times in UTC) and Aliyun SecretReport (§2.6.1,
// Beijing times), and the platforms' other callbacks (call events,
// number status, SMS notifications, Aliyun's other receipts).  Ids are
// "<run>-<i>", so one run id gives distinct dedup keys and a rerun with
// the same id repeats them.

#ifndef PROVISION_X_TOOLS_SAMPLE_HPP
#define PROVISION_X_TOOLS_SAMPLE_HPP

#include "core/cdr.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace provision_x::cli {

using sample_rng = std::mt19937_64;

// One FeeInfo object; appKey is `app`, sessionId and icid derive from
// `run` and `i`.  Calls ended within the hour before `now`.
std::string fee_info(sample_rng &r, const std::string &app,
                     const std::string &run, long i, std::int64_t now);

// One SecretReport object; pool_key is `pool`, call_id "sim-<run>-<i>".
std::string secret_report(sample_rng &r, const std::string &pool,
                          const std::string &run, long i, std::int64_t now);

// One record of any push type of dialect d: fee_info or secret_report for
// the CDR; a Huawei statusInfo (§3.3; callin in Notify mode), numInfo
// entry (§3.5) or smsEvent (§3.6, Notify mode); an Aliyun receipt
// (§2.6.2).  `tenant` is the Huawei appKey (CDRs) or the Aliyun pool_key
// (partner_key of a NumberManagementReport); Huawei events carry none.
std::string push_record(sample_rng &r, dialect d, push_type type,
                        const std::string &tenant, const std::string &run,
                        long i, std::int64_t now);

// The push of type `type` that carries `records`: Huawei's envelope
// ({"eventType":...} with feeLst, statusInfo or numInfo, or
// {"appKey":...,"smsEvent":...}) or Aliyun's JSON array.
std::string push_body(dialect d, push_type type, const std::string &app,
                      const std::vector<std::string> &records);

} // namespace provision_x::cli

#endif
