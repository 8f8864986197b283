// The interface endpoint (issue 19): internal services call the platform
// through the gateway, which holds the secrets and signs.  A caller posts
//
//   {"mode":"live"|"debug", "config_id":12345, "user_id":"user123",
//    "payload":{...}}
//
// and gets {"status_code":N,"message":...,"data":...,"error":...} back.
// This unit is the pure part: the envelope's parse and refusals, the call
// built from `payload` and signed for its dialect (Aliyun POP RPC v1,
// spec §2.8; Huawei X-AKSK, §3.2), the debug answer, and the platform's
// answer turned into the envelope.  No nginx; every function is noexcept
// and reports through its return value.
//
// Payloads:
//   Aliyun  {"Action":"QueryRecordFileDownloadUrl","PoolKey":"FC1",...}:
//           flat POP parameters (strings, integers or booleans); the
//           gateway adds AccessKeyId, SignatureMethod, SignatureVersion,
//           SignatureNonce, Timestamp and, unless given, Format (JSON only),
//           RegionId and Version.
//   Huawei  {"path":"/rest/...","method":"GET","query":{...},"body":{...}}:
//           method defaults to POST with a body, GET without.
// The operation (Action, or path) must be on the target's allow-list.

#ifndef PROVISION_X_CORE_INTERFACE_HPP
#define PROVISION_X_CORE_INTERFACE_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dialect.hpp"

struct json_t; // jansson's; only interface.cpp looks inside

namespace provision_x {

enum class interface_mode : unsigned char { live, debug };

// How a call ended: the answer's error.code (ok and debug have none), the
// $provision_x_interface_outcome variable and the counters' label.
enum class interface_outcome : unsigned char {
    ok,    // live: the platform accepted the call
    debug, // debug: explained, nothing sent
    unauthorized,
    method_not_allowed,
    payload_too_large,
    bad_request,
    unknown_config,
    operation_not_allowed,
    platform_error,
    platform_timeout,
    internal_error,
};

constexpr std::size_t interface_outcome_count = 11;

std::string_view name_of(interface_outcome o) noexcept;

// ---- the envelope ---------------------------------------------------------

enum class envelope_error : unsigned char {
    ok,
    empty,         // no body
    not_json,      // not JSON, or a key twice
    not_object,    // JSON, but not an object
    unknown_field, // a member other than mode, config_id, user_id, payload
    mode_missing,
    mode_invalid,      // not "live" or "debug"
    config_id_invalid, // not an integer
    user_id_missing,
    user_id_invalid, // not 1-128 visible ASCII characters without " and '\'
    payload_missing,
    payload_invalid, // not an object
    no_memory,
};

std::string_view describe(envelope_error e) noexcept;

constexpr std::size_t max_user_id_length = 128;

class interface_request {
public:
    interface_request() noexcept = default;
    ~interface_request();

    interface_request(const interface_request &) = delete;
    interface_request &operator=(const interface_request &) = delete;

    // `detail` receives the refusal as the caller reads it: the field, then
    // what it must be ("mode: must be \"live\" or \"debug\"").  It names
    // fields, never quotes a value.
    envelope_error parse(std::string_view body, std::string &detail) noexcept;

    interface_mode mode() const noexcept
    {
        return mode_;
    }

    bool has_config_id() const noexcept
    {
        return has_config_id_;
    }

    std::int64_t config_id() const noexcept
    {
        return config_id_;
    }

    // Safe to log: visible ASCII, no quote, no backslash.
    std::string_view user_id() const noexcept
    {
        return user_id_;
    }

    const json_t *payload() const noexcept
    {
        return payload_;
    }

private:
    json_t *root_ = nullptr;
    const json_t *payload_ = nullptr;
    std::string_view user_id_;
    std::int64_t config_id_ = 0;
    bool has_config_id_ = false;
    interface_mode mode_ = interface_mode::live;
};

// ---- the call to the platform -------------------------------------------

// One configured platform target, as the builder needs it.
struct interface_target {
    provision_x::dialect dialect = provision_x::dialect::aliyun;
    std::string_view key_id; // Aliyun AccessKeyId; Huawei APP_Key
    std::string_view secret;
    std::string_view method = "POST"; // Aliyun: GET (query) or POST (form)
    std::string_view region = "cn-hangzhou";
    std::string_view version = "2017-05-25";
    const std::string_view *operations = nullptr; // the allow-list
    std::size_t operation_count = 0;
};

// Fresh for every call; fixed only by known-answer tests.
struct signing_inputs {
    std::string_view nonce;
    std::string_view timestamp; // yyyy-MM-ddTHH:mm:ssZ
};

struct interface_problem {
    std::string field; // "payload.CallId"
    std::string message;
};

// What goes out, and how it was signed.  It holds no secret: the debug
// answer is rendered from it alone.
struct outbound_call {
    std::string operation;   // the Action or path, once it is valid
    std::string_view method; // GET, POST, PUT, DELETE
    std::string path;        // what the platform sees; "/" for Aliyun
    std::string query;       // without '?'
    std::string body;
    std::string_view content_type; // empty: no body, no header
    std::string authorization;     // Huawei
    std::string x_aksk;            // Huawei
    std::string canonical;         // Aliyun CanonicalizedQueryString
    std::string string_to_sign;    // Aliyun StringToSign; Huawei Nonce+Created
    std::string signature;         // Base64, as the platform recomputes it
    std::string nonce;
    std::string timestamp;
    std::vector<interface_problem> problems;
};

enum class build_result : unsigned char {
    ok,                    // signed, problems empty
    incomplete,            // problems listed, nothing signed
    operation_not_allowed, // call.operation is not on the allow-list
    bad_input,             // the gateway's nonce or timestamp is unusable
    crypto_failure,
    no_memory,
};

std::string_view describe(build_result r) noexcept;

build_result build_outbound(const interface_request &req,
                            const interface_target &target,
                            const signing_inputs &in,
                            outbound_call &out) noexcept;

// The problems in one line for a live call's 400: "a: x; b: y".
bool problems_text(const outbound_call &call, std::string &out) noexcept;

// ---- answers ---------------------------------------------------------------

struct debug_context {
    provision_x::dialect dialect = provision_x::dialect::aliyun;
    std::string_view target; // its name
    std::int64_t config_id = 0;
    std::string_view app; // whose secret signs
    std::string_view key_id;
    std::string_view pass; // the internal location
};

// The whole debug answer (status 200): the would-be request, its signing
// steps, and what is missing or invalid (then nothing is signed).
bool render_debug_answer(const interface_request &req, const debug_context &ctx,
                         const outbound_call &call, std::string &out) noexcept;

// What came back through the internal location.
struct platform_reply {
    unsigned status = 0;  // the platform's HTTP status; 0: it never answered
    unsigned failure = 0; // with status 0: nginx's verdict (502, 504)
    std::string_view body;
    std::string_view location; // of a 3xx
};

struct interface_answer {
    unsigned status; // HTTP status of the envelope, status_code too
    interface_outcome outcome;
};

// The envelope for a platform's answer:
//   2xx (a 3xx with Location) and Code "OK" / resultcode "0" (or none):
//       200 ok, data = the platform's object (+ "location");
//   a refusal: platform_error with the platform's code and message, status
//       the platform's 4xx, 502 for its 5xx, 422 for a refusal in a 2xx;
//   no answer: 504 platform_timeout when nginx timed out, else 502
//       platform_error; an answer that is not a JSON object: 502.
// `out` is empty, and the outcome internal_error, only on no memory.
interface_answer render_platform_answer(provision_x::dialect which,
                                        const platform_reply &reply,
                                        std::string &out) noexcept;

// ---- configuration checks --------------------------------------------------

// A POP Action: 1-64 letters and digits.
bool is_valid_action(std::string_view action) noexcept;

// A Huawei API path: '/' then 1-255 of [A-Za-z0-9._~/-], no empty, "."
// or ".." segment.
bool is_valid_api_path(std::string_view path) noexcept;

} // namespace provision_x

#endif
