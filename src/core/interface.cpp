// The interface endpoint's pure logic; see interface.hpp.

#include "core/interface.hpp"

#include "core/json_doc.hpp"
#include "core/params.hpp"
#include "core/signature.hpp"

#include <jansson.h>

#include <array>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>

namespace provision_x {

namespace {

// Owns one reference.
class json_ref {
public:
    explicit json_ref(json_t *v = nullptr) noexcept : v_(v)
    {
    }

    ~json_ref()
    {
        json_decref(v_);
    }

    json_ref(const json_ref &) = delete;
    json_ref &operator=(const json_ref &) = delete;

    json_t *get() const noexcept
    {
        return v_;
    }

    void reset(json_t *v) noexcept
    {
        json_decref(v_);
        v_ = v;
    }

    json_t *release() noexcept
    {
        json_t *v = v_;

        v_ = nullptr;
        return v;
    }

private:
    json_t *v_;
};

// A JSON text built by hand would have to escape; jansson does it.
class json_builder {
public:
    explicit json_builder(json_t *obj) noexcept : obj_(obj), ok_(obj != nullptr)
    {
    }

    // Takes the reference to v, also when it is null (then fails).
    json_builder &set(const char *key, json_t *v) noexcept
    {
        if (!ok_) {
            json_decref(v);
            return *this;
        }

        ok_ = json_object_set_new(obj_, key, v) == 0;

        return *this;
    }

    json_builder &str(const char *key, std::string_view s) noexcept
    {
        return set(key, json_stringn(s.data(), s.size()));
    }

    json_builder &num(const char *key, json_int_t n) noexcept
    {
        return set(key, json_integer(n));
    }

    bool ok() const noexcept
    {
        return ok_;
    }

private:
    json_t *obj_;
    bool ok_;
};

// Compact, members in their order; the text is freed even if a copy
// throws.
bool
dump(const json_t *root, std::string &out, bool newline = true)
{
    std::unique_ptr<char, void (*)(void *)> text(
        json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER), std::free);

    if (text == nullptr) {
        return false;
    }

    out.assign(text.get());

    if (newline) {
        out += '\n';
    }

    return true;
}

bool
is_visible_ascii(std::string_view s) noexcept
{
    for (unsigned char c : s) {
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
            return false;
        }
    }

    return true;
}

// A POP parameter or a query parameter name.
bool
is_valid_param_name(std::string_view name) noexcept
{
    if (name.empty() || name.size() > 64) {
        return false;
    }

    for (unsigned char c : name) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }

    return true;
}

// "payload.NAME", a long name cut at a character boundary (the text must
// stay UTF-8: it goes into a JSON string).
std::string
field_of(std::string_view prefix, std::string_view name)
{
    constexpr std::size_t max = 64;
    std::string field(prefix);

    field += '.';

    if (name.size() <= max) {
        field += name;
        return field;
    }

    std::size_t cut = max;

    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) {
        cut--;
    }

    field += name.substr(0, cut);
    field += "...";

    return field;
}

void
add_problem(outbound_call &out, std::string field, std::string_view message)
{
    out.problems.push_back({std::move(field), std::string(message)});
}

// The text a parameter carries: a string as it is, an integer in decimal,
// a boolean as true or false.  `texts` keeps what had to be made.
bool
scalar_text(const json_t *v, std::deque<std::string> &texts,
            std::string_view &out)
{
    if (json_is_string(v)) {
        out = json_text(v);
        return true;
    }

    if (json_is_integer(v)) {
        texts.push_back(std::to_string(json_integer_value(v)));
        out = texts.back();
        return true;
    }

    if (json_is_boolean(v)) {
        out = json_is_true(v) ? "true" : "false";
        return true;
    }

    return false;
}

bool
allowed(const interface_target &t, std::string_view operation) noexcept
{
    for (std::size_t i = 0; i < t.operation_count; i++) {
        if (t.operations[i] == operation) {
            return true;
        }
    }

    return false;
}

// The documented inputs of the operations the spec describes; others get
// the generic checks only.
struct known_operation {
    provision_x::dialect dialect;
    std::string_view name;
    std::string_view spec;
    std::string_view method;              // "": any
    std::array<std::string_view, 2> must; // each non-empty
    std::array<std::string_view, 2> one;  // one of them non-empty
};

constexpr known_operation known_operations[] = {
    {dialect::aliyun,
     "QueryRecordFileDownloadUrl",
     "§2.7",
     "",
     {"CallId", "CallTime"},
     {"PoolKey", "ProductType"}},
    {dialect::huawei,
     "/rest/provision/voice/record/v1.0",
     "§3.7",
     "GET",
     {"fileName", "recordDomain"},
     {}},
};

const known_operation *
known(dialect d, std::string_view name) noexcept
{
    for (const known_operation &k : known_operations) {
        if (k.dialect == d && k.name == name) {
            return &k;
        }
    }

    return nullptr;
}

bool
present(const param_list &params, std::string_view name) noexcept
{
    const param *p = params.find(name);

    return p != nullptr && !p->value.empty();
}

void
check_known(const known_operation *k, std::string_view prefix,
            std::string_view method, const param_list &params,
            outbound_call &out)
{
    if (k == nullptr) {
        return;
    }

    std::string by = "required by ";

    by += k->name;
    by += " (spec ";
    by += k->spec;
    by += ')';

    if (!k->method.empty() && method != k->method) {
        std::string m = "must be ";

        m += k->method;
        m += " for ";
        m += k->name;
        add_problem(out, "payload.method", m);
    }

    for (std::string_view name : k->must) {
        if (!name.empty() && !present(params, name)) {
            add_problem(out, field_of(prefix, name), by);
        }
    }

    if (!k->one[0].empty() && !present(params, k->one[0])
        && !present(params, k->one[1]))
    {
        std::string m = by;

        m += " when ";
        m += k->one[1];
        m += " is empty";
        add_problem(out, field_of(prefix, k->one[0]), m);
    }
}

// Adds the members of a flat object to `params`.
void
collect_params(const json_t *obj, std::string_view prefix,
               std::string_view skip, param_list &params,
               std::deque<std::string> &texts, outbound_call &out)
{
    const char *key;
    const json_t *value;

    json_object_foreach(const_cast<json_t *>(obj), key, value)
    {
        std::string_view name(key);

        if (!skip.empty() && name == skip) {
            continue;
        }

        if (!is_valid_param_name(name)) {
            add_problem(out, field_of(prefix, name),
                        "not a parameter name: 1-64 of A-Z a-z 0-9 . _ -");
            continue;
        }

        std::string_view text;

        if (!scalar_text(value, texts, text)) {
            add_problem(out, field_of(prefix, name),
                        "must be a string, an integer or a boolean");
            continue;
        }

        switch (params.add(name, text)) {
        case params_error::ok:
            break;
        case params_error::too_many:
            add_problem(out, std::string(prefix), "too many parameters");
            return;
        default:
            add_problem(out, field_of(prefix, name), "cannot be used");
            break;
        }
    }
}

constexpr std::size_t max_params = 64;

// POP parameters the gateway owns: a caller's own would be signed twice.
constexpr std::string_view pop_owned[] = {
    "AccessKeyId",    "Signature",        "SignatureMethod",
    "SignatureNonce", "SignatureVersion", "Timestamp",
};

build_result
from_sig_error(sig_error e) noexcept
{
    switch (e) {
    case sig_error::ok:
        return build_result::ok;
    case sig_error::no_memory:
        return build_result::no_memory;
    case sig_error::crypto_failure:
        return build_result::crypto_failure;
    default:
        return build_result::bad_input;
    }
}

build_result
build_aliyun(const json_t *payload, const interface_target &t,
             const signing_inputs &in, outbound_call &out)
{
    const json_t *action = json_object_get(payload, "Action");

    if (action == nullptr) {
        add_problem(out, "payload.Action", "required: the POP action to call");

    } else if (!json_is_string(action) || !is_valid_action(json_text(action))) {
        add_problem(out, "payload.Action", "must be 1-64 letters and digits");

    } else {
        out.operation.assign(json_text(action));

        if (!allowed(t, out.operation)) {
            return build_result::operation_not_allowed;
        }
    }

    param_list params(max_params);
    std::deque<std::string> texts;

    collect_params(payload, "payload", "Action", params, texts, out);

    for (std::string_view name : pop_owned) {
        if (params.find(name) != nullptr) {
            add_problem(out, field_of("payload", name), "set by the gateway");
        }
    }

    const param *format = params.find("Format");

    if (format != nullptr && format->value != "JSON") {
        add_problem(out, "payload.Format",
                    "must be JSON: the gateway reads JSON answers");
    }

    check_known(known(dialect::aliyun, out.operation), "payload", "", params,
                out);

    if (!out.problems.empty()) {
        return build_result::incomplete;
    }

    if (in.nonce.empty() || in.timestamp.empty()) {
        return build_result::bad_input;
    }

    // the Action and the gateway's own, then the caller's defaults
    params_error pe = params.add("Action", out.operation);
    std::string_view gateway[][2] = {
        {"AccessKeyId", t.key_id},   {"SignatureMethod", "HMAC-SHA1"},
        {"SignatureVersion", "1.0"}, {"SignatureNonce", in.nonce},
        {"Timestamp", in.timestamp}, {"Format", "JSON"},
        {"RegionId", t.region},      {"Version", t.version},
    };

    for (auto &kv : gateway) {
        if (pe == params_error::ok && params.find(kv[0]) == nullptr) {
            pe = params.add(kv[0], kv[1]);
        }
    }

    if (pe == params_error::too_many) {
        add_problem(out, "payload", "too many parameters");
        return build_result::incomplete;
    }

    if (pe != params_error::ok) {
        return build_result::bad_input;
    }

    bool get = t.method == "GET";
    std::string query;
    sha1_base64 sig;
    sig_error e = pop_sign(get ? "GET" : "POST", params, t.secret,
                           out.string_to_sign, query, &sig);

    if (e != sig_error::ok) {
        return from_sig_error(e);
    }

    if (!pop_canonical_query(params, out.canonical)) {
        return build_result::no_memory;
    }

    out.signature.assign(as_view(sig));
    out.method = get ? "GET" : "POST";
    out.path = "/";

    if (get) {
        out.query = std::move(query);

    } else {
        out.body = std::move(query);
        out.content_type = "application/x-www-form-urlencoded";
    }

    return build_result::ok;
}

constexpr std::string_view huawei_methods[] = {"GET", "POST", "PUT", "DELETE"};

// payload.method and payload.body (a GET has none); false: no memory.
bool
huawei_method_and_body(const json_t *payload, outbound_call &out)
{
    const json_t *body = json_object_get(payload, "body");
    const json_t *method = json_object_get(payload, "method");

    out.method = body != nullptr ? "POST" : "GET";

    if (method != nullptr) {
        std::string_view m = json_is_string(method) ? json_text(method) : "";
        bool known_method = false;

        for (std::string_view h : huawei_methods) {
            if (m == h) {
                out.method = h;
                known_method = true;
            }
        }

        if (!known_method) {
            add_problem(out, "payload.method",
                        "must be GET, POST, PUT or DELETE");
        }
    }

    if (body != nullptr) {
        if (!json_is_object(body)) {
            add_problem(out, "payload.body", "must be a JSON object");

        } else if (!dump(body, out.body, false)) {
            return false;
        }

        if (out.method == "GET") {
            add_problem(out, "payload.body", "a GET carries no body");
        }
    }

    return true;
}

// The query string of the sorted parameters, RFC 3986-encoded.
bool
huawei_query(const param_list &params, outbound_call &out)
{
    for (const param &p : params) {
        if (!out.query.empty()) {
            out.query += '&';
        }

        if (!url_encode(p.name, url_flavour::rfc3986, out.query)) {
            return false;
        }

        out.query += '=';

        if (!url_encode(p.value, url_flavour::rfc3986, out.query)) {
            return false;
        }
    }

    return true;
}

build_result
build_huawei(const json_t *payload, const interface_target &t,
             const signing_inputs &in, outbound_call &out)
{
    const char *key;
    const json_t *value;

    json_object_foreach(const_cast<json_t *>(payload), key, value)
    {
        std::string_view k(key);

        if (k != "path" && k != "method" && k != "query" && k != "body") {
            add_problem(out, field_of("payload", k),
                        "not one of path, method, query, body");
        }
    }

    const json_t *path = json_object_get(payload, "path");

    if (path == nullptr) {
        add_problem(out, "payload.path",
                    "required: the API's path, as in "
                    "/rest/provision/voice/record/v1.0");

    } else if (!json_is_string(path) || !is_valid_api_path(json_text(path))) {
        add_problem(out, "payload.path",
                    "must be '/' and up to 255 of A-Z a-z 0-9 . _ ~ / -");

    } else {
        out.operation.assign(json_text(path));

        if (!allowed(t, out.operation)) {
            return build_result::operation_not_allowed;
        }
    }

    if (!huawei_method_and_body(payload, out)) {
        return build_result::no_memory;
    }

    param_list params(max_params);
    std::deque<std::string> texts;
    const json_t *query = json_object_get(payload, "query");

    if (query != nullptr && !json_is_object(query)) {
        add_problem(out, "payload.query", "must be a JSON object");

    } else if (query != nullptr) {
        collect_params(query, "payload.query", "", params, texts, out);
    }

    check_known(known(dialect::huawei, out.operation), "payload.query",
                out.method, params, out);

    if (!out.problems.empty()) {
        return build_result::incomplete;
    }

    if (!huawei_query(params, out)) {
        return build_result::no_memory;
    }

    // §3.2.1: the Content-Type goes along even on a GET (§3.7)
    out.content_type = "application/json;charset=UTF-8";
    out.path = out.operation;

    sig_error e = build_aksk_headers(t.key_id, t.secret, in.nonce, in.timestamp,
                                     out.authorization, out.x_aksk);

    if (e != sig_error::ok) {
        return from_sig_error(e);
    }

    sha256_base64 digest;

    e = aksk_digest(t.secret, in.nonce, in.timestamp, digest);

    if (e != sig_error::ok) {
        return from_sig_error(e);
    }

    out.signature.assign(as_view(digest));
    out.string_to_sign.assign(in.nonce);
    out.string_to_sign += in.timestamp;

    return build_result::ok;
}

json_t *
problems_json(const outbound_call &call)
{
    json_t *list = json_array();

    for (const interface_problem &p : call.problems) {
        json_t *item = json_object();

        if (!json_builder(item)
                 .str("field", p.field)
                 .str("message", p.message)
                 .ok()
            || json_array_append_new(list, item) != 0)
        {
            json_decref(list);
            return nullptr;
        }
    }

    return list;
}

json_t *
headers_json(const outbound_call &call)
{
    json_t *h = json_object();
    json_builder b(h);

    if (!call.content_type.empty()) {
        b.str("Content-Type", call.content_type);
    }

    if (!call.authorization.empty()) {
        b.str("Authorization", call.authorization).str("X-AKSK", call.x_aksk);
    }

    if (!b.ok()) {
        json_decref(h);
        return nullptr;
    }

    return h;
}

json_t *
signing_json(const debug_context &ctx, const outbound_call &call)
{
    bool aliyun = ctx.dialect == dialect::aliyun;
    std::string key =
        aliyun ? "the AccessKeySecret of app \"" : "the APP_Secret of app \"";

    key += ctx.app;
    key += aliyun ? "\", then \"&\" (never shown)" : "\" (never shown)";

    json_t *s = json_object();
    json_builder b(s);

    b.str("algorithm", aliyun ? "HMAC-SHA1" : "HMAC-SHA256")
        .str("key", key)
        .str("nonce", call.nonce)
        .str(aliyun ? "timestamp" : "created", call.timestamp);

    if (aliyun) {
        b.str("canonical_query", call.canonical);
    }

    b.str("string_to_sign", call.string_to_sign)
        .str("signature", call.signature);

    if (!b.ok()) {
        json_decref(s);
        return nullptr;
    }

    return s;
}

json_t *
request_json(const outbound_call &call)
{
    json_t *r = json_object();

    if (!json_builder(r)
             .str("method", call.method)
             .str("path", call.path)
             .str("query", call.query)
             .set("headers", headers_json(call))
             .str("body", call.body)
             .ok())
    {
        json_decref(r);
        return nullptr;
    }

    return r;
}

interface_answer
gateway_error(unsigned status, interface_outcome o, std::string_view text,
              std::string_view message, std::string &out)
{
    json_ref root(json_object());
    json_t *error = json_object();

    json_builder(error).str("code", name_of(o)).str("message", message);

    if (!json_builder(root.get())
             .num("status_code", status)
             .str("message", text)
             .set("data", json_null())
             .set("error", error)
             .ok()
        || !dump(root.get(), out))
    {
        out.clear();
        return {500, interface_outcome::internal_error};
    }

    return {status, o};
}

std::string_view
code_of(dialect d, const json_t *obj, std::string &scratch)
{
    const json_t *code =
        json_object_get(obj, d == dialect::aliyun ? "Code" : "resultcode");

    if (json_is_string(code)) {
        return json_text(code);
    }

    if (json_is_integer(code)) {
        scratch = std::to_string(json_integer_value(code));
        return scratch;
    }

    return {};
}

} // namespace

std::string_view
name_of(interface_outcome o) noexcept
{
    constexpr std::string_view names[interface_outcome_count] = {
        "ok",
        "debug",
        "unauthorized",
        "method_not_allowed",
        "payload_too_large",
        "bad_request",
        "unknown_config",
        "operation_not_allowed",
        "platform_error",
        "platform_timeout",
        "internal_error",
    };

    return names[static_cast<std::size_t>(o)];
}

std::string_view
describe(envelope_error e) noexcept
{
    switch (e) {
    case envelope_error::ok:
        return "ok";
    case envelope_error::empty:
        return "body: required, a JSON object";
    case envelope_error::not_json:
        return "body: not JSON";
    case envelope_error::not_object:
        return "body: must be a JSON object";
    case envelope_error::unknown_field:
        return "not a field of the request (mode, config_id, user_id, "
               "payload)";
    case envelope_error::mode_missing:
        return "mode: required, \"live\" or \"debug\"";
    case envelope_error::mode_invalid:
        return "mode: must be \"live\" or \"debug\"";
    case envelope_error::config_id_invalid:
        return "config_id: must be an integer";
    case envelope_error::user_id_missing:
        return "user_id: required, for tracking";
    case envelope_error::user_id_invalid:
        return "user_id: must be 1-128 visible ASCII characters, without "
               "'\"' or '\\'";
    case envelope_error::payload_missing:
        return "payload: required, a JSON object";
    case envelope_error::payload_invalid:
        return "payload: must be a JSON object";
    case envelope_error::no_memory:
        return "no memory";
    }

    return "unknown";
}

std::string_view
describe(build_result r) noexcept
{
    switch (r) {
    case build_result::ok:
        return "ok";
    case build_result::incomplete:
        return "the payload is incomplete or invalid";
    case build_result::operation_not_allowed:
        return "the operation is not allowed for this target";
    case build_result::bad_input:
        return "the nonce or timestamp cannot be signed";
    case build_result::crypto_failure:
        return "OpenSSL failed";
    case build_result::no_memory:
        return "no memory";
    }

    return "unknown";
}

interface_request::~interface_request()
{
    json_decref(root_);
}

envelope_error
interface_request::parse(std::string_view body, std::string &detail) noexcept
try {
    json_decref(root_);
    root_ = nullptr;
    payload_ = nullptr;
    user_id_ = {};
    has_config_id_ = false;
    config_id_ = 0;
    detail.clear();

    auto refuse = [&detail](envelope_error e) {
        detail.assign(describe(e));
        return e;
    };

    if (body.empty()) {
        return refuse(envelope_error::empty);
    }

    json_error_t err;

    root_ = json_loadb(body.data(), body.size(), JSON_REJECT_DUPLICATES, &err);

    if (root_ == nullptr) {
        refuse(envelope_error::not_json);
        detail += " (";
        detail += err.text;
        detail += ')';
        return envelope_error::not_json;
    }

    if (!json_is_object(root_)) {
        return refuse(envelope_error::not_object);
    }

    const char *key;
    json_t *value;

    json_object_foreach(root_, key, value)
    {
        std::string_view k(key);

        if (k != "mode" && k != "config_id" && k != "user_id" && k != "payload")
        {
            detail = field_of("body", k);
            detail += ": ";
            detail += describe(envelope_error::unknown_field);
            return envelope_error::unknown_field;
        }
    }

    const json_t *mode = json_object_get(root_, "mode");

    if (mode == nullptr || json_is_null(mode)) {
        return refuse(envelope_error::mode_missing);
    }

    std::string_view m = json_is_string(mode) ? json_text(mode) : "";

    if (m == "live") {
        mode_ = interface_mode::live;

    } else if (m == "debug") {
        mode_ = interface_mode::debug;

    } else {
        return refuse(envelope_error::mode_invalid);
    }

    const json_t *user = json_object_get(root_, "user_id");

    if (user == nullptr || json_is_null(user)) {
        return refuse(envelope_error::user_id_missing);
    }

    std::string_view u = json_is_string(user) ? json_text(user) : "";

    if (u.empty() || u.size() > max_user_id_length || !is_visible_ascii(u)) {
        return refuse(envelope_error::user_id_invalid);
    }

    user_id_ = u;

    const json_t *config = json_object_get(root_, "config_id");

    if (config != nullptr && !json_is_null(config)) {
        if (!json_is_integer(config)) {
            return refuse(envelope_error::config_id_invalid);
        }

        has_config_id_ = true;
        config_id_ = json_integer_value(config);
    }

    const json_t *payload = json_object_get(root_, "payload");

    if (payload == nullptr || json_is_null(payload)) {
        return refuse(envelope_error::payload_missing);
    }

    if (!json_is_object(payload)) {
        return refuse(envelope_error::payload_invalid);
    }

    payload_ = payload;

    return envelope_error::ok;

} catch (const std::exception &) {
    return envelope_error::no_memory;
}

build_result
build_outbound(const interface_request &req, const interface_target &target,
               const signing_inputs &in, outbound_call &out) noexcept
try {
    out = outbound_call();

    if (req.payload() == nullptr) {
        add_problem(out, "payload", "required, a JSON object");
        return build_result::incomplete;
    }

    out.nonce.assign(in.nonce);
    out.timestamp.assign(in.timestamp);

    return target.dialect == dialect::aliyun
               ? build_aliyun(req.payload(), target, in, out)
               : build_huawei(req.payload(), target, in, out);

} catch (const std::exception &) {
    return build_result::no_memory;
}

bool
problems_text(const outbound_call &call, std::string &out) noexcept
try {
    out.clear();

    for (const interface_problem &p : call.problems) {
        if (!out.empty()) {
            out += "; ";
        }

        out += p.field;
        out += ": ";
        out += p.message;
    }

    return true;

} catch (const std::exception &) {
    return false;
}

bool
render_debug_answer(const interface_request &req, const debug_context &ctx,
                    const outbound_call &call, std::string &out) noexcept
try {
    bool ready = call.problems.empty();

    // what may throw first, held until handed over
    json_ref signing(ready ? signing_json(ctx, call) : json_null());
    json_ref request(ready ? request_json(call) : json_null());
    json_ref problems(problems_json(call));
    json_ref root(json_object());
    json_t *data = json_object();
    json_t *target = json_object();

    json_builder(target)
        .str("name", ctx.target)
        .num("config_id", ctx.config_id)
        .str("dialect", ctx.dialect == dialect::aliyun ? "aliyun" : "huawei")
        .str("app", ctx.app)
        .str("key_id", ctx.key_id)
        .str("pass", ctx.pass);

    json_builder d(data);

    d.str("mode", "debug")
        .set("sent", json_false())
        .set("ready", json_boolean(ready))
        .str("user_id", req.user_id())
        .set("target", target)
        .set("operation",
             call.operation.empty()
                 ? json_null()
                 : json_stringn(call.operation.data(), call.operation.size()))
        .set("signing", signing.release())
        .set("request", request.release())
        .set("problems", problems.release());

    // data goes into root whatever happened to it, so that root frees it
    bool filled = d.ok();
    bool ok = json_builder(root.get())
                  .num("status_code", 200)
                  .str("message", "Success")
                  .set("data", data)
                  .set("error", json_null())
                  .ok();

    return filled && ok && dump(root.get(), out);

} catch (const std::exception &) {
    return false;
}

namespace {

// The platform refused the call: its own 4xx passes through, a 5xx is
// the gateway's 502, a refusal inside a 2xx is 422; its code and text go
// into error, its whole answer into data.
interface_answer
platform_refusal(provision_x::dialect which, unsigned platform_status,
                 json_t *answer, std::string_view code, std::string &out)
{
    bool aliyun = which == dialect::aliyun;
    unsigned status = platform_status >= 500   ? 502
                      : platform_status >= 400 ? platform_status
                                               : 422;
    const json_t *message =
        json_object_get(answer, aliyun ? "Message" : "resultdesc");
    std::string_view text = json_is_string(message)
                                ? json_text(message)
                                : "the platform refused the call";

    json_ref root(json_object());
    json_t *error = json_object();

    json_builder(error)
        .str("code", name_of(interface_outcome::platform_error))
        .str("message", text)
        .set("platform_code", code.empty()
                                  ? json_null()
                                  : json_stringn(code.data(), code.size()))
        .num("platform_status", platform_status);

    json_incref(answer);

    bool ok = json_builder(root.get())
                  .num("status_code", status)
                  .str("message", text)
                  .set("data", answer)
                  .set("error", error)
                  .ok();

    if (!ok || !dump(root.get(), out)) {
        out.clear();
        return {500, interface_outcome::internal_error};
    }

    return {status, interface_outcome::platform_error};
}

} // namespace

interface_answer
render_platform_answer(provision_x::dialect which, const platform_reply &reply,
                       std::string &out) noexcept
try {
    out.clear();

    if (reply.status == 0) {
        if (reply.failure == 504) {
            return gateway_error(504, interface_outcome::platform_timeout,
                                 "gateway timeout",
                                 "the platform did not answer in time", out);
        }

        return gateway_error(502, interface_outcome::platform_error,
                             "bad gateway", "the platform could not be reached",
                             out);
    }

    bool redirect = reply.status >= 300 && reply.status < 400;
    json_ref obj(json_object());

    if (!reply.body.empty()) {
        json_t *parsed =
            json_loadb(reply.body.data(), reply.body.size(), 0, nullptr);

        if (json_is_object(parsed)) {
            obj.reset(parsed);

        } else {
            json_decref(parsed);

            /* a redirect's body is whatever the server had at hand */
            if (!redirect) {
                std::string m = "the platform's answer (HTTP ";

                m += std::to_string(reply.status);
                m += ") is not a JSON object";
                return gateway_error(502, interface_outcome::platform_error,
                                     "bad gateway", m, out);
            }
        }
    }

    if (obj.get() == nullptr) {
        out.clear();
        return {500, interface_outcome::internal_error};
    }

    if (redirect) {
        if (reply.location.empty()
            || json_object_set_new(
                   obj.get(), "location",
                   json_stringn(reply.location.data(), reply.location.size()))
                   != 0)
        {
            return gateway_error(502, interface_outcome::platform_error,
                                 "bad gateway",
                                 "the platform redirected without a usable "
                                 "Location",
                                 out);
        }
    }

    bool aliyun = which == dialect::aliyun;
    std::string scratch;
    std::string_view code = code_of(which, obj.get(), scratch);
    bool passed = (reply.status >= 200 && reply.status < 300) || redirect;

    if (passed && (code.empty() || code == (aliyun ? "OK" : "0"))) {
        json_ref root(json_object());
        json_incref(obj.get());

        bool ok = json_builder(root.get())
                      .num("status_code", 200)
                      .str("message", "Success")
                      .set("data", obj.get())
                      .set("error", json_null())
                      .ok();

        if (!ok || !dump(root.get(), out)) {
            out.clear();
            return {500, interface_outcome::internal_error};
        }

        return {200, interface_outcome::ok};
    }

    return platform_refusal(which, reply.status, obj.get(), code, out);

} catch (const std::exception &) {
    out.clear();
    return {500, interface_outcome::internal_error};
}

bool
is_valid_action(std::string_view action) noexcept
{
    if (action.empty() || action.size() > 64) {
        return false;
    }

    for (unsigned char c : action) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')))
        {
            return false;
        }
    }

    return true;
}

bool
is_valid_api_path(std::string_view path) noexcept
{
    if (path.size() < 2 || path.size() > 256 || path[0] != '/') {
        return false;
    }

    for (unsigned char c : path) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~'
                  || c == '/' || c == '-';
        if (!ok) {
            return false;
        }
    }

    // every segment names something: no "//", "/./", "/../", trailing "/"
    std::size_t start = 1;

    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        std::string_view seg = path.substr(start, end == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : end - start);

        if (seg.empty() || seg == "." || seg == "..") {
            return false;
        }

        if (end == std::string_view::npos) {
            break;
        }

        start = end + 1;
    }

    return true;
}

} // namespace provision_x
