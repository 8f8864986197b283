// provision-x interface: call the gateway's interface endpoint
// (provision_x_interface) as an internal service does.

#ifndef PROVISION_X_TOOLS_INTERFACE_CALL_HPP
#define PROVISION_X_TOOLS_INTERFACE_CALL_HPP

#include <string>

namespace provision_x::cli {

// The request body: {"mode":..,["config_id":..,]"user_id":..,"payload":..}.
// usage_error when `payload` is not a JSON object.
std::string interface_envelope(const std::string &mode, bool has_config_id,
                               long long config_id, const std::string &user_id,
                               const std::string &payload);

int run_interface(int argc, char **argv);

extern const char interface_help[];

} // namespace provision_x::cli

#endif
