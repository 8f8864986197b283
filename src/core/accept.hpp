// Content negotiation for the status endpoint: how much an HTTP Accept
// header (RFC 9110 §12.5.1) wants one media type, so that a browser gets
// the HTML page while Prometheus (text/plain) and API clients (JSON, or
// "*/*") keep what they had.

#ifndef PROVISION_X_CORE_ACCEPT_HPP
#define PROVISION_X_CORE_ACCEPT_HPP

#include <string_view>

namespace provision_x {

// The quality, 0 to 1000, that `accept` gives `media_type` ("type/sub",
// lower case): the q of its most specific matching range (type/sub over
// type/* over */*; the highest q among equally specific ones), 0 when no
// range matches.  Types compare case-insensitively; parameters other than
// q are ignored; a range with a malformed q is ignored.
unsigned accept_quality(std::string_view accept,
                        std::string_view media_type) noexcept;

} // namespace provision_x

#endif // PROVISION_X_CORE_ACCEPT_HPP
