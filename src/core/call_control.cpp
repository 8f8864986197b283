// Call-control answers, fallbacks and the landline rule; see the header.

#include "core/call_control.hpp"

#include "core/json_doc.hpp"

#include <new>

namespace provision_x {

namespace {

bool
all_digits(std::string_view s) noexcept
{
    if (s.empty()) {
        return false;
    }

    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }

    return true;
}

// An absent member passes; a present one must be a string of max bytes.
bool
optional_string(const json_t *obj, const char *key, std::size_t max) noexcept
{
    const json_t *v = json_object_get(obj, key);

    return v == nullptr || (json_is_string(v) && json_string_length(v) <= max);
}

// §3.3.2: global format, String(4-31): '+' and digits.
bool
global_number(const json_t *v) noexcept
{
    if (!json_is_string(v)) {
        return false;
    }

    std::string_view s = json_text(v);

    return s.size() >= 4 && s.size() <= 31 && s[0] == '+'
           && all_digits(s.substr(1));
}

cc_verdict
validate_aliyun_model(const json_t *model) noexcept
{
    const json_t *op = json_object_get(model, "controlOperate");

    if (!json_is_string(op) || !aliyun_operate_allowed(json_text(op))) {
        return cc_verdict::bad_operation;
    }

    const json_t *subs = json_object_get(model, "subsId");

    if (subs != nullptr
        && !(json_is_string(subs) && all_digits(json_text(subs)))) {
        return cc_verdict::bad_field;
    }

    if (!optional_string(model, "controlMsg", 256)
        || !optional_string(model, "callNoPlayCode", 256))
    {
        return cc_verdict::bad_field;
    }

    return cc_verdict::ok;
}

cc_verdict
validate_connect_info(const json_t *info) noexcept
{
    if (!json_is_object(info)) {
        return cc_verdict::bad_field;
    }

    if (!global_number(json_object_get(info, "calleeNum"))) {
        return cc_verdict::bad_field;
    }

    const json_t *display = json_object_get(info, "displayCalleeNum");

    if (display != nullptr && !global_number(display)) {
        return cc_verdict::bad_field;
    }

    const json_t *max = json_object_get(info, "maxDuration");

    if (max != nullptr
        && !(json_is_integer(max) && json_integer_value(max) >= 0
             && json_integer_value(max) <= 1440))
    {
        return cc_verdict::bad_field;
    }

    const json_t *record = json_object_get(info, "recordFlag");

    if (record != nullptr
        && !(json_is_string(record)
             && (json_text(record) == "true" || json_text(record) == "false")))
    {
        return cc_verdict::bad_field;
    }

    if (!optional_string(info, "waitVoice", 128)
        || !optional_string(info, "recordHintTone", 128)
        || !optional_string(info, "lastMinVoice", 128)
        || !optional_string(info, "userData", 256))
    {
        return cc_verdict::bad_field;
    }

    return cc_verdict::ok;
}

// §3.6: one action; a route needs its destination, message.called.
cc_verdict
validate_sms_action(const json_t *action) noexcept
{
    if (!json_is_object(action)) {
        return cc_verdict::bad_actions;
    }

    const json_t *op = json_object_get(action, "operation");

    if (!json_is_string(op) || !huawei_sms_operation_allowed(json_text(op))) {
        return cc_verdict::bad_operation;
    }

    const json_t *message = json_object_get(action, "message");
    const json_t *called = json_object_get(message, "called");
    const json_t *calling = json_object_get(message, "calling");
    bool route = json_text(op) == "vNumberRoute";

    if ((message != nullptr && !json_is_object(message))
        || (called != nullptr ? !global_number(called) : route)
        || (calling != nullptr && !global_number(calling)))
    {
        return cc_verdict::bad_field;
    }

    return cc_verdict::ok;
}

bool
append_json_string(std::string_view s, std::string &out)
{
    json_t *v = json_stringn(s.data(), s.size());

    if (v == nullptr) {
        return false;
    }

    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

    json_decref(v);

    if (text == nullptr) {
        return false;
    }

    out += text;
    free(text);

    return true;
}

} // namespace

std::string_view
describe(cc_verdict v) noexcept
{
    switch (v) {
    case cc_verdict::ok:
        return "ok";
    case cc_verdict::not_json:
        return "not a JSON object";
    case cc_verdict::bad_code:
        return "code is not \"OK\"";
    case cc_verdict::bad_model:
        return "model is missing or not an object";
    case cc_verdict::bad_operation:
        return "operation not allowed";
    case cc_verdict::bad_field:
        return "field out of the spec's range";
    case cc_verdict::bad_actions:
        return "actions missing, empty or not objects";
    }

    return "unknown";
}

bool
aliyun_operate_allowed(std::string_view op) noexcept
{
    return op == "CONTINUE" || op == "REJECT" || op == "IVR";
}

bool
huawei_operation_allowed(std::string_view op) noexcept
{
    return op == "connect" || op == "close";
}

bool
huawei_sms_operation_allowed(std::string_view op) noexcept
{
    return op == "vNumberRoute" || op == "DiscardMessage";
}

cc_verdict
validate_aliyun_answer(std::string_view body) noexcept
{
    json_doc doc(body);

    if (!json_is_object(doc.root)) {
        return cc_verdict::not_json;
    }

    const json_t *code = json_object_get(doc.root, "code");

    if (!json_is_string(code) || json_text(code) != "OK") {
        return cc_verdict::bad_code;
    }

    if (!optional_string(doc.root, "message", 1024)) {
        return cc_verdict::bad_field;
    }

    const json_t *model = json_object_get(doc.root, "model");

    if (json_is_object(model)) {
        return validate_aliyun_model(model);
    }

    if (!json_is_string(model)) {
        return cc_verdict::bad_model;
    }

    // `model` is typed String; a JSON-encoded object is accepted too.
    json_doc inner(json_text(model));

    if (!json_is_object(inner.root)) {
        return cc_verdict::bad_model;
    }

    return validate_aliyun_model(inner.root);
}

cc_verdict
validate_huawei_answer(std::string_view body) noexcept
{
    json_doc doc(body);

    if (!json_is_object(doc.root)) {
        return cc_verdict::not_json;
    }

    const json_t *op = json_object_get(doc.root, "operation");

    if (!json_is_string(op) || !huawei_operation_allowed(json_text(op))) {
        return cc_verdict::bad_operation;
    }

    const json_t *connect = json_object_get(doc.root, "connectInfo");

    if (json_text(op) == "connect") {
        return validate_connect_info(connect);
    }

    const json_t *close = json_object_get(doc.root, "closeInfo");

    if (close != nullptr
        && !(json_is_object(close)
             && optional_string(close, "closeHintTone", 128)
             && optional_string(close, "userData", 256)))
    {
        return cc_verdict::bad_field;
    }

    return cc_verdict::ok;
}

cc_verdict
validate_huawei_sms_answer(std::string_view body) noexcept
{
    json_doc doc(body);

    if (!json_is_object(doc.root)) {
        return cc_verdict::not_json;
    }

    // json_array_size is 0 for what is not an array
    const json_t *actions = json_object_get(doc.root, "actions");
    size_t n = json_array_size(actions);
    cc_verdict v = n > 0 ? cc_verdict::ok : cc_verdict::bad_actions;

    for (size_t i = 0; i < n && v == cc_verdict::ok; i++) {
        v = validate_sms_action(json_array_get(actions, i));
    }

    return v;
}

bool
aliyun_fallback_body(std::string_view operate, std::string_view message,
                     std::string &out) noexcept
{
    try {
        if (message.empty()) {
            message = operate == "CONTINUE" ? std::string_view("OK") : operate;
        }

        // §2.3's recommended shape; controlMsg mirrors the message.
        out += "{\"code\":\"OK\",\"message\":";

        if (!append_json_string(message, out)) {
            return false;
        }

        out += ",\"model\":{\"controlOperate\":";

        if (!append_json_string(operate, out)) {
            return false;
        }

        out +=
            ",\"controlMsg\":\"\",\"subsId\":\"0\",\"callNoPlayCode\":\"\"}}";

        return true;

    } catch (const std::bad_alloc &) {
        return false;
    }
}

bool
huawei_fallback_body(std::string_view operation, std::string &out) noexcept
{
    try {
        out += "{\"operation\":";

        if (!append_json_string(operation, out)) {
            return false;
        }

        out += '}';

        return true;

    } catch (const std::bad_alloc &) {
        return false;
    }
}

bool
huawei_sms_fallback_body(std::string_view operation, std::string_view called,
                         std::string_view calling, std::string &out) noexcept
{
    try {
        out += "{\"actions\":[{\"operation\":";

        if (!append_json_string(operation, out)) {
            return false;
        }

        if (operation == "vNumberRoute") {
            out += ",\"message\":{\"called\":";

            if (!append_json_string(called, out)) {
                return false;
            }

            if (!calling.empty()) {
                out += ",\"calling\":";

                if (!append_json_string(calling, out)) {
                    return false;
                }
            }

            out += '}';
        }

        out += "}]}";

        return true;

    } catch (const std::bad_alloc &) {
        return false;
    }
}

bool
aliyun_is_landline(std::string_view number) noexcept
{
    // trunk prefix, then a 2-3 digit area code and a 7-8 digit number
    return all_digits(number) && number[0] == '0' && number.size() >= 10
           && number.size() <= 12;
}

bool
huawei_is_landline(std::string_view number) noexcept
{
    constexpr std::string_view china = "+86";

    if (number.substr(0, china.size()) != china) {
        return false;
    }

    std::string_view rest = number.substr(china.size());

    if (!all_digits(rest)) {
        return false;
    }

    // Beijing's area code 10 is the only one starting with 1; mobiles are
    // 1 + 10 digits with a second digit of 3-9
    if (rest[0] == '1') {
        return rest.size() == 10 && rest[1] == '0';
    }

    // area code without its 0 (2-3 digits) + 7-8 digits
    return rest.size() >= 9 && rest.size() <= 11;
}

std::string_view
huawei_callin_caller(std::string_view body, std::string &scratch) noexcept
{
    try {
        scratch.clear();

        json_doc doc(body);
        const json_t *info = json_object_get(doc.root, "statusInfo");
        const json_t *caller = json_object_get(info, "caller");

        if (!json_is_string(caller)) {
            return {};
        }

        scratch.assign(json_text(caller));

        return scratch;

    } catch (const std::bad_alloc &) {
        return {};
    }
}

} // namespace provision_x
