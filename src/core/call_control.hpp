// Call control (spec §2.5, §3.3.2, §3.6, §4): the checks a binding
// service's answer must pass before the gateway relays it to the
// platform, the fallback bodies the gateway answers with itself, and the
// carrier rule that a landline cannot call an X number.  Huawei's SMS
// Block mode is the same exchange for a message: the platform waits for
// the actions to take on it.  Pure logic, no nginx.

#ifndef PROVISION_X_CORE_CALL_CONTROL_HPP
#define PROVISION_X_CORE_CALL_CONTROL_HPP

#include <string>
#include <string_view>

namespace provision_x {

enum class cc_verdict : unsigned char {
    ok,
    not_json,      // not a JSON object
    bad_code,      // Aliyun: `code` is not "OK"
    bad_model,     // Aliyun: `model` missing or not an object
    bad_operation, // controlOperate / operation not an allowed value
    bad_field,     // another field breaks the spec's type or range
    bad_actions,   // Huawei SMS: `actions` missing, empty or not objects
};

std::string_view describe(cc_verdict v) noexcept;

// §2.3/§2.5: {"code":"OK","model":{"controlOperate":CONTINUE|REJECT|IVR,
// ...}}.  `model` may be an object or, A-4, a string holding one.
// subsId, when present, is digits only; controlMsg, callNoPlayCode and
// message are strings.
cc_verdict validate_aliyun_answer(std::string_view body) noexcept;

// §3.3.2: {"operation":"connect"|"close", ...}.  connect needs a
// connectInfo object whose calleeNum is a global number; the optional
// fields keep the documented types and ranges (maxDuration 0-1440,
// recordFlag "true"/"false", ...).  Objects only: the Java demo's arrays
// are refused.
cc_verdict validate_huawei_answer(std::string_view body) noexcept;

// §3.6 SMS Block answer: {"actions":[{"operation":"vNumberRoute"|
// "DiscardMessage","message":{"called":"+86…","calling":"+86…"}},...]}.
// At least one action, each an object.  vNumberRoute needs
// message.called, where the message goes; message.calling, when present,
// and called on any action are global numbers (§4, the call answer's
// String(4-31)); message, when present, is an object.
cc_verdict validate_huawei_sms_answer(std::string_view body) noexcept;

bool aliyun_operate_allowed(std::string_view op) noexcept;
bool huawei_operation_allowed(std::string_view op) noexcept;
bool huawei_sms_operation_allowed(std::string_view op) noexcept;

// The gateway's own answers.  `message` defaults to the operate value's
// own reading: "OK" for CONTINUE, else the operate value.  False only on
// no memory.
bool aliyun_fallback_body(std::string_view operate, std::string_view message,
                          std::string &out) noexcept;
bool huawei_fallback_body(std::string_view operation,
                          std::string &out) noexcept;

// The gateway's own SMS answer, one action: DiscardMessage (called and
// calling unused), or vNumberRoute to `called` (configured: the platform
// has nowhere to send the message otherwise), from `calling` when that is
// not empty.  False only on no memory.
bool huawei_sms_fallback_body(std::string_view operation,
                              std::string_view called, std::string_view calling,
                              std::string &out) noexcept;

// §4.  Aliyun numbers are national digits: a landline starts with the
// trunk prefix 0 (e.g. 057188880000), a mobile with 1.  Huawei numbers
// are global: +86 then a mobile (1 + 10 digits) or a landline (an area
// code without its 0, so a first digit 2-9).  Anything else, foreign
// numbers included, is not reported as a landline: the rule only blocks
// what it is sure of.
bool aliyun_is_landline(std::string_view number) noexcept;
bool huawei_is_landline(std::string_view number) noexcept;

// Huawei callin push: statusInfo.caller, or empty when there is none.
std::string_view huawei_callin_caller(std::string_view body,
                                      std::string &scratch) noexcept;

} // namespace provision_x

#endif
