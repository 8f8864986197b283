// provision-x simulate: act as the platform pushing CDRs to a gateway,
// with the vendor's merge limit and retry schedule, time-compressed.

#ifndef PROVISION_X_TOOLS_SIMULATE_HPP
#define PROVISION_X_TOOLS_SIMULATE_HPP

#include <cstdint>
#include <string>
#include <vector>

namespace provision_x::cli {

// Retry offsets in seconds after the first failure, compressed by
// `time_scale` (60 s at scale 600 -> 0.1 s).
std::vector<double> retry_offsets(const std::vector<double> &minutes,
                                  double time_scale);

// The vendor schedules (spec §2.6, §3.4), in minutes.
std::vector<double> vendor_schedule(const std::string &dialect);

// "1,4,9" -> {1, 4, 9}; usage_error when malformed.
std::vector<double> parse_schedule(const std::string &text);

// The p-th percentile (0-100) by nearest rank; 0 for an empty list.
double percentile(std::vector<double> values, double p);

int run_simulate(int argc, char **argv);

extern const char simulate_help[];

} // namespace provision_x::cli

#endif
