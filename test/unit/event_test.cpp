/*
 * Event pushes (src/core/cdr.hpp, push_type other than cdr): Huawei call
 * events, number status and SMS notifications, Aliyun's other receipts.
 */
#include "core/cdr.hpp"

#include "push_test.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

using namespace provision_x;
using namespace provision_x::test;

namespace {

const std::string session =
    "1200_1029_4294967295_20190123091514@callenabler246.huaweicaas.com";

/* §3.3.3 statusInfo of a call event in X mode */
const std::string status_info = "{\"timestamp\":\"2019-01-23 09:15:14\","
                                "\"userData\":\"order-42\",\"sessionId\":\""
                                + session
                                + "\",\"caller\":\"+8613800000021\","
                                  "\"called\":\"+8613800000022\"}";

std::string
call_event(const std::string &type, const std::string &info = status_info)
{
    return "{\"eventType\":\"" + type + "\",\"statusInfo\":" + info + "}";
}

/* §3.5 */
const std::string number_entry =
    "{\"number\":\"+8617000000001\",\"status\":\"10\",\"cause\":\"2\"}";

std::string
num_status(const std::vector<std::string> &entries)
{
    return "{\"eventType\":\"numStatus\",\"numInfo\":" + json_array(entries)
           + "}";
}

/* §3.6 */
const std::string app_key = "V1Z96521zFr3vxe5N2A1UJ1sQ1WP";
const std::string sms_event =
    "{\"smsIdentifier\":\"sms-0001\",\"notificationMode\":\"Notify\","
    "\"calling\":\"+8613800000021\",\"called\":\"+8613800000022\","
    "\"virtualNumber\":\"+8617000000001\",\"event\":\"TextSMS\","
    "\"timeStamp\":\"2020-12-23T09:06:16.450Z\","
    "\"subscriptionId\":\"e97b2863-e7ad-4b4c-87c0-91b0171fe803\","
    "\"smsContent\":\"\xe4\xbd\xa0\xe5\xa5\xbd\","
    "\"extInfo\":{\"extParas\":\"x\"}}";

std::string
sms(const std::string &event = sms_event,
    const std::string &key_value = "\"" + app_key + "\"")
{
    return "{\"appKey\":" + key_value + ",\"smsEvent\":" + event + "}";
}

/* §2.6.2, one receipt of each type */
const std::string start_report =
    "{\"pool_key\":\"FC100000123456789\",\"sub_id\":1000000012345,"
    "\"call_id\":\"abcedf1234\",\"phone_no\":\"13911110000\","
    "\"secret_no\":\"17100010000\",\"peer_no\":\"18600001111\","
    "\"called_display_no\":\"17100010000\",\"call_type\":0,"
    "\"call_time\":\"2017-09-01 12:00:00\",\"out_id\":\"order-1\","
    "\"control_msg\":\"OK\"}";
const std::string ring_report =
    "{\"phone_no\":\"13911110000\",\"secret_no\":\"17100010000\","
    "\"peer_no\":\"18600001111\",\"call_type\":0,\"call_id\":\"abcedf1234\","
    "\"call_time\":\"2017-09-01 12:00:00\",\"pool_key\":\"FC100000123456789\","
    "\"ring_time\":\"2017-09-01 12:00:05\",\"sub_id\":1000000012345,"
    "\"city\":\"\xe6\x9d\xad\xe5\xb7\x9e\",\"out_id\":\"order-1\"}";
const std::string recording = "{\"pool_key\":\"FC100000123456789\","
                              "\"sub_id\":1000000012345,"
                              "\"call_id\":\"abcedf1234\","
                              "\"call_time\":1629893489000,"
                              "\"out_id\":\"order-1\"}";
const std::string number_report =
    "{\"secret_no\":\"17100010000\",\"city\":\"\xe6\x9d\xad\xe5\xb7\x9e\","
    "\"partner_key\":\"PK4000123456\","
    "\"operating_time\":\"2021-08-25 20:11:29\",\"status\":1,\"Vendor\":3}";

cdr_options
accepting(std::initializer_list<push_type> types)
{
    cdr_options o;
    o.types = 0;
    for (push_type t : types) {
        o.types |= push_type_bit(t);
    }
    return o;
}

/* every Huawei event type: what its status URL may receive */
const cdr_options huawei_events = accepting(
    {push_type::callin, push_type::callout, push_type::alerting,
     push_type::answer, push_type::disconnect, push_type::num_status});

struct bad_field {
    std::string record;
    cdr_problem problem;
    const char *field;
};

/* Each record alone, as the only record of make(record): its verdict. */
template <typename Make>
void
expect_bad(dialect d, const cdr_options &o, Make make,
           const std::vector<bad_field> &cases)
{
    cdr_push p;
    for (const bad_field &c : cases) {
        ASSERT_EQ(parse(d, make(c.record), p, o), cdr_status::ok) << c.record;
        ASSERT_EQ(p.size(), 1u);
        EXPECT_FALSE(p[0].valid) << c.record;
        EXPECT_EQ(p[0].problem, c.problem) << c.record;
        EXPECT_STREQ(p[0].field, c.field) << c.record;
        EXPECT_NE(p[0].reason[0], '\0');
    }
}

} // namespace

/* ------------------------------------------------------------------ */
/* types                                                                */

TEST(push_types, names_and_sets)
{
    std::set<std::string> names;
    for (size_t i = 0; i < push_type_count; i++) {
        names.insert(push_type_name(static_cast<push_type>(i)));
    }
    EXPECT_EQ(names.size(), push_type_count);
    EXPECT_STREQ(push_type_name(push_type::num_status), "numStatus");
    EXPECT_STREQ(push_type_name(push_type::sms), "smsEvent");
    EXPECT_STREQ(push_type_name(push_type::recording), "SecretRecording");

    push_type t = push_type::cdr;
    EXPECT_TRUE(push_type_from_name(dialect::huawei, "disconnect", &t));
    EXPECT_EQ(t, push_type::disconnect);
    EXPECT_TRUE(
        push_type_from_name(dialect::aliyun, "NumberManagementReport", &t));
    EXPECT_EQ(t, push_type::number_report);
    EXPECT_TRUE(push_type_from_name(dialect::aliyun, "cdr", &t));
    EXPECT_EQ(t, push_type::cdr);
    /* each type belongs to its dialect; names are case-sensitive */
    EXPECT_FALSE(push_type_from_name(dialect::aliyun, "callout", &t));
    EXPECT_FALSE(push_type_from_name(dialect::huawei, "SecretRingReport", &t));
    EXPECT_FALSE(push_type_from_name(dialect::huawei, "Callout", &t));
    EXPECT_FALSE(push_type_from_name(dialect::huawei, "", &t));

    EXPECT_TRUE(push_types_valid(dialect::huawei, huawei_events.types));
    EXPECT_TRUE(
        push_types_valid(dialect::huawei, push_type_bit(push_type::cdr)
                                              | push_type_bit(push_type::sms)));
    EXPECT_FALSE(push_types_valid(dialect::huawei, 0));
    EXPECT_FALSE(push_types_valid(dialect::huawei,
                                  push_type_bit(push_type::ring_report)));
    EXPECT_FALSE(push_types_valid(dialect::huawei, 1u << 31));
    EXPECT_TRUE(
        push_types_valid(dialect::aliyun, push_type_bit(push_type::recording)));
    EXPECT_FALSE(push_types_valid(dialect::aliyun,
                                  push_type_bit(push_type::cdr)
                                      | push_type_bit(push_type::recording)));
    EXPECT_FALSE(
        push_types_valid(dialect::aliyun, push_type_bit(push_type::callout)));
    EXPECT_FALSE(push_types_valid(dialect::aliyun, 0));
}

TEST(push_types, acknowledgements)
{
    EXPECT_EQ(push_ack_body(dialect::huawei, push_type::cdr), "{}");
    EXPECT_EQ(push_ack_body(dialect::huawei, push_type::disconnect), "");
    EXPECT_EQ(push_ack_body(dialect::huawei, push_type::sms), "");
    EXPECT_EQ(push_ack_body(dialect::huawei, push_type::num_status), "");
    for (push_type t :
         {push_type::cdr, push_type::start_report, push_type::number_report})
    {
        EXPECT_EQ(push_ack_body(dialect::aliyun, t),
                  "{\"code\":0,\"msg\":\"\xe6\x8e\xa5\xe6\x94\xb6\xe6\x88\x90"
                  "\xe5\x8a\x9f\"}");
    }
}

TEST(push_types, field_tables)
{
    size_t n = 0;
    const cdr_field_rule *r =
        cdr_field_rules(dialect::huawei, push_type::answer, &n);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(n, 12u);
    EXPECT_EQ(cdr_field_rules(dialect::aliyun, push_type::answer, &n), nullptr);
    EXPECT_EQ(n, 0u);
    cdr_field_rules(dialect::aliyun, push_type::recording, &n);
    EXPECT_EQ(n, 7u);

    cdr_options o;
    EXPECT_EQ(cdr_max_records(dialect::huawei, push_type::num_status, o), 100u);
    EXPECT_EQ(cdr_max_records(dialect::huawei, push_type::callin, o), 1u);
    EXPECT_EQ(cdr_max_records(dialect::aliyun, push_type::ring_report, o),
              1000u);
    o.max_records = 7;
    EXPECT_EQ(cdr_max_records(dialect::huawei, push_type::sms, o), 1u);
    EXPECT_EQ(cdr_max_records(dialect::huawei, push_type::num_status, o), 7u);
    EXPECT_EQ(cdr_max_records(dialect::huawei, push_type::ring_report, o), 0u);
}

/* ------------------------------------------------------------------ */
/* Huawei call events (§3.3)                                            */

TEST(event_huawei_call, each_type_is_received)
{
    const std::pair<push_type, const char *> types[] = {
        {push_type::callout, "callout"}, {push_type::alerting, "alerting"},
        {push_type::answer, "answer"},   {push_type::disconnect, "disconnect"},
        {push_type::callin, "callin"},
    };
    cdr_push p;

    for (auto [t, name] : types) {
        std::string info = status_info;
        if (t == push_type::disconnect) {
            info = with_field(with_field(info, "stateCode", "8101"),
                              "stateDesc", "\"no answer\"");
        } else if (t == push_type::callin) {
            info = with_field(info, "notifyMode", "\"Notify\"");
        }

        ASSERT_EQ(
            parse(dialect::huawei, call_event(name, info), p, huawei_events),
            cdr_status::ok)
            << name;
        EXPECT_EQ(p.type(), t);
        ASSERT_EQ(p.size(), 1u);
        EXPECT_TRUE(p[0].valid) << p[0].reason;
        EXPECT_EQ(std::string(p[0].raw), info);
        EXPECT_EQ(key(p, 0), std::string("huawei.") + name + "/" + session
                                 + "/2019-01-23%2009:15:14");
        EXPECT_EQ(p[0].tenant.data(), nullptr);
        EXPECT_EQ(line(p, 0, {"shop", "2026-11-28T12:00:00Z"}),
                  std::string("{\"dialect\":\"huawei\",\"type\":\"") + name
                      + "\",\"app\":\"shop\",\"key\":\"" + key(p, 0)
                      + "\",\"received\":\"2026-11-28T12:00:00Z\",\"record\":"
                      + info + "}");
    }

    /* no appKey: a line without an app name has an empty one */
    EXPECT_NE(line(p, 0).find("\"app\":\"\""), std::string::npos);
}

TEST(event_huawei_call, keys_repeat_on_a_retry_and_differ_per_event)
{
    cdr_push a;
    cdr_push b;
    std::string body = call_event("answer");

    /* a platform retry sends the same push: same key and digest */
    ASSERT_EQ(parse(dialect::huawei, body, a, huawei_events), cdr_status::ok);
    ASSERT_EQ(parse(dialect::huawei, body, b, huawei_events), cdr_status::ok);
    EXPECT_EQ(key(a, 0), key(b, 0));
    EXPECT_TRUE(same_digest(a[0], b[0]));

    /* the envelope's order and spacing, non-key fields: same key */
    std::string reordered =
        "{ \"statusInfo\" : " + with_field(status_info, "userData", "\"x\"")
        + " , \"eventType\" : \"answer\" }";
    ASSERT_EQ(parse(dialect::huawei, reordered, b, huawei_events),
              cdr_status::ok);
    EXPECT_EQ(b.type(), push_type::answer);
    EXPECT_TRUE(same_digest(a[0], b[0]));

    /* the events of one call: one key each */
    std::set<std::string> keys;
    for (const char *t : {"callout", "alerting", "answer", "disconnect"}) {
        ASSERT_EQ(parse(dialect::huawei, call_event(t), b, huawei_events),
                  cdr_status::ok);
        keys.insert(key(b, 0));
    }
    EXPECT_EQ(keys.size(), 4u);

    /* two events of one type on one link: the time tells them apart */
    std::string later =
        with_field(status_info, "timestamp", "\"2019-01-23 09:15:20\"");
    ASSERT_EQ(
        parse(dialect::huawei, call_event("answer", later), b, huawei_events),
        cdr_status::ok);
    EXPECT_FALSE(same_digest(a[0], b[0]));

    /* a numeric time keys by its digits; none is an empty part */
    ASSERT_EQ(parse(dialect::huawei,
                    call_event("answer", with_field(status_info, "timestamp",
                                                    "1548234914")),
                    b, huawei_events),
              cdr_status::ok);
    EXPECT_TRUE(b[0].valid) << b[0].reason;
    EXPECT_EQ(key(b, 0), "huawei.answer/" + session + "/1548234914");
    ASSERT_EQ(
        parse(dialect::huawei,
              call_event("answer", without_field(status_info, "timestamp")), b,
              huawei_events),
        cdr_status::ok);
    EXPECT_EQ(key(b, 0), "huawei.answer/" + session + "/");

    /* the scope binds the digest, not the key */
    cdr_options scoped = huawei_events;
    scoped.scope = "app-a";
    ASSERT_EQ(parse(dialect::huawei, body, b, scoped), cdr_status::ok);
    EXPECT_EQ(key(a, 0), key(b, 0));
    EXPECT_FALSE(same_digest(a[0], b[0]));
}

TEST(event_huawei_call, record_rules)
{
    auto make = [](const std::string &info) {
        return call_event("callout", info);
    };
    expect_bad(
        dialect::huawei, huawei_events, make,
        {
            {without_field(status_info, "sessionId"), cdr_problem::missing,
             "sessionId"},
            {with_field(status_info, "sessionId", "null"), cdr_problem::missing,
             "sessionId"},
            {with_field(status_info, "sessionId", "\"\""),
             cdr_problem::too_short, "sessionId"},
            {with_field(status_info, "sessionId",
                        "\"" + std::string(257, 's') + "\""),
             cdr_problem::too_long, "sessionId"},
            {with_field(status_info, "sessionId", "12"),
             cdr_problem::wrong_type, "sessionId"},
            {with_field(status_info, "caller",
                        "\"+86" + std::string(30, '1') + "\""),
             cdr_problem::too_long, "caller"},
            {with_field(status_info, "called", "8613800000022"),
             cdr_problem::wrong_type, "called"},
            {with_field(status_info, "timestamp", "1.5"),
             cdr_problem::wrong_type, "timestamp"},
            {with_field(status_info, "timestamp", "{}"),
             cdr_problem::wrong_type, "timestamp"},
            {with_field(status_info, "timestamp",
                        "\"" + std::string(129, '1') + "\""),
             cdr_problem::too_long, "timestamp"},
            {with_field(status_info, "timestamp", "99999999999999999999"),
             cdr_problem::out_of_range, "timestamp"},
            {with_field(status_info, "stateCode", "\"8101\""),
             cdr_problem::wrong_type, "stateCode"},
            {with_field(status_info, "stateDesc", "0"), cdr_problem::wrong_type,
             "stateDesc"},
            {with_field(status_info, "userData",
                        "\"" + std::string(257, 'u') + "\""),
             cdr_problem::too_long, "userData"},
            {with_field(status_info, "caller", "\"a\\u0000b\""),
             cdr_problem::contains_nul, nullptr},
            {"{\"sessionId\":\"a\",\"sessionId\":\"b\"}",
             cdr_problem::duplicate_key, "sessionId"},
        });

    /* the reasons name the rule */
    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei,
                    make(with_field(status_info, "timestamp", "true")), p,
                    huawei_events),
              cdr_status::ok);
    EXPECT_STREQ(p[0].reason,
                 "field \"timestamp\" must be a string or an integer");

    /* statusInfo that is not an object is a record that is not one */
    ASSERT_EQ(parse(dialect::huawei, make("[1]"), p, huawei_events),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::not_an_object);
    EXPECT_EQ(std::string(p[0].raw), "[1]");
    ASSERT_EQ(parse(dialect::huawei, make("null"), p, huawei_events),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::not_an_object);

    /* unknown fields and other events' fields are kept */
    std::string more = with_field(
        with_field(status_info, "digitInfo", "\"123#\""), "newField", "[1]");
    ASSERT_EQ(parse(dialect::huawei, make(more), p, huawei_events),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(std::string(p[0].raw), more);
}

TEST(event_huawei_call, block_mode_callin_is_not_a_notification)
{
    cdr_push p;
    std::string block = with_field(status_info, "notifyMode", "\"Block\"");

    ASSERT_EQ(
        parse(dialect::huawei, call_event("callin", block), p, huawei_events),
        cdr_status::ok);
    EXPECT_FALSE(p[0].valid);
    EXPECT_EQ(p[0].problem, cdr_problem::wrong_value);
    EXPECT_STREQ(p[0].field, "notifyMode");
    EXPECT_STREQ(p[0].reason, "field \"notifyMode\" must be \"Notify\"");
    /* the key is there for the dead letter */
    EXPECT_EQ(key(p, 0), "huawei.callin/" + session + "/2019-01-23%2009:15:14");

    /* a type problem outranks it */
    ASSERT_EQ(
        parse(dialect::huawei,
              call_event("callin", with_field(block, "stateCode", "\"x\"")), p,
              huawei_events),
        cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::wrong_type);

    /* other events carry no mode rule (X-mode marker, as in the CDR) */
    ASSERT_EQ(
        parse(dialect::huawei, call_event("callout", block), p, huawei_events),
        cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;

    /* no mode at all: a notification */
    ASSERT_EQ(parse(dialect::huawei, call_event("callin"), p, huawei_events),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
}

TEST(event_huawei_call, envelope_refusals)
{
    cdr_push p;
    const cdr_options callout_only = accepting({push_type::callout});

    struct refusal {
        std::string body;
        cdr_options options;
        cdr_status status;
        const char *message;
    };
    const refusal cases[] = {
        {call_event("answer"), callout_only, cdr_status::wrong_event_type,
         "\"eventType\" is missing or names an event this location does not "
         "receive"},
        {call_event("fee"), huawei_events, cdr_status::wrong_event_type,
         nullptr},
        {call_event("Answer"), huawei_events, cdr_status::wrong_event_type,
         nullptr},
        {"{\"statusInfo\":" + status_info + "}", huawei_events,
         cdr_status::wrong_event_type, nullptr},
        {"{\"eventType\":7,\"statusInfo\":" + status_info + "}", huawei_events,
         cdr_status::wrong_event_type, nullptr},
        {"{\"eventType\":\"answer\"}", huawei_events, cdr_status::no_records,
         "\"statusInfo\" is missing"},
        {"{\"eventType\":\"answer\",\"statusinfo\":{}}", huawei_events,
         cdr_status::no_records, nullptr},
        {"[" + call_event("answer") + "]", huawei_events,
         cdr_status::not_an_object, "request body must be a JSON object"},
        {"{\"eventType\":\"answer\",\"statusInfo\":" + status_info
             + ",\"statusInfo\":" + status_info + "}",
         huawei_events, cdr_status::duplicate_key, nullptr},
        {"{\"eventType\":\"answer\",\"eventType\":\"answer\",\"statusInfo\":"
             + status_info + "}",
         huawei_events, cdr_status::duplicate_key, nullptr},
        {call_event("answer") + "x", huawei_events, cdr_status::not_json,
         "request body is not valid JSON"},
        {call_event("answer", "{\"sessionId\":\"a\",}"), huawei_events,
         cdr_status::not_json, nullptr},
        {"{\"eventType\":\"answer\",\"statusInfo\":" + status_info,
         huawei_events, cdr_status::not_json, nullptr},
        {"{\"eventType\":\"\\uZZZZ\",\"statusInfo\":" + status_info + "}",
         huawei_events, cdr_status::not_json, nullptr},
        {"{\"eventType\":\"answer\\x\",\"statusInfo\":" + status_info + "}",
         huawei_events, cdr_status::not_json, nullptr},
        {"{\"a\":[1,}],\"eventType\":\"answer\"}", huawei_events,
         cdr_status::not_json, nullptr},
    };

    for (const refusal &c : cases) {
        /* a type told by an earlier parse does not stay */
        ASSERT_EQ(
            parse(dialect::huawei, call_event("disconnect"), p, huawei_events),
            cdr_status::ok);
        EXPECT_EQ(parse(dialect::huawei, c.body, p, c.options), c.status)
            << c.body;
        EXPECT_NE(p.type(), push_type::disconnect) << c.body;
        EXPECT_EQ(p.size(), 0u);
        if (c.message != nullptr) {
            EXPECT_STREQ(cdr_push_message(p), c.message) << c.body;
        }
    }

    /* a CDR location refuses events with the CDR's sentence */
    EXPECT_EQ(parse(dialect::huawei, call_event("answer"), p),
              cdr_status::wrong_event_type);
    EXPECT_STREQ(cdr_push_message(p), "\"eventType\" must be \"fee\"");

    /* the status URL may also take CDRs when configured so */
    cdr_options both = huawei_events;
    both.types |= push_type_bit(push_type::cdr);
    ASSERT_EQ(parse(dialect::huawei,
                    "{\"feeLst\":[{\"appKey\":\"a\",\"spId\":\"s\","
                    "\"bindNum\":\"+86170\",\"sessionId\":\"s-1\","
                    "\"callerNum\":\"+86138\",\"calleeNum\":\"+86139\"}],"
                    "\"eventType\":\"fee\"}",
                    p, both),
              cdr_status::ok);
    EXPECT_EQ(p.type(), push_type::cdr);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(key(p, 0), "huawei/a/s-1//");
    ASSERT_EQ(parse(dialect::huawei, call_event("alerting"), p, both),
              cdr_status::ok);
    EXPECT_EQ(p.type(), push_type::alerting);
}

/* ------------------------------------------------------------------ */
/* Huawei number status (§3.5)                                          */

TEST(event_huawei_number, each_entry_is_a_record)
{
    std::string paused = "{\"number\":\"+8617000000002\",\"status\":\"9\"}";
    std::string same_number_back = with_field(
        with_field(number_entry, "status", "\"5\""), "cause", "\"6\"");
    cdr_push p;

    ASSERT_EQ(parse(dialect::huawei,
                    num_status({number_entry, paused, same_number_back}), p,
                    huawei_events),
              cdr_status::ok);
    EXPECT_EQ(p.type(), push_type::num_status);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p.valid_count(), 3u);
    EXPECT_EQ(key(p, 0), "huawei.numStatus/+8617000000001/10/2");
    EXPECT_EQ(key(p, 1), "huawei.numStatus/+8617000000002/9/");
    EXPECT_EQ(key(p, 2), "huawei.numStatus/+8617000000001/5/6");
    EXPECT_EQ(std::string(p[1].raw), paused);
    EXPECT_EQ(p.duplicate_count(), 0u);
    EXPECT_EQ(line(p, 1, {"shop", "t"}),
              "{\"dialect\":\"huawei\",\"type\":\"numStatus\",\"app\":"
              "\"shop\",\"key\":\"huawei.numStatus/+8617000000002/9/\","
              "\"received\":\"t\",\"record\":"
                  + paused + "}");

    /* a repeated entry in one push: the in-push duplicate */
    ASSERT_EQ(parse(dialect::huawei, num_status({number_entry, number_entry}),
                    p, huawei_events),
              cdr_status::ok);
    EXPECT_EQ(p[1].dup_of, 0u);
    EXPECT_EQ(p.duplicate_count(), 1u);

    /* one bad entry costs only itself */
    expect_bad(dialect::huawei, huawei_events,
               [](const std::string &e) { return num_status({e}); },
               {
                   {without_field(number_entry, "number"), cdr_problem::missing,
                    "number"},
                   {without_field(number_entry, "status"), cdr_problem::missing,
                    "status"},
                   {with_field(number_entry, "status", "10"),
                    cdr_problem::wrong_type, "status"},
                   {with_field(number_entry, "cause", "2"),
                    cdr_problem::wrong_type, "cause"},
                   {with_field(number_entry, "number", "\"\""),
                    cdr_problem::too_short, "number"},
               });
    ASSERT_EQ(parse(dialect::huawei, num_status({"7", number_entry}), p,
                    huawei_events),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::not_an_object);
    EXPECT_TRUE(p[1].valid);
}

TEST(event_huawei_number, envelope_and_limits)
{
    cdr_push p;
    std::vector<std::string> hundred;
    for (int i = 0; i < 100; i++) {
        hundred.push_back(with_field(number_entry, "number",
                                     "\"+86170" + std::to_string(i) + "\""));
    }

    ASSERT_EQ(parse(dialect::huawei, num_status(hundred), p, huawei_events),
              cdr_status::ok);
    EXPECT_EQ(p.valid_count(), 100u);
    hundred.push_back(number_entry);
    EXPECT_EQ(parse(dialect::huawei, num_status(hundred), p, huawei_events),
              cdr_status::too_many_records);
    EXPECT_STREQ(cdr_push_message(p), "\"numInfo\" has too many entries");
    EXPECT_STREQ(p.detail(), "101 records, at most 100 allowed");

    EXPECT_EQ(parse(dialect::huawei, num_status({}), p, huawei_events),
              cdr_status::no_records);
    EXPECT_STREQ(cdr_push_message(p), "\"numInfo\" is empty");
    EXPECT_EQ(parse(dialect::huawei, "{\"eventType\":\"numStatus\"}", p,
                    huawei_events),
              cdr_status::not_an_array);
    EXPECT_STREQ(cdr_push_message(p),
                 "\"numInfo\" must be an array of numInfo objects");
    EXPECT_EQ(
        parse(dialect::huawei,
              "{\"eventType\":\"numStatus\",\"numInfo\":" + number_entry + "}",
              p, huawei_events),
        cdr_status::not_an_array);

    /* numStatus is not accepted where only call events are */
    EXPECT_EQ(parse(dialect::huawei, num_status({number_entry}), p,
                    accepting({push_type::answer})),
              cdr_status::wrong_event_type);
}

TEST(event_huawei_number, unbounded_key_components)
{
    /* no documented maximum: a key longer than the stack is still built */
    std::string big(20000, 'n');
    std::string entry = with_field(number_entry, "number", "\"" + big + " \"");
    cdr_push p;

    ASSERT_EQ(parse(dialect::huawei, num_status({entry}), p, huawei_events),
              cdr_status::ok);
    ASSERT_TRUE(p[0].valid);
    EXPECT_EQ(key(p, 0), "huawei.numStatus/" + big + "%20/10/2");
    EXPECT_EQ(p[0].key_len, sizeof("huawei.numStatus/") - 1 + big.size()
                                + sizeof("%20/10/2") - 1);
}

/* ------------------------------------------------------------------ */
/* Huawei SMS notifications (§3.6)                                      */

TEST(event_huawei_sms, notify_push)
{
    const cdr_options sms_only = accepting({push_type::sms});
    cdr_push p;

    ASSERT_EQ(parse(dialect::huawei, sms(), p, sms_only), cdr_status::ok);
    EXPECT_EQ(p.type(), push_type::sms);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(std::string(p[0].raw), sms_event);
    EXPECT_EQ(p[0].tenant, app_key);
    EXPECT_EQ(p[0].tenant_kind, cdr_tenant_kind::app_key);
    const std::string k = "huawei.smsEvent/" + app_key
                          + "/sms-0001/TextSMS/2020-12-23T09:06:16.450Z";
    EXPECT_EQ(key(p, 0), k);
    /* without an app name the line names the envelope's appKey */
    EXPECT_EQ(line(p, 0, {"", "t"}),
              "{\"dialect\":\"huawei\",\"type\":\"smsEvent\",\"app\":\""
                  + app_key + "\",\"key\":\"" + k
                  + "\",\"received\":\"t\",\"record\":" + sms_event + "}");

    /* appKey after the event, escaped: the same tenant and key */
    cdr_push q;
    std::string escaped = "{\"smsEvent\":" + sms_event + ",\"appKey\":\"\\u0056"
                          + app_key.substr(1) + "\"}";
    ASSERT_EQ(parse(dialect::huawei, escaped, q, sms_only), cdr_status::ok);
    EXPECT_EQ(q[0].tenant, app_key);
    EXPECT_TRUE(same_digest(p[0], q[0]));

    /* a retry: the same digest; another notification of it: another key */
    ASSERT_EQ(parse(dialect::huawei, sms(), q, sms_only), cdr_status::ok);
    EXPECT_TRUE(same_digest(p[0], q[0]));
    ASSERT_EQ(parse(dialect::huawei,
                    sms(with_field(sms_event, "event", "\"Delivered\"")), q,
                    sms_only),
              cdr_status::ok);
    EXPECT_FALSE(same_digest(p[0], q[0]));
}

TEST(event_huawei_sms, binding_and_envelope)
{
    const cdr_options sms_only = accepting({push_type::sms});
    cdr_options bound = sms_only;
    bound.signer = app_key;
    cdr_push p;

    ASSERT_EQ(parse(dialect::huawei, sms(), p, bound), cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    ASSERT_EQ(parse(dialect::huawei, sms(sms_event, "\"otherApp\""), p, bound),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::foreign_tenant);
    EXPECT_STREQ(p[0].reason,
                 "field \"appKey\" is not the app that signed the push");
    EXPECT_EQ(key(p, 0).rfind("huawei.smsEvent/otherApp/", 0), 0u);

    for (const std::string &bad :
         {std::string("7"), std::string("\"\""), std::string("null"),
          "\"" + std::string(33, 'k') + "\""})
    {
        EXPECT_EQ(parse(dialect::huawei, sms(sms_event, bad), p, sms_only),
                  cdr_status::bad_app_key)
            << bad;
        EXPECT_STREQ(cdr_push_message(p),
                     "\"appKey\" must be a string of 1 to 32 characters");
    }
    EXPECT_EQ(
        parse(dialect::huawei, "{\"smsEvent\":" + sms_event + "}", p, sms_only),
        cdr_status::bad_app_key);
    /* 32 characters, counted as characters */
    std::string zh32;
    for (int i = 0; i < 32; i++) {
        zh32 += "\xe4\xb8\xad";
    }
    EXPECT_EQ(
        parse(dialect::huawei, sms(sms_event, "\"" + zh32 + "\""), p, sms_only),
        cdr_status::ok);

    EXPECT_EQ(parse(dialect::huawei, "{\"appKey\":\"a\"}", p, sms_only),
              cdr_status::no_records);
    EXPECT_STREQ(cdr_push_message(p), "\"smsEvent\" is missing");

    /* an eventType makes it no SMS push */
    EXPECT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"sms\",\"appKey\":\"a\",\"smsEvent\":"
                        + sms_event + "}",
                    p, sms_only),
              cdr_status::wrong_event_type);
    /* nor is a body without eventType where SMS is not accepted */
    EXPECT_EQ(parse(dialect::huawei, sms(), p, huawei_events),
              cdr_status::wrong_event_type);
}

TEST(event_huawei_sms, record_rules)
{
    const cdr_options sms_only = accepting({push_type::sms});
    auto make = [](const std::string &event) { return sms(event); };

    expect_bad(dialect::huawei, sms_only, make,
               {
                   {without_field(sms_event, "smsIdentifier"),
                    cdr_problem::missing, "smsIdentifier"},
                   {with_field(sms_event, "smsIdentifier",
                               "\"" + std::string(65, 'i') + "\""),
                    cdr_problem::too_long, "smsIdentifier"},
                   {with_field(sms_event, "notificationMode", "\"Block\""),
                    cdr_problem::wrong_value, "notificationMode"},
                   {with_field(sms_event, "calling", "8613800000021"),
                    cdr_problem::wrong_type, "calling"},
                   {with_field(sms_event, "timeStamp", "[]"),
                    cdr_problem::wrong_type, "timeStamp"},
                   {with_field(sms_event, "smsContent", "\"\\u0000\""),
                    cdr_problem::contains_nul, nullptr},
               });

    /* an epoch time is accepted */
    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei,
                    sms(with_field(sms_event, "timeStamp", "1608714376450")), p,
                    sms_only),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(key(p, 0),
              "huawei.smsEvent/" + app_key + "/sms-0001/TextSMS/1608714376450");
}

/* ------------------------------------------------------------------ */
/* Aliyun receipts (§2.6.2)                                             */

TEST(event_aliyun, each_type_is_received)
{
    struct receipt {
        push_type type;
        std::string record;
        std::string key;
    };
    const receipt cases[] = {
        {push_type::start_report, start_report,
         "aliyun.SecretStartReport/pool_key/FC100000123456789/abcedf1234/"
         "2017-09-01%2012:00:00"},
        {push_type::ring_report, ring_report,
         "aliyun.SecretRingReport/pool_key/FC100000123456789/abcedf1234/"
         "2017-09-01%2012:00:05"},
        {push_type::recording, recording,
         "aliyun.SecretRecording/pool_key/FC100000123456789/abcedf1234/"
         "1629893489000"},
        {push_type::number_report, number_report,
         "aliyun.NumberManagementReport/partner_key/PK4000123456/17100010000/"
         "1/2021-08-25%2020:11:29"},
    };
    cdr_push p;

    for (const receipt &c : cases) {
        cdr_options o = accepting({c.type});
        ASSERT_EQ(
            parse(dialect::aliyun, json_array({c.record, c.record}), p, o),
            cdr_status::ok)
            << c.record;
        EXPECT_EQ(p.type(), c.type);
        ASSERT_EQ(p.size(), 2u);
        EXPECT_TRUE(p[0].valid) << p[0].reason;
        EXPECT_EQ(key(p, 0), c.key);
        EXPECT_EQ(p[1].dup_of, 0u);
        EXPECT_EQ(line(p, 0, {"", "t"}),
                  std::string("{\"dialect\":\"aliyun\",\"type\":\"")
                      + push_type_name(c.type) + "\",\"app\":\""
                      + std::string(p[0].tenant) + "\",\"key\":\"" + c.key
                      + "\",\"received\":\"t\",\"record\":" + c.record + "}");

        /* a receipt of one type keys apart from the same call's others */
        ASSERT_EQ(parse(dialect::aliyun, json_array({c.record}), p),
                  cdr_status::ok);
        EXPECT_NE(key(p, 0), c.key);
    }
}

TEST(event_aliyun, record_rules)
{
    auto make = [](const std::string &r) { return json_array({r}); };
    expect_bad(
        dialect::aliyun, accepting({push_type::recording}), make,
        {
            {without_field(recording, "call_id"), cdr_problem::missing,
             "call_id"},
            {with_field(recording, "call_time", "\"2021-08-25 20:11:29\""),
             cdr_problem::wrong_type, "call_time"},
            {with_field(recording, "call_time", "1.6e12"),
             cdr_problem::wrong_type, "call_time"},
            {with_field(recording, "sub_id", "\"1\""), cdr_problem::wrong_type,
             "sub_id"},
            {with_field(recording, "subs_id", "\"1\""), cdr_problem::wrong_type,
             "subs_id"},
            {without_field(recording, "pool_key"), cdr_problem::missing,
             "pool_key/partner_key"},
        });
    expect_bad(dialect::aliyun, accepting({push_type::start_report}), make,
               {
                   {with_field(start_report, "call_time", "0"),
                    cdr_problem::wrong_type, "call_time"},
                   {with_field(start_report, "call_id",
                               "\"" + std::string(101, 'c') + "\""),
                    cdr_problem::too_long, "call_id"},
                   {with_field(start_report, "call_type", "\"0\""),
                    cdr_problem::wrong_type, "call_type"},
               });
    expect_bad(dialect::aliyun, accepting({push_type::number_report}), make,
               {
                   {without_field(number_report, "secret_no"),
                    cdr_problem::missing, "secret_no"},
                   {without_field(number_report, "status"),
                    cdr_problem::missing, "status"},
                   {with_field(number_report, "status", "\"1\""),
                    cdr_problem::wrong_type, "status"},
                   {with_field(number_report, "Vendor", "\"x\""),
                    cdr_problem::wrong_type, "Vendor"},
                   {without_field(number_report, "partner_key"),
                    cdr_problem::missing, "pool_key/partner_key"},
               });

    /* subs_id in place of sub_id */
    cdr_push p;
    std::string alias =
        with_field(without_field(recording, "sub_id"), "subs_id", "7");
    ASSERT_EQ(parse(dialect::aliyun, make(alias), p,
                    accepting({push_type::recording})),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;

    /* integer components are written as the value: -0 is 0 */
    ASSERT_EQ(parse(dialect::aliyun,
                    make(with_field(number_report, "status", "-0")), p,
                    accepting({push_type::number_report})),
              cdr_status::ok);
    EXPECT_EQ(key(p, 0), "aliyun.NumberManagementReport/partner_key/"
                         "PK4000123456/17100010000/0/2021-08-25%2020:11:29");

    /* binding: the allow-list holds for every receipt type */
    const std::string_view allowed[] = {"FC-OTHER"};
    cdr_options bound = accepting({push_type::ring_report});
    bound.tenants = allowed;
    bound.tenant_count = 1;
    ASSERT_EQ(parse(dialect::aliyun, make(ring_report), p, bound),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::foreign_tenant);
    EXPECT_STREQ(p[0].field, "pool_key");
}

TEST(event_aliyun, the_location_names_one_type)
{
    cdr_push p;
    cdr_options two = accepting({push_type::ring_report, push_type::recording});

    EXPECT_EQ(parse(dialect::aliyun, json_array({ring_report}), p, two),
              cdr_status::wrong_event_type);
    EXPECT_STREQ(cdr_push_message(p),
                 "the location receives no single Aliyun receipt type");
    EXPECT_EQ(
        parse(dialect::aliyun, json_array({ring_report}), p, huawei_events),
        cdr_status::wrong_event_type);

    cdr_options ring = accepting({push_type::ring_report});
    EXPECT_EQ(parse(dialect::aliyun, "[]", p, ring), cdr_status::no_records);
    EXPECT_STREQ(cdr_push_message(p), "receipt array is empty");
    EXPECT_EQ(parse(dialect::aliyun, ring_report, p, ring),
              cdr_status::not_an_array);
    EXPECT_STREQ(cdr_push_message(p),
                 "request body must be a JSON array of receipts");
}

/* The bench's event pushes (bench/core_ops.cpp) are good pushes. */
TEST(event_fixtures, bench_pushes)
{
    struct fixture {
        const char *file;
        provision_x::dialect dialect;
        push_type type;
        size_t records;
    };
    const fixture files[] = {
        {"huawei_disconnect.json", dialect::huawei, push_type::disconnect, 1},
        {"huawei_num_status_20.json", dialect::huawei, push_type::num_status,
         20},
        {"aliyun_ring_20.json", dialect::aliyun, push_type::ring_report, 20},
    };
    cdr_push p;

    for (const fixture &f : files) {
        std::string body = read_data(f.file);
        ASSERT_FALSE(body.empty()) << f.file;
        ASSERT_EQ(parse(f.dialect, body, p, accepting({f.type})),
                  cdr_status::ok)
            << f.file;
        EXPECT_EQ(p.size(), f.records);
        EXPECT_EQ(p.valid_count(), f.records) << f.file;
        EXPECT_EQ(p.duplicate_count(), 0u) << f.file;
    }
}

/* Bytes that are not UTF-8 cost the record that holds them, as in CDRs. */
TEST(event_huawei, invalid_utf8)
{
    cdr_push p;
    std::string bad = with_field(status_info, "userData", "\"a\xff\"");

    ASSERT_EQ(
        parse(dialect::huawei, call_event("answer", bad), p, huawei_events),
        cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::not_utf8);
    EXPECT_EQ(std::string(p[0].raw), bad);
    EXPECT_NE(line(p, 0).find("\"record_base64\":"), std::string::npos);

    /* outside the record: the envelope is not JSON */
    const cdr_options sms_only = accepting({push_type::sms});
    EXPECT_EQ(parse(dialect::huawei, sms(sms_event, "\"k\xff\""), p, sms_only),
              cdr_status::not_json);
    ASSERT_EQ(
        parse(dialect::huawei,
              sms(with_field(sms_event, "smsContent", "\"\xc3\""), "\"k\""), p,
              sms_only),
        cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::not_utf8);
}
