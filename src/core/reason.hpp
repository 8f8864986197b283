/*
 * The fixed set of reasons a signed callback is refused.  One value drives
 * the HTTP status, the dialect's error body, the error-log line, the
 * $provision_x_reject_reason variable and the counters, so the set is small
 * and closed: labels built from it never carry request data.
 */

#ifndef PROVISION_X_CORE_REASON_HPP
#define PROVISION_X_CORE_REASON_HPP

#include <cstddef>
#include <iterator>
#include <string_view>

namespace provision_x {

enum class reason : unsigned char {
    none,
    missing_auth,
    malformed_auth,
    unknown_app,
    bad_signature,
    stale_timestamp,
    future_timestamp,
    replayed_nonce,
    nonce_store_full,
    body_too_large,
    internal_error,
};

constexpr std::size_t reason_count = 11;

struct reason_info {
    std::string_view name;
    unsigned status;
    std::string_view aliyun_code;
    std::string_view huawei_code;
    std::string_view message;
};

/* Indexed by reason; statuses follow each platform's own answers. */
constexpr reason_info reason_table[reason_count] = {
    {"", 200, "OK", "0", "Success."},
    {"missing_auth", 401, "MissingSignature", "1023033",
     "The request carries no signature."},
    {"malformed_auth", 400, "InvalidParameter", "1023031",
     "The signature parameters are malformed."},
    {"unknown_app", 403, "InvalidAccessKeyId.NotFound", "1010003",
     "Invalid app_key."},
    {"bad_signature", 403, "SignatureDoesNotMatch", "1010002",
     "The signature does not match."},
    {"stale_timestamp", 403, "InvalidTimeStamp.Expired", "1010013",
     "Time out limit: the timestamp is too old."},
    {"future_timestamp", 403, "InvalidTimeStamp.Expired", "1010013",
     "Time out limit: the timestamp is in the future."},
    {"replayed_nonce", 403, "SignatureNonceUsed", "1010002",
     "The nonce has been used already."},
    {"nonce_store_full", 503, "ServiceUnavailable", "1010001",
     "Replay protection is at capacity; retry later."},
    {"body_too_large", 413, "RequestEntityTooLarge", "1010002",
     "The request body is too large to verify."},
    /* the gateway failed (memory, a body read, OpenSSL): a 5xx, so the
     * platform retries; never a verdict on the request */
    {"internal_error", 500, "InternalError", "1010001",
     "Internal system error; retry later."},
};

static_assert(
    std::size(reason_table) == reason_count
        && reason_table[static_cast<std::size_t>(reason::internal_error)].name
               == "internal_error",
    "reason_table follows enum reason");

constexpr const reason_info &
describe(reason r) noexcept
{
    return reason_table[static_cast<std::size_t>(r)];
}

} // namespace provision_x

#endif /* PROVISION_X_CORE_REASON_HPP */
