// The interface endpoint's core (issue 19): the envelope's refusals, the
// outbound call built from a payload (the spec's POP-1..6 and HW-1..6
// vectors reproduced through it), the debug answer and the platform's
// answers turned into the envelope.

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <jansson.h>

#include "core/interface.hpp"
#include "core/signature.hpp"
#include "signing_vectors.hpp"

using namespace provision_x;
using px_test::family;
using px_test::field;
using px_test::for_each_vector;

namespace {

// Owns a parsed answer.
struct parsed {
    json_t *root;

    explicit parsed(const std::string &text)
        : root(json_loadb(text.data(), text.size(), 0, nullptr))
    {
        EXPECT_NE(nullptr, root) << text;
    }

    ~parsed()
    {
        json_decref(root);
    }

    // "a.b.c" through objects
    json_t *at(const char *path) const
    {
        json_t *v = root;
        std::string p(path);
        std::size_t start = 0;

        while (v != nullptr && start <= p.size()) {
            std::size_t dot = p.find('.', start);
            std::string key = p.substr(start, dot - start);

            v = json_object_get(v, key.c_str());
            if (dot == std::string::npos) {
                break;
            }
            start = dot + 1;
        }

        return v;
    }

    std::string str(const char *path) const
    {
        json_t *v = at(path);

        return json_is_string(v) ? json_string_value(v) : "<not a string>";
    }

    long long num(const char *path) const
    {
        json_t *v = at(path);

        return json_is_integer(v) ? json_integer_value(v) : -1;
    }
};

std::string
envelope(const std::string &payload, const char *mode = "live")
{
    return std::string("{\"mode\":\"") + mode
           + "\",\"user_id\":\"user123\",\"payload\":" + payload + "}";
}

const std::string_view pop_operations[] = {"QueryRecordFileDownloadUrl",
                                           "BindAxb"};

interface_target
aliyun_target(std::string_view method = "POST")
{
    interface_target t;

    t.dialect = dialect::aliyun;
    t.key_id = "testId";
    t.secret = "testSecret";
    t.method = method;
    t.operations = pop_operations;
    t.operation_count = 2;
    return t;
}

const std::string_view huawei_operations[] = {
    "/rest/provision/voice/record/v1.0",
    "/rest/caas/relationnumber/partners/v1.0"};

interface_target
huawei_target(std::string_view app = "appKeyA",
              std::string_view secret = "secretA")
{
    interface_target t;

    t.dialect = dialect::huawei;
    t.key_id = app;
    t.secret = secret;
    t.operations = huawei_operations;
    t.operation_count = 2;
    return t;
}

const signing_inputs fixed = {"45e25e9b-0a6f-4070-8c85-2956eda1b466",
                              "2024-01-02T03:04:05Z"};

build_result
build(const std::string &payload, const interface_target &t,
      outbound_call &call, const signing_inputs &in = fixed)
{
    interface_request req;
    std::string detail;

    EXPECT_EQ(envelope_error::ok, req.parse(envelope(payload), detail))
        << detail;
    return build_outbound(req, t, in, call);
}

std::vector<std::string>
fields(const outbound_call &call)
{
    std::vector<std::string> f;

    for (const interface_problem &p : call.problems) {
        f.push_back(p.field + ": " + p.message);
    }
    return f;
}

} // namespace

// ---- the envelope ---------------------------------------------------------

TEST(InterfaceEnvelope, TheBriefsExampleParses)
{
    interface_request req;
    std::string detail;

    ASSERT_EQ(envelope_error::ok,
              req.parse("{\"mode\":\"debug\",\"config_id\":12345,"
                        "\"user_id\":\"user123\",\"payload\":{}}",
                        detail));
    EXPECT_EQ(interface_mode::debug, req.mode());
    EXPECT_TRUE(req.has_config_id());
    EXPECT_EQ(12345, req.config_id());
    EXPECT_EQ("user123", req.user_id());
    EXPECT_NE(nullptr, req.payload());
    EXPECT_EQ("", detail);

    // config_id is optional; null is its absence
    ASSERT_EQ(envelope_error::ok,
              req.parse("{\"mode\":\"live\",\"config_id\":null,"
                        "\"user_id\":\"u@example.com\",\"payload\":{}}",
                        detail));
    EXPECT_EQ(interface_mode::live, req.mode());
    EXPECT_FALSE(req.has_config_id());
}

TEST(InterfaceEnvelope, EveryRefusalNamesItsField)
{
    struct {
        std::string body;
        envelope_error e;
        std::string detail;
    } cases[] = {
        {"", envelope_error::empty, "body: required, a JSON object"},
        {"[1]", envelope_error::not_object, "body: must be a JSON object"},
        {"{\"mode\":\"live\",\"user_id\":\"u\",\"payload\":{},\"x\":1}",
         envelope_error::unknown_field,
         "body.x: not a field of the request (mode, config_id, user_id, "
         "payload)"},
        {"{\"user_id\":\"u\",\"payload\":{}}", envelope_error::mode_missing,
         "mode: required, \"live\" or \"debug\""},
        {"{\"mode\":\"LIVE\",\"user_id\":\"u\",\"payload\":{}}",
         envelope_error::mode_invalid, "mode: must be \"live\" or \"debug\""},
        {"{\"mode\":1,\"user_id\":\"u\",\"payload\":{}}",
         envelope_error::mode_invalid, "mode: must be \"live\" or \"debug\""},
        {"{\"mode\":\"live\",\"payload\":{}}", envelope_error::user_id_missing,
         "user_id: required, for tracking"},
        {"{\"mode\":\"live\",\"user_id\":\"\",\"payload\":{}}",
         envelope_error::user_id_invalid,
         "user_id: must be 1-128 visible ASCII characters, without '\"' or "
         "'\\'"},
        {"{\"mode\":\"live\",\"user_id\":\"a b\",\"payload\":{}}",
         envelope_error::user_id_invalid, ""},
        {"{\"mode\":\"live\",\"user_id\":\"a\\\"b\",\"payload\":{}}",
         envelope_error::user_id_invalid, ""},
        {"{\"mode\":\"live\",\"user_id\":\"" + std::string(129, 'u')
             + "\",\"payload\":{}}",
         envelope_error::user_id_invalid, ""},
        {"{\"mode\":\"live\",\"user_id\":7,\"payload\":{}}",
         envelope_error::user_id_invalid, ""},
        {"{\"mode\":\"live\",\"user_id\":\"u\",\"config_id\":\"12\","
         "\"payload\":{}}",
         envelope_error::config_id_invalid, "config_id: must be an integer"},
        {"{\"mode\":\"live\",\"user_id\":\"u\",\"config_id\":1.5,"
         "\"payload\":{}}",
         envelope_error::config_id_invalid, "config_id: must be an integer"},
        {"{\"mode\":\"live\",\"user_id\":\"u\"}",
         envelope_error::payload_missing, "payload: required, a JSON object"},
        {"{\"mode\":\"live\",\"user_id\":\"u\",\"payload\":[]}",
         envelope_error::payload_invalid, "payload: must be a JSON object"},
        {"{\"mode\":\"live\",\"user_id\":\"u\",\"payload\":\"{}\"}",
         envelope_error::payload_invalid, "payload: must be a JSON object"},
    };

    for (auto &c : cases) {
        SCOPED_TRACE(c.body);
        interface_request req;
        std::string detail;

        EXPECT_EQ(c.e, req.parse(c.body, detail));
        if (!c.detail.empty()) {
            EXPECT_EQ(c.detail, detail);
        } else {
            EXPECT_EQ(describe(c.e), detail);
        }
    }
}

TEST(InterfaceEnvelope, NotJsonSaysWhere)
{
    interface_request req;
    std::string detail;

    EXPECT_EQ(envelope_error::not_json, req.parse("{\"mode\":", detail));
    EXPECT_EQ(0u, detail.find("body: not JSON ("));

    // a key twice is ambiguous: which one did the caller mean?
    EXPECT_EQ(envelope_error::not_json,
              req.parse("{\"mode\":\"live\",\"mode\":\"debug\","
                        "\"user_id\":\"u\",\"payload\":{}}",
                        detail));
    EXPECT_NE(std::string::npos, detail.find("duplicate"));

    // not UTF-8
    EXPECT_EQ(envelope_error::not_json,
              req.parse("{\"mode\":\"live\",\"user_id\":\"\xff\","
                        "\"payload\":{}}",
                        detail));
}

TEST(InterfaceEnvelope, AParseForgetsThePreviousRequest)
{
    interface_request req;
    std::string detail;

    ASSERT_EQ(envelope_error::ok,
              req.parse("{\"mode\":\"live\",\"config_id\":3,"
                        "\"user_id\":\"u\",\"payload\":{}}",
                        detail));
    EXPECT_EQ(envelope_error::payload_missing,
              req.parse("{\"mode\":\"live\",\"user_id\":\"u\"}", detail));
    EXPECT_FALSE(req.has_config_id());
    EXPECT_EQ(nullptr, req.payload());
}

TEST(InterfaceEnvelope, LongUnknownFieldIsCutAtACharacter)
{
    interface_request req;
    std::string detail;
    // 63 ASCII bytes, then a 3-byte character across the 64-byte cut
    std::string key(63, 'k');

    key += "\xe5\x8f\xb7";
    ASSERT_EQ(envelope_error::unknown_field,
              req.parse("{\"" + key + "\":1}", detail));
    EXPECT_EQ("body." + std::string(63, 'k') + "...: ",
              detail.substr(0, 5 + 63 + 5));
}

// ---- POP v1 through the interface: the spec's vectors ---------------------

TEST(InterfacePop, VectorsReproduceThroughThePayload)
{
    for_each_vector("aliyun_pop", 6, [&](json_t *vec) {
        // what a caller sends: the vector's parameters less the gateway's
        json_t *payload = json_object();
        const char *key;
        json_t *value;
        json_object_foreach(json_object_get(vec, "params"), key, value)
        {
            std::string_view k(key);
            if (k != "AccessKeyId" && k != "SignatureMethod"
                && k != "SignatureVersion" && k != "SignatureNonce"
                && k != "Timestamp")
            {
                json_object_set(payload, key, value);
            }
        }
        char *text = json_dumps(payload, JSON_COMPACT);
        std::string payload_text(text);
        free(text);
        json_decref(payload);

        json_t *params = json_object_get(vec, "params");
        signing_inputs in = {
            json_string_value(json_object_get(params, "SignatureNonce")),
            json_string_value(json_object_get(params, "Timestamp"))};
        std::string_view method = field(vec, "method");
        interface_target t = aliyun_target(method);
        std::string secret(field(vec, "secret"));
        t.secret = secret;

        outbound_call call;
        ASSERT_EQ(build_result::ok, build(payload_text, t, call, in))
            << ::testing::PrintToString(fields(call));

        EXPECT_EQ(field(vec, "canonicalizedQueryString"), call.canonical);
        EXPECT_EQ(field(vec, "stringToSign"), call.string_to_sign);
        EXPECT_EQ(field(vec, "base64"), call.signature);
        EXPECT_EQ(method, call.method);
        EXPECT_EQ("/", call.path);

        std::string signed_query =
            std::string(field(vec, "canonicalizedQueryString"))
            + "&Signature=" + std::string(field(vec, "signature_in_query"));

        if (method == "GET") {
            EXPECT_EQ(signed_query, call.query);
            EXPECT_EQ("", call.body);
            EXPECT_EQ("", call.content_type);
        } else {
            EXPECT_EQ("", call.query);
            EXPECT_EQ(signed_query, call.body);
            EXPECT_EQ("application/x-www-form-urlencoded", call.content_type);
        }

        EXPECT_EQ("", call.authorization);
        EXPECT_EQ(std::string::npos, call.query.find(secret));
        EXPECT_EQ(std::string::npos, call.body.find(secret));
    });
}

TEST(InterfacePop, TheGatewayFillsTheCommonParameters)
{
    outbound_call call;
    interface_target t = aliyun_target("GET");

    t.region = "cn-shanghai";
    ASSERT_EQ(build_result::ok,
              build("{\"Action\":\"BindAxb\",\"PoolKey\":\"FC1\","
                    "\"Expiration\":\"2023-11-09 17:15:30\",\"IsRecording\":"
                    "true,\"Seq\":42}",
                    t, call));
    EXPECT_EQ("BindAxb", call.operation);
    EXPECT_EQ("AccessKeyId=testId&Action=BindAxb&Expiration=2023-11-09%2017"
              "%3A15%3A30&Format=JSON&IsRecording=true&PoolKey=FC1&RegionId="
              "cn-shanghai&Seq=42&SignatureMethod=HMAC-SHA1&SignatureNonce="
              "45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&"
              "Timestamp=2024-01-02T03%3A04%3A05Z&Version=2017-05-25",
              call.canonical);
    EXPECT_EQ(fixed.nonce, call.nonce);
    EXPECT_EQ(fixed.timestamp, call.timestamp);

    // the caller may choose RegionId and Version
    ASSERT_EQ(build_result::ok,
              build("{\"Action\":\"BindAxb\",\"RegionId\":\"cn-beijing\","
                    "\"Version\":\"2099-01-01\"}",
                    t, call));
    EXPECT_NE(std::string::npos, call.canonical.find("RegionId=cn-beijing&"));
    EXPECT_NE(std::string::npos, call.canonical.find("Version=2099-01-01"));
}

TEST(InterfacePop, AnActionOffTheListIsNotAllowed)
{
    outbound_call call;

    EXPECT_EQ(build_result::operation_not_allowed,
              build("{\"Action\":\"UnbindSubscription\",\"Timestamp\":\"x\"}",
                    aliyun_target(), call));
    EXPECT_EQ("UnbindSubscription", call.operation);
    EXPECT_EQ("", call.signature);
    EXPECT_EQ("", call.body);
}

TEST(InterfacePop, ProblemsAreListedAndNothingIsSigned)
{
    outbound_call call;

    EXPECT_EQ(build_result::incomplete,
              build("{\"PoolKey\":\"FC1\"}", aliyun_target(), call));
    EXPECT_EQ(std::vector<std::string>{"payload.Action: required: the POP "
                                       "action to call"},
              fields(call));

    EXPECT_EQ(build_result::incomplete,
              build("{\"Action\":\"Bind Axb\"}", aliyun_target(), call));
    EXPECT_EQ(std::vector<std::string>{"payload.Action: must be 1-64 "
                                       "letters and digits"},
              fields(call));

    EXPECT_EQ(
        build_result::incomplete,
        build("{\"Action\":\"QueryRecordFileDownloadUrl\",\"Timestamp\":"
              "\"2024-01-01T00:00:00Z\",\"Signature\":\"x\",\"Format\":\"XML\","
              "\"CallTime\":null,\"Extra\":[1],\"bad name\":\"v\"}",
              aliyun_target(), call));

    std::vector<std::string> f = fields(call);
    std::vector<std::string> want = {
        "payload.CallTime: must be a string, an integer or a boolean",
        "payload.Extra: must be a string, an integer or a boolean",
        "payload.bad name: not a parameter name: 1-64 of A-Z a-z 0-9 . _ -",
        "payload.Signature: set by the gateway",
        "payload.Timestamp: set by the gateway",
        "payload.Format: must be JSON: the gateway reads JSON answers",
        "payload.CallId: required by QueryRecordFileDownloadUrl (spec §2.7)",
        "payload.CallTime: required by QueryRecordFileDownloadUrl (spec §2.7)",
        "payload.PoolKey: required by QueryRecordFileDownloadUrl (spec §2.7) "
        "when ProductType is empty",
    };
    std::sort(f.begin(), f.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(want, f);
    EXPECT_EQ("", call.signature);
    EXPECT_EQ("", call.string_to_sign);
    EXPECT_EQ("", call.body);

    std::string line;
    ASSERT_TRUE(problems_text(call, line));
    EXPECT_NE(std::string::npos,
              line.find("payload.Signature: set by the gateway; "));

    // ProductType stands in for PoolKey
    EXPECT_EQ(
        build_result::ok,
        build("{\"Action\":\"QueryRecordFileDownloadUrl\",\"ProductType\":"
              "\"AXB_170\",\"CallId\":\"c\",\"CallTime\":\"t\"}",
              aliyun_target(), call));
}

TEST(InterfacePop, AnUnusableNonceOrTimestampIsTheGatewaysFault)
{
    outbound_call call;

    EXPECT_EQ(build_result::bad_input,
              build("{\"Action\":\"BindAxb\"}", aliyun_target(), call,
                    {"", "2024-01-02T03:04:05Z"}));
}

// ---- Huawei X-AKSK through the interface: the spec's vectors -------------

TEST(InterfaceHuawei, VectorsReproduceThroughThePayload)
{
    for_each_vector("huawei_xaksk", 6, [&](json_t *vec) {
        std::string app(field(vec, "appKey"));
        std::string secret(field(vec, "appSecret"));
        signing_inputs in = {field(vec, "nonce"), field(vec, "created")};
        outbound_call call;

        ASSERT_EQ(build_result::ok,
                  build("{\"path\":\"/rest/provision/voice/record/v1.0\","
                        "\"query\":{\"recordDomain\":\"d.example.com\","
                        "\"fileName\":\"rec 1.wav\"}}",
                        huawei_target(app, secret), call, in))
            << ::testing::PrintToString(fields(call));

        EXPECT_EQ(field(vec, "x_aksk_header"), call.x_aksk);
        EXPECT_EQ(aksk_authorization, call.authorization);
        EXPECT_EQ(field(vec, "passwordDigest"), call.signature);
        EXPECT_EQ(field(vec, "message"), call.string_to_sign);
        EXPECT_EQ("GET", call.method);
        EXPECT_EQ("/rest/provision/voice/record/v1.0", call.path);
        EXPECT_EQ("fileName=rec%201.wav&recordDomain=d.example.com",
                  call.query);
        EXPECT_EQ("", call.body);
        EXPECT_EQ("application/json;charset=UTF-8", call.content_type);
        EXPECT_EQ(std::string::npos, call.x_aksk.find(secret));
    });
}

TEST(InterfaceHuawei, ABodyMeansPostAndGoesOutCompact)
{
    outbound_call call;

    ASSERT_EQ(
        build_result::ok,
        build("{\"path\":\"/rest/caas/relationnumber/partners/v1.0\","
              "\"body\":{\"relationNum\":\"+8617000000001\","
              "\"callerNum\":\"+8613800000001\", \"maxDuration\": 60}}",
              huawei_target(), call,
              {"66C92B11FF8A425FB8D4CCFE0ED9ED1F", "2018-02-12T15:30:20Z"}));
    EXPECT_EQ("POST", call.method);
    EXPECT_EQ("{\"relationNum\":\"+8617000000001\",\"callerNum\":"
              "\"+8613800000001\",\"maxDuration\":60}",
              call.body);
    EXPECT_EQ("", call.query);

    ASSERT_EQ(
        build_result::ok,
        build("{\"path\":\"/rest/caas/relationnumber/partners/v1.0\","
              "\"method\":\"DELETE\",\"query\":{\"subscriptionId\":7}}",
              huawei_target(), call,
              {"66C92B11FF8A425FB8D4CCFE0ED9ED1F", "2018-02-12T15:30:20Z"}));
    EXPECT_EQ("DELETE", call.method);
    EXPECT_EQ("subscriptionId=7", call.query);
}

TEST(InterfaceHuawei, ProblemsAndTheAllowList)
{
    outbound_call call;
    signing_inputs in = {"A", "2024-01-02T03:04:05Z"};

    EXPECT_EQ(
        build_result::operation_not_allowed,
        build("{\"path\":\"/rest/other/v1.0\"}", huawei_target(), call, in));
    EXPECT_EQ("/rest/other/v1.0", call.operation);

    EXPECT_EQ(build_result::incomplete,
              build("{\"path\":\"/rest/provision/voice/record/v1.0\","
                    "\"method\":\"POST\",\"body\":[],\"query\":{\"fileName\":"
                    "{}},\"extra\":1}",
                    huawei_target(), call, in));

    std::vector<std::string> f = fields(call);
    std::vector<std::string> want = {
        "payload.extra: not one of path, method, query, body",
        "payload.body: must be a JSON object",
        "payload.query.fileName: must be a string, an integer or a boolean",
        "payload.method: must be GET for /rest/provision/voice/record/v1.0",
        "payload.query.fileName: required by "
        "/rest/provision/voice/record/v1.0 (spec §3.7)",
        "payload.query.recordDomain: required by "
        "/rest/provision/voice/record/v1.0 (spec §3.7)",
    };
    std::sort(f.begin(), f.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(want, f);
    EXPECT_EQ("", call.x_aksk);

    EXPECT_EQ(build_result::incomplete,
              build("{\"path\":\"/rest/caas/relationnumber/partners/v1.0\","
                    "\"method\":\"GET\",\"body\":{}}",
                    huawei_target(), call, in));
    EXPECT_EQ(std::vector<std::string>{"payload.body: a GET carries no body"},
              fields(call));

    for (const char *path : {"\"rest/x\"", "\"/rest//x\"", "\"/rest/../x\"",
                             "\"/rest/x?y=1\"", "\"/\"", "7"})
    {
        SCOPED_TRACE(path);
        EXPECT_EQ(build_result::incomplete,
                  build(std::string("{\"path\":") + path + "}", huawei_target(),
                        call, in));
        ASSERT_EQ(1u, call.problems.size());
        EXPECT_EQ("payload.path", call.problems[0].field);
    }

    EXPECT_EQ(build_result::incomplete,
              build("{\"query\":{}}", huawei_target(), call, in));
    EXPECT_EQ("payload.path", call.problems.at(0).field);
}

TEST(InterfaceHuawei, ANonceTheParserWouldRefuseIsBadInput)
{
    outbound_call call;

    EXPECT_EQ(build_result::bad_input,
              build("{\"path\":\"/rest/caas/relationnumber/partners/v1.0\"}",
                    huawei_target(), call,
                    {"45e25e9b-0a6f", "2024-01-02T03:04:05Z"}));
}

// ---- the debug answer -------------------------------------------------------

TEST(InterfaceDebug, ExplainsTheSignedRequestWithoutTheSecret)
{
    json_t *vec = json_array_get(family("aliyun_pop"), 0); // POP-1, GET
    ASSERT_NE(nullptr, vec);

    interface_request req;
    std::string detail;
    ASSERT_EQ(envelope_error::ok,
              req.parse(envelope("{\"Action\":\"QueryRecordFileDownloadUrl\","
                                 "\"PoolKey\":\"FC123456\",\"CallId\":"
                                 "\"abcedf1234\",\"CallTime\":\"2019-03-05 "
                                 "12:00:00\"}",
                                 "debug"),
                        detail));

    outbound_call call;
    ASSERT_EQ(build_result::ok,
              build_outbound(req, aliyun_target("GET"), fixed, call));

    debug_context ctx;
    ctx.dialect = dialect::aliyun;
    ctx.target = "ali";
    ctx.config_id = 12345;
    ctx.app = "testId";
    ctx.key_id = "testId";
    ctx.pass = "/_px/aliyun";

    std::string out;
    ASSERT_TRUE(render_debug_answer(req, ctx, call, out));
    EXPECT_EQ('\n', out.back());
    EXPECT_EQ(std::string::npos, out.find("testSecret"));

    parsed a(out);
    EXPECT_EQ(200, a.num("status_code"));
    EXPECT_EQ("Success", a.str("message"));
    EXPECT_TRUE(json_is_null(a.at("error")));
    EXPECT_EQ("debug", a.str("data.mode"));
    EXPECT_TRUE(json_is_false(a.at("data.sent")));
    EXPECT_TRUE(json_is_true(a.at("data.ready")));
    EXPECT_EQ("user123", a.str("data.user_id"));
    EXPECT_EQ("ali", a.str("data.target.name"));
    EXPECT_EQ(12345, a.num("data.target.config_id"));
    EXPECT_EQ("/_px/aliyun", a.str("data.target.pass"));
    EXPECT_EQ("QueryRecordFileDownloadUrl", a.str("data.operation"));
    EXPECT_EQ("HMAC-SHA1", a.str("data.signing.algorithm"));
    EXPECT_EQ(field(vec, "stringToSign"), a.str("data.signing.string_to_sign"));
    EXPECT_EQ(field(vec, "canonicalizedQueryString"),
              a.str("data.signing.canonical_query"));
    EXPECT_EQ(field(vec, "base64"), a.str("data.signing.signature"));
    EXPECT_EQ("the AccessKeySecret of app \"testId\", then \"&\" (never "
              "shown)",
              a.str("data.signing.key"));
    EXPECT_EQ("GET", a.str("data.request.method"));
    EXPECT_EQ("/", a.str("data.request.path"));
    EXPECT_NE(std::string::npos,
              a.str("data.request.query")
                  .find("&Signature="
                        + std::string(field(vec, "signature_in_query"))));
    EXPECT_EQ(0u, json_array_size(a.at("data.problems")));
}

TEST(InterfaceDebug, HuaweiShowsTheHeaders)
{
    interface_request req;
    std::string detail;
    ASSERT_EQ(envelope_error::ok,
              req.parse(envelope("{\"path\":\"/rest/provision/voice/record/"
                                 "v1.0\",\"query\":{\"fileName\":\"a.wav\","
                                 "\"recordDomain\":\"d\"}}",
                                 "debug"),
                        detail));

    outbound_call call;
    ASSERT_EQ(build_result::ok,
              build_outbound(
                  req, huawei_target("appKeyC", "s3cr3t/+=&~"),
                  {"f47ac10b58cc4372a5670e02b2c3d479", "2025-06-15T08:00:00Z"},
                  call));

    debug_context ctx;
    ctx.dialect = dialect::huawei;
    ctx.app = "appKeyC";

    std::string out;
    ASSERT_TRUE(render_debug_answer(req, ctx, call, out));
    EXPECT_EQ(std::string::npos, out.find("s3cr3t"));

    parsed a(out);
    EXPECT_EQ("HMAC-SHA256", a.str("data.signing.algorithm"));
    EXPECT_EQ("2025-06-15T08:00:00Z", a.str("data.signing.created"));
    EXPECT_EQ("f47ac10b58cc4372a5670e02b2c3d4792025-06-15T08:00:00Z",
              a.str("data.signing.string_to_sign"));
    EXPECT_EQ("/ApA5lsKmMYkzH48rRCSJqXG+nJspQdwLufkNuYM1IA=",
              a.str("data.signing.signature"));
    EXPECT_EQ("AKSK realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"",
              a.str("data.request.headers.Authorization"));
    EXPECT_EQ("UsernameToken Username=\"appKeyC\",PasswordDigest=\"/ApA5lsKm"
              "MYkzH48rRCSJqXG+nJspQdwLufkNuYM1IA=\",Nonce=\"f47ac10b58cc437"
              "2a5670e02b2c3d479\",Created=\"2025-06-15T08:00:00Z\"",
              a.str("data.request.headers.X-AKSK"));
    EXPECT_EQ("application/json;charset=UTF-8",
              a.str("data.request.headers.Content-Type"));
    EXPECT_EQ("fileName=a.wav&recordDomain=d", a.str("data.request.query"));
}

TEST(InterfaceDebug, ProblemsLeaveNothingSigned)
{
    interface_request req;
    std::string detail;
    ASSERT_EQ(envelope_error::ok,
              req.parse(envelope("{\"Action\":\"QueryRecordFileDownloadUrl\","
                                 "\"PoolKey\":\"FC1\"}",
                                 "debug"),
                        detail));

    outbound_call call;
    ASSERT_EQ(build_result::incomplete,
              build_outbound(req, aliyun_target(), fixed, call));

    std::string out;
    ASSERT_TRUE(render_debug_answer(req, debug_context(), call, out));

    parsed a(out);
    EXPECT_TRUE(json_is_false(a.at("data.ready")));
    EXPECT_TRUE(json_is_null(a.at("data.signing")));
    EXPECT_TRUE(json_is_null(a.at("data.request")));
    ASSERT_EQ(2u, json_array_size(a.at("data.problems")));
    EXPECT_STREQ("payload.CallId",
                 json_string_value(json_object_get(
                     json_array_get(a.at("data.problems"), 0), "field")));
    EXPECT_EQ(std::string::npos, out.find("Signature="));
}

// ---- the platform's answers ------------------------------------------------

TEST(InterfaceAnswer, AliyunSuccessBecomesData)
{
    std::string out;
    platform_reply r;
    r.status = 200;
    r.body = "{\"Code\":\"OK\",\"Message\":\"OK\",\"RequestId\":\"R-1\","
             "\"DownloadUrl\":\"https://r.example.com/a.mp3?x=1\"}";

    interface_answer a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(200u, a.status);
    EXPECT_EQ(interface_outcome::ok, a.outcome);
    EXPECT_EQ("{\"status_code\":200,\"message\":\"Success\",\"data\":{\"Code\":"
              "\"OK\",\"Message\":\"OK\",\"RequestId\":\"R-1\",\"DownloadUrl\":"
              "\"https://r.example.com/a.mp3?x=1\"},\"error\":null}\n",
              out);
}

TEST(InterfaceAnswer, AliyunRefusalsBecomePlatformErrors)
{
    std::string out;
    platform_reply r;
    r.status = 400;
    r.body = "{\"RequestId\":\"R-2\",\"Code\":\"SignatureDoesNotMatch\","
             "\"Message\":\"Specified signature is not matched with our "
             "calculation.\"}";

    interface_answer a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(400u, a.status);
    EXPECT_EQ(interface_outcome::platform_error, a.outcome);

    parsed p(out);
    EXPECT_EQ(400, p.num("status_code"));
    EXPECT_EQ("Specified signature is not matched with our calculation.",
              p.str("message"));
    EXPECT_EQ("platform_error", p.str("error.code"));
    EXPECT_EQ("SignatureDoesNotMatch", p.str("error.platform_code"));
    EXPECT_EQ(400, p.num("error.platform_status"));
    EXPECT_EQ("R-2", p.str("data.RequestId"));

    // a business refusal in a 200
    r.status = 200;
    r.body = "{\"Code\":\"isv.NO_AVAILABLE_NUMBER\",\"Message\":\"no number\"}";
    a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(422u, a.status);
    EXPECT_EQ(interface_outcome::platform_error, a.outcome);

    // the platform's own failure: retry later
    r.status = 503;
    r.body = "{\"Code\":\"ServiceUnavailable\",\"Message\":\"busy\"}";
    a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(502u, a.status);
    EXPECT_EQ("ServiceUnavailable", parsed(out).str("error.platform_code"));

    // no Message: a neutral text
    r.status = 404;
    r.body = "{\"Code\":\"InvalidAction.NotFound\"}";
    a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(404u, a.status);
    EXPECT_EQ("the platform refused the call", parsed(out).str("message"));
}

TEST(InterfaceAnswer, NoAnswerOrNoJson)
{
    std::string out;
    platform_reply r;

    r.failure = 504;
    interface_answer a = render_platform_answer(dialect::huawei, r, out);
    EXPECT_EQ(504u, a.status);
    EXPECT_EQ(interface_outcome::platform_timeout, a.outcome);
    EXPECT_EQ("{\"status_code\":504,\"message\":\"gateway timeout\",\"data\":"
              "null,\"error\":{\"code\":\"platform_timeout\",\"message\":"
              "\"the platform did not answer in time\"}}\n",
              out);

    r.failure = 502;
    a = render_platform_answer(dialect::huawei, r, out);
    EXPECT_EQ(502u, a.status);
    EXPECT_EQ(interface_outcome::platform_error, a.outcome);
    EXPECT_EQ("the platform could not be reached",
              parsed(out).str("error.message"));

    r.status = 200;
    r.body = "<html>maintenance</html>";
    a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(502u, a.status);
    EXPECT_EQ("the platform's answer (HTTP 200) is not a JSON object",
              parsed(out).str("error.message"));

    r.body = "[]";
    a = render_platform_answer(dialect::aliyun, r, out);
    EXPECT_EQ(502u, a.status);
}

TEST(InterfaceAnswer, HuaweiRedirectCarriesTheLocation)
{
    std::string out;
    platform_reply r;
    r.status = 301;
    r.body = "<html>moved</html>";
    r.location = "https://obs.example.com/rec/a.wav?sig=1";

    interface_answer a = render_platform_answer(dialect::huawei, r, out);
    EXPECT_EQ(200u, a.status);
    EXPECT_EQ(interface_outcome::ok, a.outcome);
    EXPECT_EQ("{\"status_code\":200,\"message\":\"Success\",\"data\":{"
              "\"location\":\"https://obs.example.com/rec/a.wav?sig=1\"},"
              "\"error\":null}\n",
              out);

    r.location = {};
    a = render_platform_answer(dialect::huawei, r, out);
    EXPECT_EQ(502u, a.status);
    EXPECT_EQ(interface_outcome::platform_error, a.outcome);
}

TEST(InterfaceAnswer, HuaweiResultCodes)
{
    std::string out;
    platform_reply r;

    r.status = 200;
    r.body = "{\"resultcode\":\"0\",\"resultdesc\":\"Success\","
             "\"subscriptionId\":\"s-1\"}";
    EXPECT_EQ(interface_outcome::ok,
              render_platform_answer(dialect::huawei, r, out).outcome);
    EXPECT_EQ("s-1", parsed(out).str("data.subscriptionId"));

    r.body = "{\"resultcode\":0}";
    EXPECT_EQ(interface_outcome::ok,
              render_platform_answer(dialect::huawei, r, out).outcome);

    r.status = 404;
    r.body = "{\"resultcode\":\"1012007\",\"resultdesc\":\"The record does "
             "not exist\"}";
    interface_answer a = render_platform_answer(dialect::huawei, r, out);
    EXPECT_EQ(404u, a.status);
    parsed p(out);
    EXPECT_EQ("1012007", p.str("error.platform_code"));
    EXPECT_EQ("The record does not exist", p.str("error.message"));

    r.status = 200;
    r.body = "{\"resultcode\":1010002}";
    a = render_platform_answer(dialect::huawei, r, out);
    EXPECT_EQ(422u, a.status);
    EXPECT_EQ("1010002", parsed(out).str("error.platform_code"));

    // an empty 2xx is a plain success
    r.status = 204;
    r.body = {};
    EXPECT_EQ(interface_outcome::ok,
              render_platform_answer(dialect::huawei, r, out).outcome);
}

// ---- names and configuration checks ---------------------------------------

TEST(InterfaceNames, OutcomesAndChecks)
{
    EXPECT_EQ("ok", name_of(interface_outcome::ok));
    EXPECT_EQ("operation_not_allowed",
              name_of(interface_outcome::operation_not_allowed));
    EXPECT_EQ("internal_error", name_of(interface_outcome::internal_error));

    EXPECT_TRUE(is_valid_action("QueryRecordFileDownloadUrl"));
    EXPECT_FALSE(is_valid_action(""));
    EXPECT_FALSE(is_valid_action("Bind.Axb"));
    EXPECT_FALSE(is_valid_action(std::string(65, 'A')));

    EXPECT_TRUE(is_valid_api_path("/rest/provision/voice/record/v1.0"));
    EXPECT_TRUE(is_valid_api_path("/a"));
    EXPECT_FALSE(is_valid_api_path("/"));
    EXPECT_FALSE(is_valid_api_path("/a/"));
    EXPECT_FALSE(is_valid_api_path("/a/./b"));
    EXPECT_FALSE(is_valid_api_path("/a/%2e%2e"));
    EXPECT_FALSE(is_valid_api_path("/" + std::string(256, 'a')));
}
