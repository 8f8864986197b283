#include "core/cdr.hpp"

#include "core/encoding.hpp"
#include "push_test.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <jansson.h>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace provision_x;
using namespace provision_x::test;

namespace {

/* The spec's Huawei demo FeeInfo (§3.4), one record. */
const std::string demo_record =
    "{\"direction\":1,\"spId\":\"linlingoo_omp\","
    "\"appKey\":\"V1Z96521zFr3vxe5N2A1UJ1sQ1WP\","
    "\"icid\":\"ba171f34e6953fcd751edc77127748f4.3757223714.337238282.9\","
    "\"bindNum\":\"+8613800000022\","
    "\"sessionId\":\"1200_1029_4294967295_20190123091514@callenabler246."
    "huaweicaas.com\","
    "\"subscriptionId\":\"e97b2863-e7ad-4b4c-87c0-91b0171fe803\","
    "\"callerNum\":\"+8613800000021\",\"calleeNum\":\"+8613800000022\","
    "\"fwdDisplayNum\":\"+8613800000022\",\"fwdDstNum\":\"+8613866887021\","
    "\"callInTime\":\"2019-01-23 09:15:14\","
    "\"fwdStartTime\":\"2019-01-23 09:15:15\","
    "\"fwdAlertingTime\":\"2019-01-23 09:15:21\","
    "\"fwdAnswerTime\":\"2019-01-23 09:15:36\","
    "\"callEndTime\":\"2019-01-23 09:16:41\",\"fwdUnaswRsn\":0,"
    "\"ulFailReason\":0,\"sipStatusCode\":0,\"callOutUnaswRsn\":0,"
    "\"recordFlag\":1,\"recordStartTime\":\"2019-01-23 09:15:37\","
    "\"recordDomain\":\"ostor.huawei.com\","
    "\"recordBucketName\":\"sp-v1z96521zfr3vxe5n2a1uj1sq1wp\","
    "\"recordObjectName\":\"19012309153712050118304.wav\","
    "\"ttsPlayTimes\":0,\"ttsTransDuration\":0,"
    "\"mptyId\":\"e97b2863-e7ad-4b4c-87c0-91b0171fe803\","
    "\"serviceType\":\"004\",\"hostName\":\"callenabler246.huaweicaas.com\"}";

const std::string demo_key =
    "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/"
    "1200_1029_4294967295_20190123091514@callenabler246.huaweicaas.com/1/"
    "ba171f34e6953fcd751edc77127748f4.3757223714.337238282.9";

/* §2.6.1 SecretReport with every documented field */
const std::string aliyun_record =
    "{\"id\":1014568510001,\"pool_key\":\"FC100000123456789\","
    "\"partner_key\":\"PK4000123456\",\"sub_id\":1000000012345,"
    "\"call_id\":\"abcedf1234\",\"phone_no\":\"13911110000\","
    "\"secret_no\":\"17100010000\",\"peer_no\":\"18600001111\","
    "\"called_display_no\":\"17100010000\",\"call_type\":0,"
    "\"city\":\"\xe6\x9d\xad\xe5\xb7\x9e\","
    "\"call_time\":\"2021-08-25 20:11:29\","
    "\"call_out_time\":\"2021-08-25 20:11:30\","
    "\"ring_time\":\"2021-08-25 20:11:32\","
    "\"free_ring_time\":\"2021-08-25 20:11:32\","
    "\"start_time\":\"2021-08-25 20:11:40\","
    "\"release_time\":\"2021-08-25 20:13:01\",\"sms_number\":0,"
    "\"release_dir\":1,\"release_cause\":16,\"unconnected_cause\":0,"
    "\"control_type\":\"CONTINUE\",\"control_msg\":\"OK\","
    "\"record_url\":\"https://example.invalid/r.mp3\","
    "\"ring_record_url\":\"\",\"out_id\":\"order-1\",\"extension\":\"\"}";

std::string
huawei_push(const std::vector<std::string> &records)
{
    return "{\"eventType\":\"fee\",\"feeLst\":" + json_array(records) + "}";
}

std::string
aliyun_push(const std::vector<std::string> &records)
{
    return json_array(records);
}

std::string
huawei_record_n(int i)
{
    return with_field(with_field(demo_record, "sessionId",
                                 "\"s-" + std::to_string(i) + "@h\""),
                      "icid", "\"i-" + std::to_string(i) + "\"");
}

std::string
raw(const cdr_push &p, size_t i)
{
    return std::string(p[i].raw);
}

/* the "record" member of a line equals (JSON) the record's raw bytes */
void
expect_line_record(const std::string &l, std::string_view raw_bytes)
{
    json_t *root = load(l);
    json_t *rec = load(std::string(raw_bytes));
    EXPECT_TRUE(json_equal(json_object_get(root, "record"), rec)) << l;
    json_decref(rec);
    json_decref(root);
}

} // namespace

/* ------------------------------------------------------------------ */
/* Huawei envelope                                                      */

TEST(cdr_huawei, demo_payload)
{
    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei, huawei_push({demo_record}), p),
              cdr_status::ok);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p.valid_count(), 1u);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_STREQ(p[0].reason, "");
    EXPECT_EQ(p[0].problem, cdr_problem::none);
    EXPECT_EQ(key(p, 0), demo_key);
    EXPECT_EQ(p[0].key_len, demo_key.size());
    EXPECT_EQ(p[0].tenant, "V1Z96521zFr3vxe5N2A1UJ1sQ1WP");
    EXPECT_EQ(p[0].tenant_kind, cdr_tenant_kind::app_key);
    EXPECT_EQ(raw(p, 0), demo_record);
    EXPECT_TRUE(p[0].compact);
    EXPECT_EQ(p[0].dup_of, cdr_no_dup);
    EXPECT_STREQ(p.detail(), "");

    /* the digest is the first 16 bytes of SHA-256 of the printable key */
    unsigned char sha[cdr_body_digest_size];
    ASSERT_TRUE(cdr_body_digest("", demo_key, sha));
    EXPECT_EQ(0, std::memcmp(p[0].key_digest, sha, cdr_key_digest_size));
}

/* §3.4: the demo's two records share sessionId/icid -> one key */
TEST(cdr_huawei, demo_records_sharing_session_share_a_key)
{
    cdr_push p;
    ASSERT_EQ(
        parse(dialect::huawei, huawei_push({demo_record, demo_record}), p),
        cdr_status::ok);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p.valid_count(), 2u);
    EXPECT_EQ(key(p, 0), key(p, 1));
    EXPECT_TRUE(same_digest(p[0], p[1]));
    EXPECT_EQ(p[1].dup_of, 0u);
    EXPECT_FALSE(p[1].conflict);
    EXPECT_EQ(p.duplicate_count(), 1u);

    /* same key, different content: flagged as a conflict */
    std::string later =
        with_field(demo_record, "callEndTime", "\"2019-01-23 09:16:42\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({demo_record, later}), p),
              cdr_status::ok);
    EXPECT_EQ(p[1].dup_of, 0u);
    EXPECT_TRUE(p[1].conflict);

    /* the same bytes but for whitespace: not a conflict */
    std::string spaced = demo_record;
    spaced.insert(1, " ");
    spaced.insert(spaced.size() - 1, "\n");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({demo_record, spaced}), p),
              cdr_status::ok);
    EXPECT_FALSE(p[1].compact);
    EXPECT_EQ(p[1].dup_of, 0u);
    EXPECT_FALSE(p[1].conflict);

    /* another leg of the call (direction differs): a different key */
    std::string leg = with_field(demo_record, "direction", "0");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({demo_record, leg}), p),
              cdr_status::ok);
    EXPECT_NE(key(p, 0), key(p, 1));
    EXPECT_EQ(p[1].dup_of, cdr_no_dup);
    EXPECT_EQ(p.duplicate_count(), 0u);

    /* an invalid record never counts as a duplicate */
    std::string bad = with_field(demo_record, "recordFlag", "5");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({bad, demo_record}), p),
              cdr_status::ok);
    EXPECT_EQ(p[1].dup_of, cdr_no_dup);
    EXPECT_EQ(p.duplicate_count(), 0u);
}

TEST(cdr_huawei, fifty_records_ok_fifty_one_too_many)
{
    std::vector<std::string> recs;
    for (int i = 0; i < 50; i++) {
        recs.push_back(huawei_record_n(i));
    }

    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei, huawei_push(recs), p), cdr_status::ok);
    EXPECT_EQ(p.size(), 50u);
    EXPECT_EQ(p.valid_count(), 50u);
    EXPECT_EQ(p.duplicate_count(), 0u);
    for (size_t i = 0; i < p.size(); i++) {
        EXPECT_EQ(raw(p, i), recs[i]);
    }

    recs.push_back(huawei_record_n(50));
    EXPECT_EQ(parse(dialect::huawei, huawei_push(recs), p),
              cdr_status::too_many_records);
    EXPECT_EQ(p.size(), 0u);
    EXPECT_STREQ(p.detail(), "51 records, at most 50 allowed");

    cdr_options wide;
    wide.max_records = 60;
    EXPECT_EQ(parse(dialect::huawei, huawei_push(recs), p, wide),
              cdr_status::ok);
    EXPECT_EQ(p.size(), 51u);

    /* a record past the limit is still checked as JSON */
    recs.back() = "[1,]";
    EXPECT_EQ(parse(dialect::huawei, huawei_push(recs), p),
              cdr_status::not_json);
}

TEST(cdr_huawei, not_json)
{
    cdr_push p;
    for (const char *body : {"",
                             " ",
                             "{",
                             "hello",
                             "{\"eventType\":\"fee\",",
                             "[1,]",
                             "{\"eventType\":'fee'}",
                             "{\"a\":1}}",
                             "\xef\xbb\xbf{}",
                             "{\"a\":01}",
                             "{\"a\":1.}",
                             "{\"a\":-}",
                             "{\"a\":.5}",
                             "{\"a\":1e}",
                             "{\"a\":+1}",
                             "{\"a\":tru}",
                             "{\"a\":nul}",
                             "{\"a\":truex}",
                             "{\"a\":NaN}",
                             "{\"a\":\"\\x\"}",
                             "{\"a\":\"\\ud800\"}",
                             "{\"a\":\"\\udc00\"}",
                             "{\"a\":\"\\u12G4\"}",
                             "{\"a\":\"tab\there\"}",
                             "{\"a\" 1}",
                             "{\"a\":1 \"b\":2}",
                             "{\"a\":1,}",
                             "{1:2}",
                             "{\"a\":[1 2]}",
                             "{\"a\":[1,,2]}",
                             "{\"a\":[}",
                             "{\"a\":{]}",
                             "\"fee\" \"fee\"",
                             "7 8",
                             "{} {}"})
    {
        EXPECT_EQ(parse(dialect::huawei, body, p), cdr_status::not_json)
            << body;
        EXPECT_EQ(p.size(), 0u);
        EXPECT_NE(std::string(p.detail()), "") << body;
    }
    EXPECT_EQ(parse_push(test_parser(), dialect::huawei, nullptr, 0,
                         cdr_options(), p),
              cdr_status::not_json);
    cdr_options in_place;
    in_place.padded = true;
    EXPECT_EQ(
        parse_push(test_parser(), dialect::huawei, nullptr, 0, in_place, p),
        cdr_status::not_json);
}

/* RFC 8259 JSON is JSON, whatever the envelope then says (review F6) */
TEST(cdr_huawei, valid_json_values_are_not_refused_as_json)
{
    cdr_push p;
    for (const char *body :
         {"{\"a\":\"\\u0000\"}", "{\"a\":99999999999999999999999}",
          "{\"a\":1e400}", "{\"a\":-1e400}", "{\"a\":1e-400}", "{\"a\":-0}",
          "{\"a\":[[[[]]]],\"b\":{\"c\":{}},\"d\":\"\\ud83d\\ude00\"}"})
    {
        EXPECT_EQ(parse(dialect::huawei, body, p), cdr_status::wrong_event_type)
            << body;
    }
}

TEST(cdr_huawei, nesting_depth_is_janssons)
{
    /* jansson: a value may be nested 2048 deep (the root is 1), not 2049 */
    std::string ok = "{\"eventType\":\"fee\",\"x\":" + std::string(2047, '[')
                     + std::string(2047, ']') + ",\"feeLst\":[" + demo_record
                     + "]}";
    std::string deep = "{\"eventType\":\"fee\",\"x\":" + std::string(2048, '[')
                       + std::string(2048, ']') + ",\"feeLst\":[" + demo_record
                       + "]}";
    cdr_push p;
    EXPECT_EQ(parse(dialect::huawei, ok, p), cdr_status::ok);
    EXPECT_EQ(parse(dialect::huawei, deep, p), cdr_status::not_json);
    EXPECT_NE(std::string(p.detail()).find("nesting"), std::string::npos);
}

/*
 * A raw NUL byte is not JSON anywhere: jansson skips one after a number or
 * a literal ("[1\0]" loads as [1]), which fuzz/cdr_diff_fuzz.cpp found;
 * the parser must not.  A record that is a number beyond 64 bits is a
 * record, not an object, its span the whole number.
 */
TEST(cdr_aliyun, raw_nul_is_not_json_and_a_big_number_is_a_record)
{
    cdr_push p;
    for (std::string body :
         {std::string("1\0", 2), std::string("[1\0]", 4),
          std::string("[{\"a\":1\0}]", 10), std::string("[{\"a\":true\0}]", 13),
          std::string("[{\"a\":1} \0\0,{\"b\":2}]", 20)})
    {
        EXPECT_EQ(parse(dialect::aliyun, body, p), cdr_status::not_json);
        EXPECT_EQ(parse(dialect::huawei, body, p), cdr_status::not_json);
    }

    std::string digits(91, '1');
    ASSERT_EQ(parse(dialect::aliyun, "[" + digits + "]", p), cdr_status::ok);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].problem, cdr_problem::not_an_object);
    EXPECT_EQ(p[0].raw, digits);
}

/* found by fuzz/cdr_diff_fuzz.cpp: the body ends right after a record */
TEST(cdr_huawei, body_ending_inside_the_list)
{
    cdr_push p;
    for (const char *body :
         {"{\"eventType\":\"fee\",\"feeLst\":[{\"appKey\":\"a\","
          "\"x\":[{\"a\":\"a\",\"a\":\"b\"}]}",
          "{\"eventType\":\"fee\",\"feeLst\":[{}", "[{\"a\":{}}", "[{\"a\":[]",
          "[[1]", "[{}"})
    {
        EXPECT_EQ(parse(dialect::huawei, body, p), cdr_status::not_json)
            << body;
        if (body[0] == '[') {
            EXPECT_EQ(parse(dialect::aliyun, body, p), cdr_status::not_json)
                << body;
        }
    }

    /*
     * In place, simdjson reads the padding as if it were more body: a
     * '}' or ']' there must not close what the body left open (found by
     * fuzz/cdr_aliyun_fuzz.cpp).
     */
    cdr_options in_place;
    in_place.padded = true;
    for (std::string body :
         {"{\"a\":1,\"b\":2", "[{\"pool_key\":\"p\",\"call_id\":\"c\"}",
          "[{\"pool_key\":\"p\",\"call_id\":\"c\"", "{\"a\":{}", "[[]"})
    {
        for (char pad : {'}', ']', ',', '"'}) {
            std::string padded = body + std::string(cdr_padding, pad);
            for (dialect d : {dialect::huawei, dialect::aliyun}) {
                EXPECT_EQ(parse_push(test_parser(), d, padded.data(),
                                     body.size(), in_place, p),
                          cdr_status::not_json)
                    << body << " + " << pad;
            }
        }
    }
}

TEST(cdr_huawei, trailing_garbage)
{
    cdr_push p;
    std::string body = huawei_push({demo_record});
    EXPECT_EQ(parse(dialect::huawei, body + "x", p), cdr_status::not_json);
    EXPECT_EQ(parse(dialect::huawei, body + body, p), cdr_status::not_json);
    EXPECT_EQ(parse(dialect::huawei, body + "}", p), cdr_status::not_json);
    EXPECT_EQ(parse(dialect::huawei, body + "\n\0", p),
              cdr_status::ok); /* std::string stops at the NUL */
    std::string nul = body + std::string("\0", 1);
    EXPECT_EQ(parse(dialect::huawei, nul, p), cdr_status::not_json);
    EXPECT_EQ(parse(dialect::huawei, " \r\n" + body + " \n\t", p),
              cdr_status::ok);
}

TEST(cdr_huawei, duplicate_key_in_the_envelope_refuses_the_push)
{
    cdr_push p;
    EXPECT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"fee\",\"eventType\":\"fee\","
                    "\"feeLst\":["
                        + demo_record + "]}",
                    p),
              cdr_status::duplicate_key);
    EXPECT_NE(std::string(p.detail()).find("duplicate"), std::string::npos);

    /* the escaped spelling of the same key is the same key */
    EXPECT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"fee\",\"feeLst\":[" + demo_record
                        + "],\"fee\\u004Cst\":[]}",
                    p),
              cdr_status::duplicate_key);

    /* in an object of the envelope that is not a record, too */
    EXPECT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"fee\",\"x\":{\"a\":1,\"a\":2},"
                    "\"feeLst\":["
                        + demo_record + "]}",
                    p),
              cdr_status::duplicate_key);

    /* large objects are checked when they close */
    std::string big = "{\"eventType\":\"fee\",\"feeLst\":[" + demo_record + "]";
    for (int i = 0; i < 100; i++) {
        big += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
    }
    EXPECT_EQ(parse(dialect::huawei, big + "}", p), cdr_status::ok);
    EXPECT_EQ(parse(dialect::huawei, big + ",\"k42\":0}", p),
              cdr_status::duplicate_key);
}

TEST(cdr_huawei, wrong_event_type)
{
    cdr_push p;
    std::string list = "\"feeLst\":[" + demo_record + "]";
    for (std::string ev :
         {"\"callin\"", "\"Fee\"", "\"fee \"", "1", "null", "[\"fee\"]",
          "\"fe\\u0000\"", "\"fee\\u0000\"", "{\"fee\":1}"})
    {
        std::string body = "{\"eventType\":" + ev + "," + list + "}";
        EXPECT_EQ(parse(dialect::huawei, body, p), cdr_status::wrong_event_type)
            << ev;
    }
    EXPECT_EQ(parse(dialect::huawei, "{" + list + "}", p),
              cdr_status::wrong_event_type);
    /* escaped spelling of "fee" is still "fee" */
    EXPECT_EQ(
        parse(dialect::huawei, "{\"eventType\":\"f\\u0065e\"," + list + "}", p),
        cdr_status::ok);
}

TEST(cdr_huawei, envelope_shapes)
{
    cdr_push p;
    EXPECT_EQ(
        parse(dialect::huawei, "{\"eventType\":\"fee\",\"feeLst\":[]}", p),
        cdr_status::no_records);
    EXPECT_EQ(parse(dialect::huawei, "{\"eventType\":\"fee\"}", p),
              cdr_status::not_an_array);
    EXPECT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"fee\",\"feeLst\":" + demo_record + "}",
                    p),
              cdr_status::not_an_array);
    EXPECT_EQ(
        parse(dialect::huawei, "{\"eventType\":\"fee\",\"feeLst\":null}", p),
        cdr_status::not_an_array);
    EXPECT_EQ(parse(dialect::huawei, "[" + demo_record + "]", p),
              cdr_status::not_an_object);
    for (const char *scalar : {"\"fee\"", "7", "-1.5e3", "true", "null"}) {
        EXPECT_EQ(parse(dialect::huawei, scalar, p), cdr_status::not_an_object)
            << scalar;
    }

    /* JSON errors outrank the shape: the whole body is checked first */
    EXPECT_EQ(parse(dialect::huawei, "[1,2,tru]", p), cdr_status::not_json);
    EXPECT_EQ(
        parse(dialect::huawei, "{\"eventType\":\"x\",\"feeLst\":[01]}", p),
        cdr_status::not_json);

    /* feeLst after other members, pretty-printed */
    std::string body = "{\n  \"x\": {\"feeLst\": [1]},\n  \"feeLst\" : [\n    "
                       + demo_record + " ,\n 7 ],\n  \"eventType\": \"fee\"\n}";
    ASSERT_EQ(parse(dialect::huawei, body, p), cdr_status::ok);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(raw(p, 0), demo_record);
    EXPECT_TRUE(p[0].valid);
    EXPECT_FALSE(p[1].valid);
    EXPECT_EQ(p[1].problem, cdr_problem::not_an_object);
    EXPECT_EQ(raw(p, 1), "7");
    EXPECT_STREQ(p[1].reason, "record is not a JSON object");
    EXPECT_EQ(p[1].key_len, 0u);
}

TEST(cdr_huawei, too_large)
{
    cdr_push p;
    cdr_options small;
    small.max_body = 100;
    std::string body = huawei_push({demo_record});
    EXPECT_EQ(parse(dialect::huawei, body, p, small), cdr_status::too_large);
    EXPECT_STREQ(
        p.detail(),
        (std::to_string(body.size()) + " bytes, at most 100 allowed").c_str());
    small.max_body = body.size();
    EXPECT_EQ(parse(dialect::huawei, body, p, small), cdr_status::ok);
}

/* ------------------------------------------------------------------ */
/* Huawei records                                                       */

TEST(cdr_huawei, each_missing_required_field)
{
    cdr_push p;
    for (const char *f :
         {"spId", "appKey", "bindNum", "sessionId", "callerNum", "calleeNum"})
    {
        std::string rec = without_field(demo_record, f);
        ASSERT_EQ(rec.find(std::string("\"") + f + "\""), std::string::npos);
        ASSERT_EQ(
            parse(dialect::huawei, huawei_push({rec, huawei_record_n(1)}), p),
            cdr_status::ok)
            << f;
        EXPECT_FALSE(p[0].valid) << f;
        EXPECT_EQ(p[0].problem, cdr_problem::missing) << f;
        EXPECT_STREQ(p[0].field, f);
        EXPECT_EQ(std::string(p[0].reason),
                  std::string("missing required field \"") + f + "\"");
        EXPECT_TRUE(p[1].valid);
        EXPECT_EQ(p.valid_count(), 1u);
        EXPECT_EQ(p.invalid_count(), 1u);

        /* null counts as missing */
        rec = with_field(demo_record, f, "null");
        ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p),
                  cdr_status::ok);
        EXPECT_EQ(p[0].problem, cdr_problem::missing) << f;
    }

    /* optional fields may be absent or null */
    std::string rec = without_field(
        without_field(without_field(demo_record, "icid"), "direction"),
        "recordFlag");
    rec = with_field(rec, "userData", "null");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(key(p, 0), "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/"
                         "1200_1029_4294967295_20190123091514@callenabler246."
                         "huaweicaas.com//");
}

TEST(cdr_huawei, wrong_types_and_bounds)
{
    struct bad_case {
        const char *field;
        std::string value;
        cdr_problem problem;
        const char *reason;
    };
    const std::string s33(33, '1');
    const std::string s65(65, 'a');
    const std::string s257(257, 'd');

    const bad_case cases[] = {
        {"sessionId", "123", cdr_problem::wrong_type,
         "field \"sessionId\" must be a string"},
        {"recordFlag", "\"1\"", cdr_problem::wrong_type,
         "field \"recordFlag\" must be an integer"},
        {"recordFlag", "2", cdr_problem::out_of_range,
         "field \"recordFlag\" must be between 0 and 1"},
        {"recordFlag", "-1", cdr_problem::out_of_range,
         "field \"recordFlag\" must be between 0 and 1"},
        {"recordFlag", "1180591620717411303424", cdr_problem::out_of_range,
         "field \"recordFlag\" must be between 0 and 1"},
        {"direction", "1.0", cdr_problem::wrong_type,
         "field \"direction\" must be an integer"},
        {"direction", "1e2", cdr_problem::wrong_type,
         "field \"direction\" must be an integer"},
        {"sipStatusCode", "true", cdr_problem::wrong_type,
         "field \"sipStatusCode\" must be an integer"},
        {"fwdUnaswRsn", "\"0\"", cdr_problem::wrong_type,
         "field \"fwdUnaswRsn\" must be an integer"},
        {"ttsPlayTimes", "[0]", cdr_problem::wrong_type,
         "field \"ttsPlayTimes\" must be an integer"},
        {"bindNum", "\"" + s33 + "\"", cdr_problem::too_long,
         "field \"bindNum\" is longer than 32 characters"},
        {"spId", "\"\"", cdr_problem::too_short,
         "field \"spId\" must not be empty"},
        {"icid", "\"\"", cdr_problem::too_short,
         "field \"icid\" must not be empty"},
        {"icid", "\"" + s65 + "\"", cdr_problem::too_long,
         "field \"icid\" is longer than 64 characters"},
        {"recordDomain", "\"" + s257 + "\"", cdr_problem::too_long,
         "field \"recordDomain\" is longer than 256 characters"},
        {"hostName", "{}", cdr_problem::wrong_type,
         "field \"hostName\" must be a string"},
        {"callInTime", "[]", cdr_problem::wrong_type,
         "field \"callInTime\" must be a string"},
        {"callInTime", "false", cdr_problem::wrong_type,
         "field \"callInTime\" must be a string"},
    };

    cdr_push p;
    for (const bad_case &c : cases) {
        std::string rec = with_field(demo_record, c.field, c.value);
        ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok)
            << rec;
        EXPECT_FALSE(p[0].valid) << c.field << "=" << c.value;
        EXPECT_EQ(p[0].problem, c.problem) << c.field << "=" << c.value;
        EXPECT_STREQ(p[0].field, c.field);
        EXPECT_STREQ(p[0].reason, c.reason);
    }

    /* the 64-bit edges of an integer field */
    for (const char *v :
         {"9223372036854775807", "-9223372036854775808", "-0", "0"}) {
        std::string rec = with_field(demo_record, "sipStatusCode", v);
        ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p),
                  cdr_status::ok);
        EXPECT_TRUE(p[0].valid) << v << ": " << p[0].reason;
    }
    for (const char *v : {"9223372036854775808", "-9223372036854775809"}) {
        std::string rec = with_field(demo_record, "sipStatusCode", v);
        ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p),
                  cdr_status::ok);
        EXPECT_EQ(p[0].problem, cdr_problem::out_of_range) << v;
        EXPECT_STREQ(p[0].reason,
                     "field \"sipStatusCode\" does not fit 64 bits");
    }
    std::string extreme =
        with_field(demo_record, "direction", "-9223372036854775808");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({extreme}), p),
              cdr_status::ok);
    EXPECT_NE(key(p, 0).find("/-9223372036854775808/"), std::string::npos);

    /* key fields fine -> key still built for logging */
    std::string rec = with_field(demo_record, "recordFlag", "7");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_FALSE(p[0].valid);
    EXPECT_EQ(key(p, 0), demo_key);

    /* a bad key field -> no key */
    rec = with_field(demo_record, "icid", "42");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_EQ(p[0].key_len, 0u);
    char buf[8];
    EXPECT_EQ(cdr_write_key(p, 0, buf, sizeof(buf)), 0u);

    /* a missing field outranks a type problem */
    rec = without_field(with_field(demo_record, "recordFlag", "7"), "spId");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::missing);

    /* the first problem in document order is the one reported */
    rec = with_field(with_field(demo_record, "direction", "\"x\""),
                     "recordFlag", "7");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_STREQ(p[0].field, "direction");
}

/* 1e400 and 2^70: JSON, so only a known integer field's record suffers */
TEST(cdr_huawei, big_numbers_cost_at_most_their_record)
{
    const std::string two70 = "1180591620717411303424";
    cdr_push p;

    std::string known_big = with_field(demo_record, "ulFailReason", two70);
    std::string known_inf =
        with_field(huawei_record_n(1), "ulFailReason", "1e400");
    std::string unknown = huawei_record_n(2);
    unknown.insert(1, "\"vendorBig\":" + two70
                          + ",\"vendorInf\":1e400,"
                            "\"vendorNeg\":-1e400,\"vendorTiny\":1e-400,");
    ASSERT_EQ(
        parse(dialect::huawei, huawei_push({known_big, known_inf, unknown}), p),
        cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::out_of_range);
    EXPECT_STREQ(p[0].reason, "field \"ulFailReason\" does not fit 64 bits");
    EXPECT_EQ(p[1].problem, cdr_problem::wrong_type);
    EXPECT_STREQ(p[1].reason, "field \"ulFailReason\" must be an integer");
    EXPECT_TRUE(p[2].valid) << p[2].reason;

    /* passed on byte for byte */
    EXPECT_EQ(raw(p, 2), unknown);
    EXPECT_NE(
        line(p, 2).find("\"vendorBig\":" + two70 + ",\"vendorInf\":1e400,"),
        std::string::npos);
}

TEST(cdr_huawei, nul_costs_its_record)
{
    cdr_push p;
    std::string in_value = with_field(demo_record, "userData", "\"a\\u0000b\"");
    std::string in_unknown = huawei_record_n(1);
    in_unknown.insert(1, "\"note\":\"x\\u0000\",");
    std::string in_key = huawei_record_n(2);
    in_key.insert(1, "\"n\\u0000te\":1,");
    std::string nested = huawei_record_n(3);
    nested.insert(1, "\"v\":{\"w\":[\"\\u0000\"]},");
    std::string fine = huawei_record_n(4);

    ASSERT_EQ(parse(dialect::huawei,
                    huawei_push({in_value, in_unknown, in_key, nested, fine}),
                    p),
              cdr_status::ok);
    for (size_t i = 0; i < 4; i++) {
        EXPECT_EQ(p[i].problem, cdr_problem::contains_nul) << i;
        EXPECT_STREQ(p[i].reason, "record contains \\u0000");
        EXPECT_EQ(p[i].field, nullptr);
        /* the escape is kept as sent (jansson cannot load a NUL key) */
        std::string l = line(p, i);
        EXPECT_NE(l.find("\"error\":\"record contains \\\\u0000\""),
                  std::string::npos)
            << l;
        EXPECT_NE(l.find("\"record\":" + raw(p, i) + "}"), std::string::npos);
        if (i != 2) {
            expect_line_record(l, p[i].raw);
        }
    }
    EXPECT_TRUE(p[4].valid);
    EXPECT_EQ(p.valid_count(), 1u);

    /* a NUL written raw is not JSON at all */
    std::string raw_nul =
        with_field(demo_record, "userData", std::string("\"a\0b\"", 5));
    EXPECT_EQ(parse(dialect::huawei, huawei_push({raw_nul}), p),
              cdr_status::not_json);
}

TEST(cdr_huawei, invalid_utf8_costs_its_record)
{
    cdr_push p;
    std::string bad =
        with_field(huawei_record_n(2), "userData", "\"\xe4\xb8\"");
    std::string recs[3] = {huawei_record_n(1), bad, huawei_record_n(3)};
    std::string body = huawei_push({recs[0], recs[1], recs[2]});

    ASSERT_EQ(parse(dialect::huawei, body, p), cdr_status::ok);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_TRUE(p[0].valid);
    EXPECT_TRUE(p[2].valid);
    EXPECT_EQ(key(p, 2), "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/s-3@h/1/i-3");
    EXPECT_EQ(p[1].problem, cdr_problem::not_utf8);
    EXPECT_STREQ(p[1].reason, "record is not valid UTF-8");
    EXPECT_EQ(p[1].key_len, 0u);
    EXPECT_EQ(p[1].tenant.data(), nullptr);

    /* the raw bytes are the body's, undecodable byte included */
    EXPECT_EQ(raw(p, 1), recs[1]);

    /* its line stays UTF-8 JSON and keeps the bytes in Base64 */
    std::string l = line(p, 1, {"shop", "t"});
    std::string b64;
    ASSERT_TRUE(base64_encode(recs[1], b64));
    EXPECT_EQ(l, "{\"dialect\":\"huawei\",\"type\":\"cdr\",\"app\":\"shop\","
                 "\"key\":\"\","
                 "\"received\":\"t\",\"error\":\"record is not valid UTF-8\","
                 "\"record_base64\":\""
                     + b64 + "\"}");
    EXPECT_LE(l.size(), cdr_line_bound(p, 1, {"shop", "t"}));
    json_t *j = load(l);
    std::string back;
    ASSERT_EQ(base64_decode(
                  json_string_value(json_object_get(j, "record_base64")), back),
              codec_error::ok);
    EXPECT_EQ(back, recs[1]);
    json_decref(j);

    /* overlong, surrogate and stray continuation bytes, in keys too */
    for (std::string seq :
         {"\xc0\xaf", "\xed\xa0\x80", "\x80", "\xf5\x80", "\xff"}) {
        std::string in_key = huawei_record_n(5);
        in_key.insert(1, "\"k" + seq + "\":1,");
        ASSERT_EQ(parse(dialect::huawei,
                        huawei_push({in_key, huawei_record_n(6)}), p),
                  cdr_status::ok);
        EXPECT_EQ(p[0].problem, cdr_problem::not_utf8);
        EXPECT_TRUE(p[1].valid);
    }

    /* outside the records the push is not JSON */
    std::string envelope = "{\"eventType\":\"fee\",\"x\":\"\xff\",\"feeLst\":["
                           + demo_record + "]}";
    EXPECT_EQ(parse(dialect::huawei, envelope, p), cdr_status::not_json);
    EXPECT_EQ(parse(dialect::huawei, body + "\xff", p), cdr_status::not_json);
    /* and so it is when the envelope is refused anyway */
    EXPECT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"bad\",\"feeLst\":[" + bad + "]}", p),
              cdr_status::not_json);
    /* a broken byte does not hide a syntax error */
    EXPECT_EQ(
        parse(dialect::huawei, huawei_push({bad, huawei_record_n(7) + "x"}), p),
        cdr_status::not_json);
}

TEST(cdr_huawei, duplicate_key_costs_its_record)
{
    cdr_push p;
    std::string top = huawei_record_n(1);
    top.insert(top.size() - 1, ",\"sessionId\":\"other\"");
    std::string unknown = huawei_record_n(2);
    unknown.insert(1, "\"x\":1,\"x\":2,");
    std::string nested = huawei_record_n(3);
    nested.insert(1, "\"ext\":{\"a\":1,\"b\":{\"c\":1,\"c\":2}},");
    std::string in_array = huawei_record_n(4);
    in_array.insert(1, "\"ext\":[{\"a\":1},{\"a\":1,\"\\u0061\":2}],");
    std::string fine = huawei_record_n(5);
    fine.insert(1, "\"ext\":[{\"a\":1},{\"a\":1}],\"x\":{\"a\":1},\"a\":2,");

    ASSERT_EQ(parse(dialect::huawei,
                    huawei_push({top, unknown, nested, in_array, fine}), p),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::duplicate_key);
    EXPECT_STREQ(p[0].reason, "record repeats the field \"sessionId\"");
    for (size_t i = 1; i < 4; i++) {
        EXPECT_EQ(p[i].problem, cdr_problem::duplicate_key) << i;
        EXPECT_STREQ(p[i].reason, "record repeats a key within one object");
    }
    EXPECT_TRUE(p[4].valid) << p[4].reason;
    /* the first value is the one the key was built from */
    EXPECT_EQ(key(p, 0), "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/s-1@h/1/i-1");

    /* a known field repeated after a null */
    std::string after_null = with_field(demo_record, "userData", "null");
    after_null.insert(after_null.size() - 1, ",\"userData\":\"x\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({after_null}), p),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::duplicate_key);

    /* an object of 100 keys is checked when it closes */
    std::string big = huawei_record_n(6);
    std::string many = "\"many\":{";
    for (int i = 0; i < 100; i++) {
        many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
    }
    std::string ok = big;
    ok.insert(1, many + "},");
    big.insert(1, many + ",\"k99\":1},");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({ok, big}), p),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(p[1].problem, cdr_problem::duplicate_key);
}

TEST(cdr_huawei, precedence_of_record_problems)
{
    cdr_push p;
    std::string rec = without_field(huawei_record_n(1), "spId");
    rec.insert(1, "\"x\":1,\"x\":\"\\u0000\",");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::contains_nul);

    rec = without_field(huawei_record_n(1), "spId");
    rec.insert(1, "\"x\":1,\"x\":2,");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::duplicate_key);

    cdr_options bound;
    bound.signer = "someone-else";
    rec = without_field(huawei_record_n(1), "spId");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p, bound),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::foreign_tenant);

    rec = with_field(huawei_record_n(1), "bindNum", "\"\xff\"");
    rec.insert(1, "\"x\":1,\"x\":\"\\u0000\",");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec, "\"\xff\""}), p),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::not_utf8);
    EXPECT_EQ(p[1].problem, cdr_problem::not_utf8);
}

TEST(cdr_huawei, lengths_count_characters_not_bytes)
{
    std::string zh32;
    for (int i = 0; i < 32; i++) {
        zh32 += "\xe4\xb8\xad"; /* 中 */
    }
    cdr_push p;
    std::string rec = with_field(demo_record, "bindNum", "\"" + zh32 + "\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;

    rec = with_field(demo_record, "bindNum", "\"" + zh32 + "x\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::too_long);

    /* \u escapes count as the character they decode to */
    rec = with_field(demo_record, "spId",
                     "\"" + std::string(31, 'a') + "\\u4e2d\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    rec = with_field(demo_record, "spId",
                     "\"" + std::string(32, 'a') + "\\ud83d\\ude00\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::too_long);
}

TEST(cdr_huawei, unknown_fields_and_edge_values_kept_byte_for_byte)
{
    const std::string ext =
        "\"vendorExt\":{\"a\":[1,2.50e3,-0,1E-7,\"\\u4e2d\\/x\\n\"],"
        "\"b\":null,\"c\":true,\"d\":\"\\ud83d\\ude00\",\"e\":{},\"f\":[]}";
    std::string rec = demo_record;
    rec.insert(1, ext + ",");
    rec = with_field(rec, "origCalleeNum", "\"+8613900000000\"");

    /* pretty-printed on the wire: whitespace is the only change */
    std::string pretty;
    bool in_string = false;
    for (size_t i = 0; i < rec.size(); i++) {
        char c = rec[i];
        pretty += c;
        if (c == '"' && (i == 0 || rec[i - 1] != '\\')) {
            in_string = !in_string;
        }
        if (!in_string && (c == ',' || c == ':' || c == '{' || c == '[')) {
            pretty += "\n\t ";
        }
    }

    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec, pretty}), p),
              cdr_status::ok);
    ASSERT_TRUE(p[0].valid) << p[0].reason;
    ASSERT_TRUE(p[1].valid) << p[1].reason;
    EXPECT_TRUE(p[0].compact);
    EXPECT_FALSE(p[1].compact);
    EXPECT_EQ(raw(p, 1), pretty);

    std::string l = line(p, 1);
    EXPECT_EQ(l.find('\n'), std::string::npos);
    EXPECT_EQ(l.find('\r'), std::string::npos);
    EXPECT_NE(l.find(ext), std::string::npos) << l;
    EXPECT_NE(l.find("\"record\":" + rec + "}"), std::string::npos) << l;
    EXPECT_EQ(line(p, 0), l);
    expect_line_record(l, p[1].raw);
}

/* the queue's pieces: a compact record goes as it came, by reference */
TEST(cdr_huawei, line_pieces_join_into_the_line)
{
    std::string bad_utf8 =
        with_field(huawei_record_n(2), "userData", "\"\xe4\xb8\"");
    std::string spaced = with_field(huawei_record_n(3), "userData", "\"a\"");
    spaced.insert(1, " \n");
    std::string invalid = with_field(huawei_record_n(4), "recordFlag", "7");
    cdr_push p;
    ASSERT_EQ(
        parse(dialect::huawei,
              huawei_push({huawei_record_n(1), bad_utf8, spaced, invalid}), p),
        cdr_status::ok);
    ASSERT_EQ(p.size(), 4u);

    /* compact: head, the record's own bytes, "}" */
    const bool by_reference[] = {true, false, false, true};

    for (size_t i = 0; i < p.size(); i++) {
        const cdr_line_meta meta{"shop", "t"};
        size_t bound = cdr_line_bound(p, i, meta);
        std::string head(bound, '\0');
        cdr_line_pieces pieces;
        size_t n = cdr_write_line_pieces(p, i, meta, &head[0], bound, &pieces);

        ASSERT_GT(n, 0u) << i;
        EXPECT_EQ(pieces.piece[0].data(), head.data()) << i;
        EXPECT_EQ(pieces.piece[0].size(), n) << i;
        if (by_reference[i]) {
            EXPECT_EQ(pieces.piece[1].data(), p[i].raw.data()) << i;
            EXPECT_EQ(pieces.piece[1].size(), p[i].raw.size()) << i;
            EXPECT_EQ(pieces.piece[2], "}") << i;
        } else {
            EXPECT_TRUE(pieces.piece[1].empty()) << i;
            EXPECT_TRUE(pieces.piece[2].empty()) << i;
        }

        std::string joined;
        for (std::string_view piece : pieces.piece) {
            joined.append(piece.data(), piece.size());
        }
        EXPECT_EQ(joined, line(p, i, meta)) << i;
        EXPECT_EQ(pieces.size(), joined.size()) << i;

        std::string out(pieces.size(), '\0');
        auto *at = reinterpret_cast<unsigned char *>(&out[0]);
        EXPECT_EQ(pieces.join(at), at + out.size()) << i;
        EXPECT_EQ(out, joined) << i;

        /* one byte short of the head: nothing, as for cdr_write_line */
        EXPECT_EQ(cdr_write_line_pieces(p, i, meta, &head[0], n - 1, &pieces),
                  0u)
            << i;
        EXPECT_EQ(pieces.size(), 0u) << i;
    }
    EXPECT_FALSE(p[3].valid);
}

/* every place whitespace may go gives the compact record's line */
TEST(cdr_huawei, whitespace_variants_give_identical_lines)
{
    const std::string compact =
        "{\"spId\":\"a b\",\"appKey\":\"k\",\"bindNum\":\"1\","
        "\"sessionId\":\"s\",\"callerNum\":\"2\",\"calleeNum\":\"3\","
        "\"direction\":1,\"x\":[1,{\"y\":\"z, w\"},[],{}],\"e\":{}}";
    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei, huawei_push({compact}), p),
              cdr_status::ok);
    ASSERT_TRUE(p[0].compact);
    const std::string want = line(p, 0, {"app", "t"});

    /* whitespace after every byte outside strings, one place at a time */
    size_t variants = 0;
    bool in_string = false;
    for (size_t i = 0; i + 1 < compact.size(); i++) {
        char c = compact[i];
        if (c == '"' && compact[i - 1] != '\\') {
            in_string = !in_string;
            if (in_string) {
                continue; /* after an opening quote is inside the string */
            }
        }
        if (in_string) {
            continue;
        }
        for (const char *ws : {" ", "\n", "\t\r\n "}) {
            std::string v =
                compact.substr(0, i + 1) + ws + compact.substr(i + 1);
            ASSERT_EQ(parse(dialect::huawei, huawei_push({v}), p),
                      cdr_status::ok)
                << v;
            EXPECT_FALSE(p[0].compact) << v;
            EXPECT_EQ(line(p, 0, {"app", "t"}), want) << v;
            variants++;
        }
    }
    EXPECT_GT(variants, 100u);

    /* around the record, whitespace is not the record's */
    ASSERT_EQ(parse(dialect::huawei,
                    "{\"eventType\":\"fee\",\"feeLst\":[ \n" + compact + "\n , "
                        + compact + "\t]}",
                    p),
              cdr_status::ok);
    EXPECT_TRUE(p[0].compact);
    EXPECT_TRUE(p[1].compact);
    EXPECT_EQ(raw(p, 0), compact);
    EXPECT_EQ(raw(p, 1), compact);
}

TEST(cdr_huawei, utf8_chinese_preserved)
{
    /* 订单号:张三 and a 4-byte emoji */
    const std::string zh = "\xe8\xae\xa2\xe5\x8d\x95\xe5\x8f\xb7:\xe5\xbc\xa0"
                           "\xe4\xb8\x89 \xf0\x9f\x93\x9e";
    std::string rec = with_field(demo_record, "userData", "\"" + zh + "\"");
    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), p), cdr_status::ok);
    ASSERT_TRUE(p[0].valid);
    std::string l = line(p, 0);
    EXPECT_NE(l.find("\"userData\":\"" + zh + "\""), std::string::npos);

    json_t *back = load(l);
    EXPECT_STREQ(json_string_value(json_object_get(
                     json_object_get(back, "record"), "userData")),
                 zh.c_str());
    json_decref(back);
}

TEST(cdr_huawei, key_stability)
{
    cdr_push a;
    cdr_push b;

    ASSERT_EQ(parse(dialect::huawei, huawei_push({demo_record}), a),
              cdr_status::ok);

    /* reordered, re-spaced, non-key field changed: same key */
    std::string moved = without_field(demo_record, "sessionId");
    moved.insert(1, "\"sessionId\" : \"1200_1029_4294967295_20190123091514"
                    "@callenabler246.huaweicaas.com\" ,");
    moved = with_field(moved, "callEndTime", "\"2019-01-23 09:20:00\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({moved}), b), cdr_status::ok);
    EXPECT_EQ(key(a, 0), key(b, 0));
    EXPECT_TRUE(same_digest(a[0], b[0]));

    /* escaped spelling of the same value, and of the field name: same key */
    std::string esc = with_field(demo_record, "appKey",
                                 "\"V1Z96521zFr3vxe5N2A1UJ1sQ1W\\u0050\"");
    size_t at = esc.find("\"sessionId\"");
    esc.replace(at, 11, "\"session\\u0049d\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({esc}), b), cdr_status::ok);
    ASSERT_TRUE(b[0].valid) << b[0].reason;
    EXPECT_EQ(key(a, 0), key(b, 0));
    EXPECT_EQ(b[0].tenant, "V1Z96521zFr3vxe5N2A1UJ1sQ1WP");
    EXPECT_TRUE(same_digest(a[0], b[0]));

    /* key fields change the key */
    for (auto [f, v] : std::vector<std::pair<std::string, std::string>>{
             {"icid", "\"other\""},
             {"sessionId", "\"other\""},
             {"appKey", "\"other\""},
             {"direction", "2"}})
    {
        ASSERT_EQ(parse(dialect::huawei,
                        huawei_push({with_field(demo_record, f, v)}), b),
                  cdr_status::ok);
        EXPECT_NE(key(a, 0), key(b, 0)) << f;
        EXPECT_FALSE(same_digest(a[0], b[0])) << f;
    }

    /* components are percent-encoded: '/' cannot fake a boundary */
    std::string slash = with_field(
        with_field(demo_record, "sessionId", "\"a/b %2F\xe4\xb8\xad\""), "icid",
        "\"x\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({slash}), b), cdr_status::ok);
    EXPECT_EQ(key(b, 0), "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/"
                         "a%2Fb%20%252F%E4%B8%AD/1/x");
    std::string escaped =
        with_field(with_field(demo_record, "sessionId", "\"a\\/b %2F\\u4e2d\""),
                   "icid", "\"x\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({escaped}), a),
              cdr_status::ok);
    EXPECT_EQ(key(a, 0), key(b, 0));
    EXPECT_TRUE(same_digest(a[0], b[0]));
}

/* ------------------------------------------------------------------ */
/* binding to the verified app (review F2) and the digest's scope      */

TEST(cdr_binding, huawei_record_of_another_app_is_foreign)
{
    std::string mine = huawei_record_n(1);
    std::string theirs =
        with_field(huawei_record_n(2), "appKey", "\"otherAppKey\"");
    cdr_options bound;
    bound.signer = "V1Z96521zFr3vxe5N2A1UJ1sQ1WP";

    cdr_push p;
    ASSERT_EQ(parse(dialect::huawei, huawei_push({mine, theirs}), p, bound),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_FALSE(p[1].valid);
    EXPECT_EQ(p[1].problem, cdr_problem::foreign_tenant);
    EXPECT_STREQ(p[1].field, "appKey");
    EXPECT_STREQ(p[1].reason,
                 "field \"appKey\" is not the app that signed the push");
    /* its key is still there for the log and the dead letter */
    EXPECT_EQ(key(p, 1), "huawei/otherAppKey/s-2@h/1/i-2");
    EXPECT_EQ(p.valid_count(), 1u);

    /* unbound (no signer): every app */
    ASSERT_EQ(parse(dialect::huawei, huawei_push({mine, theirs}), p),
              cdr_status::ok);
    EXPECT_EQ(p.valid_count(), 2u);

    /* the comparison is on the decoded value */
    std::string escaped =
        with_field(huawei_record_n(3), "appKey",
                   "\"\\u0056\\u0031Z96521zFr3vxe5N2A1UJ1sQ1WP\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({escaped}), p, bound),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
}

TEST(cdr_binding, aliyun_allow_list)
{
    std::string pool = aliyun_record;
    std::string partner =
        with_field(with_field(without_field(aliyun_record, "pool_key"),
                              "call_id", "\"c-2\""),
                   "partner_key", "\"PK-OTHER\"");
    std::string stranger =
        with_field(with_field(aliyun_record, "pool_key", "\"FC-STRANGER\""),
                   "call_id", "\"c-3\"");
    const std::string_view allowed[] = {"FC100000123456789", "PK-OTHER"};
    cdr_options bound;
    bound.tenants = allowed;
    bound.tenant_count = 2;

    cdr_push p;
    ASSERT_EQ(parse(dialect::aliyun, aliyun_push({pool, partner, stranger}), p,
                    bound),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_TRUE(p[1].valid) << p[1].reason;
    EXPECT_EQ(p[1].tenant_kind, cdr_tenant_kind::partner_key);
    EXPECT_EQ(p[2].problem, cdr_problem::foreign_tenant);
    EXPECT_STREQ(p[2].reason, "field \"pool_key\" is not an allowed tenant");

    /* the tenant is what is checked: pool_key wins over partner_key */
    std::string both = with_field(aliyun_record, "partner_key", "\"PK-OTHER\"");
    both = with_field(both, "pool_key", "\"FC-STRANGER\"");
    ASSERT_EQ(parse(dialect::aliyun, aliyun_push({both}), p, bound),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::foreign_tenant);

    /* an empty list allows nobody */
    bound.tenant_count = 0;
    ASSERT_EQ(parse(dialect::aliyun, aliyun_push({pool}), p, bound),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::foreign_tenant);
}

TEST(cdr_binding, scope_changes_the_digest_not_the_key)
{
    cdr_push plain;
    cdr_push scoped;
    cdr_push other;
    cdr_options a;
    cdr_options b;
    a.scope = "app-a";
    b.scope = "app-b";
    std::string body = huawei_push({demo_record});

    ASSERT_EQ(parse(dialect::huawei, body, plain), cdr_status::ok);
    ASSERT_EQ(parse(dialect::huawei, body, scoped, a), cdr_status::ok);
    ASSERT_EQ(parse(dialect::huawei, body, other, b), cdr_status::ok);

    EXPECT_EQ(key(plain, 0), demo_key);
    EXPECT_EQ(key(scoped, 0), demo_key);
    EXPECT_EQ(key(other, 0), demo_key);
    EXPECT_EQ(line(plain, 0, {"x", "t"}), line(scoped, 0, {"x", "t"}));
    EXPECT_FALSE(same_digest(plain[0], scoped[0]));
    EXPECT_FALSE(same_digest(scoped[0], other[0]));

    /* SHA-256(le64(len) || scope || key), no ambiguity between the parts */
    std::string framed =
        std::string("\x05\0\0\0\0\0\0\0", 8) + "app-a" + demo_key;
    unsigned char sha[cdr_body_digest_size];
    ASSERT_TRUE(cdr_body_digest("", framed, sha));
    EXPECT_EQ(0, std::memcmp(scoped[0].key_digest, sha, cdr_key_digest_size));

    cdr_options shifted;
    shifted.scope = "app-ah";
    std::string rec = with_field(demo_record, "appKey", "\"uawei\"");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({rec}), other, shifted),
              cdr_status::ok);
    EXPECT_FALSE(same_digest(scoped[0], other[0]));
}

/* ------------------------------------------------------------------ */
/* Aliyun                                                               */

TEST(cdr_aliyun, secret_report_push)
{
    std::string second =
        with_field(with_field(without_field(aliyun_record, "pool_key"),
                              "call_id", "\"c-2\""),
                   "call_type", "1");
    cdr_push p;
    ASSERT_EQ(parse(dialect::aliyun, aliyun_push({aliyun_record, second}), p),
              cdr_status::ok);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_TRUE(p[1].valid) << p[1].reason;
    EXPECT_EQ(key(p, 0), "aliyun/pool_key/FC100000123456789/abcedf1234");
    EXPECT_EQ(key(p, 1), "aliyun/partner_key/PK4000123456/c-2");
    EXPECT_EQ(p[0].tenant_kind, cdr_tenant_kind::pool_key);
    EXPECT_EQ(raw(p, 0), aliyun_record);

    std::string l = line(p, 0, {"shop", "2026-11-28T12:00:00Z"});
    EXPECT_EQ(
        l, "{\"dialect\":\"aliyun\",\"type\":\"cdr\",\"app\":\"shop\",\"key\":"
           "\"aliyun/pool_key/FC100000123456789/abcedf1234\","
           "\"received\":\"2026-11-28T12:00:00Z\",\"record\":"
               + aliyun_record + "}");
}

TEST(cdr_aliyun, record_rules)
{
    struct bad_case {
        std::string rec;
        cdr_problem problem;
        const char *field;
    };
    const bad_case cases[] = {
        {without_field(aliyun_record, "call_id"), cdr_problem::missing,
         "call_id"},
        {with_field(aliyun_record, "call_id", "\"\""), cdr_problem::too_short,
         "call_id"},
        {with_field(aliyun_record, "call_id",
                    "\"" + std::string(101, 'c') + "\""),
         cdr_problem::too_long, "call_id"},
        {without_field(without_field(aliyun_record, "pool_key"), "partner_key"),
         cdr_problem::missing, "pool_key/partner_key"},
        {with_field(with_field(aliyun_record, "pool_key", "\"\""),
                    "partner_key", "null"),
         cdr_problem::missing, "pool_key/partner_key"},
        {with_field(aliyun_record, "pool_key", "7"), cdr_problem::wrong_type,
         "pool_key"},
        {with_field(aliyun_record, "call_type", "\"0\""),
         cdr_problem::wrong_type, "call_type"},
        {with_field(aliyun_record, "sub_id", "\"1000000012345\""),
         cdr_problem::wrong_type, "sub_id"},
        {with_field(aliyun_record, "sub_id", "1e400"), cdr_problem::wrong_type,
         "sub_id"},
        {with_field(aliyun_record, "sub_id", "1180591620717411303424"),
         cdr_problem::out_of_range, "sub_id"},
        {with_field(aliyun_record, "id", "\"1\""), cdr_problem::wrong_type,
         "id"},
        {with_field(aliyun_record, "release_time", "0"),
         cdr_problem::wrong_type, "release_time"},
        {"[]", cdr_problem::not_an_object, nullptr},
    };

    cdr_push p;
    for (const bad_case &c : cases) {
        ASSERT_EQ(parse(dialect::aliyun, aliyun_push({c.rec}), p),
                  cdr_status::ok)
            << c.rec;
        EXPECT_FALSE(p[0].valid) << c.rec;
        EXPECT_EQ(p[0].problem, c.problem) << c.rec;
        if (c.field != nullptr) {
            EXPECT_STREQ(p[0].field, c.field);
        }
    }

    /* accepted variations: A-7 subs_id, real id, unknown fields, nulls,
     * an id beyond 64 bits or beyond double ("id" is any number) */
    for (const char *id : {"1.5e3", "1180591620717411303424", "1e400"}) {
        std::string ok = with_field(
            with_field(without_field(aliyun_record, "sub_id"), "subs_id", "12"),
            "id", id);
        ok = with_field(ok, "Vendor", "\"x\"");
        ok = with_field(ok, "extension", "null");
        ASSERT_EQ(parse(dialect::aliyun, aliyun_push({ok}), p), cdr_status::ok);
        EXPECT_TRUE(p[0].valid) << id << ": " << p[0].reason;
    }
}

TEST(cdr_aliyun, envelope)
{
    cdr_push p;
    EXPECT_EQ(parse(dialect::aliyun, "[]", p), cdr_status::no_records);
    EXPECT_EQ(parse(dialect::aliyun, " [ ] ", p), cdr_status::no_records);
    EXPECT_EQ(parse(dialect::aliyun, aliyun_record, p),
              cdr_status::not_an_array);
    EXPECT_EQ(parse(dialect::aliyun, "[" + aliyun_record + "] x", p),
              cdr_status::not_json);
    EXPECT_EQ(parse(dialect::aliyun, "null", p), cdr_status::not_an_array);
    EXPECT_EQ(parse(dialect::aliyun, "\"[]\"", p), cdr_status::not_an_array);

    /* no envelope object: a repeated key is always inside a record */
    EXPECT_EQ(parse(dialect::aliyun, "[{\"a\":1,\"a\":1}]", p), cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::duplicate_key);
    EXPECT_EQ(parse(dialect::aliyun, "{\"a\":1,\"a\":1}", p),
              cdr_status::duplicate_key);
}

TEST(cdr_aliyun, thousand_records)
{
    std::vector<std::string> many;
    for (size_t i = 0; i < cdr_aliyun_max_records; i++) {
        many.push_back(with_field(aliyun_record, "call_id",
                                  "\"c-" + std::to_string(i) + "\""));
    }
    many[500] = aliyun_record; /* same key as record 0... */
    many[0] = aliyun_record;

    cdr_push p;
    ASSERT_EQ(parse(dialect::aliyun, aliyun_push(many), p), cdr_status::ok);
    EXPECT_EQ(p.size(), cdr_aliyun_max_records);
    EXPECT_EQ(p.valid_count(), cdr_aliyun_max_records);
    EXPECT_EQ(p.duplicate_count(), 1u);
    EXPECT_EQ(p[500].dup_of, 0u);
    EXPECT_FALSE(p[500].conflict);
    for (size_t i = 1; i < p.size(); i++) {
        if (i != 500) {
            EXPECT_EQ(key(p, i), "aliyun/pool_key/FC100000123456789/c-"
                                     + std::to_string(i));
        }
        ASSERT_EQ(raw(p, i), many[i]);
    }

    many.push_back(aliyun_record);
    EXPECT_EQ(parse(dialect::aliyun, aliyun_push(many), p),
              cdr_status::too_many_records);
    EXPECT_STREQ(p.detail(), "1001 records, at most 1000 allowed");
}

TEST(cdr_aliyun, fixture_file)
{
    std::string body = read_data("aliyun_push.json");
    ASSERT_FALSE(body.empty()) << "run from the repository root";
    cdr_push p;
    ASSERT_EQ(parse(dialect::aliyun, body, p), cdr_status::ok);
    EXPECT_EQ(p.size(), 20u);
    EXPECT_EQ(p.valid_count(), 20u);
    EXPECT_EQ(p.duplicate_count(), 0u);
    for (size_t i = 0; i < p.size(); i++) {
        expect_line_record(line(p, i), p[i].raw);
    }
}

/* ------------------------------------------------------------------ */
/* lines                                                                */

TEST(cdr_line, wrapper_format)
{
    cdr_push p;
    std::string bad = with_field(demo_record, "recordFlag", "3");
    ASSERT_EQ(parse(dialect::huawei, huawei_push({demo_record, bad}), p),
              cdr_status::ok);

    EXPECT_EQ(
        line(p, 0, {"shop", "2026-11-28T12:00:00Z"}),
        "{\"dialect\":\"huawei\",\"type\":\"cdr\",\"app\":\"shop\",\"key\":\""
            + demo_key + "\",\"received\":\"2026-11-28T12:00:00Z\",\"record\":"
            + demo_record + "}");

    /* no app given: the record's appKey */
    EXPECT_EQ(
        line(p, 0).rfind("{\"dialect\":\"huawei\",\"type\":\"cdr\",\"app\":"
                         "\"V1Z96521zFr3vxe5N2A1UJ1sQ1WP\",",
                         0),
        0u);

    /* invalid records carry their reason */
    EXPECT_NE(line(p, 1).find(
                  ",\"error\":\"field \\\"recordFlag\\\" must be between 0 "
                  "and 1\",\"record\":"),
              std::string::npos);

    /* caller strings are escaped; invalid UTF-8 becomes U+FFFD */
    std::string l = line(p, 0, {"a\"b\\c\n\xff\xe4\xb8\xad", "t"});
    EXPECT_NE(l.find("\"app\":\"a\\\"b\\\\c\\u000a\\ufffd\xe4\xb8\xad\""),
              std::string::npos)
        << l;
    json_decref(load(l));

    /* buffer API: exact fit works, one byte short fails */
    size_t bound = cdr_line_bound(p, 0, {});
    std::string buf(bound, '\0');
    size_t n = cdr_write_line(p, 0, {}, &buf[0], bound);
    ASSERT_GT(n, 0u);
    EXPECT_EQ(buf.substr(0, n), line(p, 0));
    EXPECT_EQ(cdr_write_line(p, 0, {}, &buf[0], n), n);
    EXPECT_EQ(cdr_write_line(p, 0, {}, &buf[0], n - 1), 0u);
    EXPECT_EQ(cdr_write_line(p, 5, {}, &buf[0], bound), 0u);
    EXPECT_EQ(cdr_line_bound(p, 5, {}), 0u);

    /* appends, never replaces */
    std::string acc = "x";
    ASSERT_TRUE(cdr_append_line(p, 0, {}, acc));
    EXPECT_EQ(acc, "x" + line(p, 0));
}

TEST(cdr_misc, body_digest_and_names)
{
    unsigned char d[cdr_body_digest_size];
    ASSERT_TRUE(cdr_body_digest("", "abc", d));
    const unsigned char abc[4] = {0xba, 0x78, 0x16, 0xbf};
    EXPECT_EQ(0, std::memcmp(d, abc, 4));
    EXPECT_EQ(d[31], 0xad);

    // the same body signed by two apps: two pushes, neither the other's
    // retry; framed as the record keys are: le64(len) || scope || body
    unsigned char a[cdr_body_digest_size], b[cdr_body_digest_size];
    unsigned char framed[cdr_body_digest_size];
    ASSERT_TRUE(cdr_body_digest("appKeyA", "abc", a));
    ASSERT_TRUE(cdr_body_digest("appKeyB", "abc", b));
    ASSERT_TRUE(cdr_body_digest(
        "", std::string("\x07\0\0\0\0\0\0\0appKeyAabc", 18), framed));
    EXPECT_NE(0, std::memcmp(a, b, sizeof(a)));
    EXPECT_NE(0, std::memcmp(a, d, sizeof(a)));
    EXPECT_EQ(0, std::memcmp(a, framed, sizeof(a)));

    std::set<std::string> names;
    for (int s = 0; s <= static_cast<int>(cdr_status::no_memory); s++) {
        cdr_status st = static_cast<cdr_status>(s);
        names.insert(cdr_status_name(st));
        for (dialect d2 : {dialect::huawei, dialect::aliyun}) {
            const char *m = cdr_status_message(st, d2);
            ASSERT_NE(m, nullptr);
            EXPECT_GT(std::strlen(m), 1u);
        }
    }
    EXPECT_EQ(names.size(), 11u);
    std::set<std::string> problems;
    for (int s = 0; s <= static_cast<int>(cdr_problem::wrong_value); s++) {
        problems.insert(cdr_problem_message(static_cast<cdr_problem>(s)));
    }
    EXPECT_EQ(problems.size(), 12u);
    EXPECT_STREQ(cdr_status_name(cdr_status::duplicate_key), "duplicate_key");
    EXPECT_STREQ(dialect_name(dialect::aliyun), "aliyun");
    EXPECT_STREQ(cdr_problem_message(cdr_problem::missing), "is missing");
    EXPECT_EQ(cdr_max_records(dialect::huawei, push_type::cdr, cdr_options()),
              50u);
    EXPECT_EQ(cdr_max_records(dialect::aliyun, push_type::cdr, cdr_options()),
              1000u);

    size_t n = 0;
    const cdr_field_rule *rules =
        cdr_field_rules(dialect::huawei, push_type::cdr, &n);
    EXPECT_EQ(n, 41u);
    EXPECT_STREQ(rules[0].name, "appKey");
    cdr_field_rules(dialect::aliyun, push_type::cdr, &n);
    EXPECT_EQ(n, 28u);
}

/* ------------------------------------------------------------------ */
/* the realistic pushes and memory                                      */

namespace {

/* A request pool's stand-in that counts what a parse takes from it. */
struct counting_pool {
    size_t calls = 0;
    size_t bytes = 0;
    std::vector<std::unique_ptr<char[]>> blocks;

    static void *alloc(void *ctx, size_t size) noexcept
    {
        auto *pool = static_cast<counting_pool *>(ctx);
        pool->calls++;
        pool->bytes += size;
        try {
            pool->blocks.emplace_back(new char[size]);
        } catch (...) {
            return nullptr;
        }
        return pool->blocks.back().get();
    }
};

/* Refuses after `left` more allocations. */
struct failing_pool {
    size_t left;

    static void *alloc(void *ctx, size_t size) noexcept
    {
        auto *pool = static_cast<failing_pool *>(ctx);
        if (pool->left == 0) {
            return nullptr;
        }
        pool->left--;
        return counting_alloc(size);
    }

    static void *counting_alloc(size_t size) noexcept
    {
        static counting_pool keep;
        return counting_pool::alloc(&keep, size);
    }
};

} // namespace

TEST(cdr_push_memory, fixture_push_of_fifty)
{
    std::string body = read_data("huawei_push_50.json");
    ASSERT_GT(body.size(), 40000u) << "run from the repository root";

    counting_pool pool;
    cdr_push p(cdr_allocator{counting_pool::alloc, &pool});
    ASSERT_EQ(parse_push(test_parser(), dialect::huawei, body.data(),
                         body.size(), cdr_options(), p),
              cdr_status::ok);
    EXPECT_EQ(p.size(), 50u);
    EXPECT_EQ(p.valid_count(), 50u);
    EXPECT_EQ(p.duplicate_count(), 0u);
    /* the record table and the duplicate table: no per-value allocation */
    EXPECT_EQ(pool.calls, 2u);
    EXPECT_LE(pool.bytes, 50 * sizeof(cdr_record) + 128 * 4);

    std::set<std::string> keys;
    std::string all;
    for (size_t i = 0; i < p.size(); i++) {
        EXPECT_TRUE(p[i].compact);
        keys.insert(key(p, i));
        ASSERT_TRUE(cdr_append_line(p, i, {"shop", "t"}, all));
        all += '\n';
    }
    EXPECT_EQ(keys.size(), 50u);

    /* 50 lines, each a JSON object whose record is the record's bytes */
    std::istringstream in(all);
    std::string l;
    size_t i = 0;
    while (std::getline(in, l)) {
        EXPECT_NE(l.find("\"record\":" + raw(p, i) + "}"), std::string::npos);
        expect_line_record(l, p[i].raw);
        i++;
    }
    EXPECT_EQ(i, 50u);
    EXPECT_LT(all.size(), body.size() + 50 * 250);

    /* in place (the body padded) or copied: the same result */
    std::string padded = body + std::string(cdr_padding, '\0');
    cdr_options in_place;
    in_place.padded = true;
    cdr_push q;
    ASSERT_EQ(parse_push(test_parser(), dialect::huawei, padded.data(),
                         body.size(), in_place, q),
              cdr_status::ok);
    ASSERT_EQ(q.size(), 50u);
    for (size_t k = 0; k < 50; k++) {
        EXPECT_EQ(line(q, k, {"shop", "t"}), line(p, k, {"shop", "t"}));
        EXPECT_TRUE(same_digest(p[k], q[k]));
    }

    /* ... also when the body's bytes must be replaced to be parsed */
    std::string broken = body;
    size_t at = broken.find("\"spId\":\"linlingoo_omp\"");
    broken[at + 9] = '\xff';
    std::string broken_padded = broken + std::string(cdr_padding, '\0');
    ASSERT_EQ(parse_push(test_parser(), dialect::huawei, broken_padded.data(),
                         broken.size(), in_place, q),
              cdr_status::ok);
    EXPECT_EQ(q[0].problem, cdr_problem::not_utf8);
    EXPECT_EQ(q.valid_count(), 49u);
    EXPECT_EQ(broken_padded.substr(0, broken.size()), broken)
        << "the caller's body is never written";
}

/* Review F10: ~80x the body with jansson; now the tables and escapes only */
TEST(cdr_push_memory, a_megabyte_aliyun_push_stays_within_twice_its_size)
{
    /* 1000 receipts of ~1,040 bytes, every call_id escaped */
    std::vector<std::string> recs;
    for (int i = 0; i < 1000; i++) {
        std::string r = with_field(aliyun_record, "call_id",
                                   "\"c\\u002D" + std::to_string(i) + "\"");
        recs.push_back(
            with_field(r, "vendorPadding",
                       "\"" + std::string(1020 - r.size(), 'x') + "\""));
    }
    std::string body = aliyun_push(recs);
    ASSERT_GT(body.size(), 1000u * 1024);
    ASSERT_LE(body.size(), cdr_default_max_body);

    counting_pool pool;
    cdr_push p(cdr_allocator{counting_pool::alloc, &pool});
    ASSERT_EQ(parse_push(test_parser(), dialect::aliyun, body.data(),
                         body.size(), cdr_options(), p),
              cdr_status::ok);
    EXPECT_EQ(p.size(), 1000u);
    EXPECT_EQ(p.valid_count(), 1000u);
    EXPECT_EQ(key(p, 7), "aliyun/pool_key/FC100000123456789/c-7");

    /* the record table grown by doubling (64 ... 1000), the duplicate
     * table, and one decoded copy per escaped call_id */
    size_t tables = (64 + 128 + 256 + 512 + 1000) * sizeof(cdr_record)
                    + 2048 * sizeof(uint32_t);
    EXPECT_LE(pool.bytes, 2 * body.size() + 2 * 1000 * sizeof(cdr_record));
    EXPECT_LE(pool.bytes, tables + 1000 * 16);
    EXPECT_EQ(pool.calls, 5u + 1 + 1000);

    /* hostile shapes: 340,000 empty objects, one object of 95,000 keys */
    std::string objects = "[{}";
    while (objects.size() < 1000 * 1024) {
        objects += ",{}";
    }
    objects += "]";
    counting_pool pool2;
    cdr_push q(cdr_allocator{counting_pool::alloc, &pool2});
    EXPECT_EQ(parse_push(test_parser(), dialect::aliyun, objects.data(),
                         objects.size(), cdr_options(), q),
              cdr_status::too_many_records);
    EXPECT_LE(pool2.bytes, 2 * 1000 * sizeof(cdr_record));

    std::string keys = "[{";
    for (int i = 0; keys.size() < 1000 * 1024; i++) {
        keys += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
    }
    std::string dup_keys = keys + ",\"k17\":1}]";
    keys += "}]";
    counting_pool pool3;
    cdr_push r(cdr_allocator{counting_pool::alloc, &pool3});
    ASSERT_EQ(parse_push(test_parser(), dialect::aliyun, keys.data(),
                         keys.size(), cdr_options(), r),
              cdr_status::ok);
    EXPECT_EQ(r[0].problem, cdr_problem::missing);
    EXPECT_LE(pool3.bytes, 64 * sizeof(cdr_record) + 8 * 4);
    ASSERT_EQ(parse_push(test_parser(), dialect::aliyun, dup_keys.data(),
                         dup_keys.size(), cdr_options(), r),
              cdr_status::ok);
    EXPECT_EQ(r[0].problem, cdr_problem::duplicate_key);
}

TEST(cdr_push_memory, allocation_failures_are_no_memory)
{
    std::string body = huawei_push({demo_record, huawei_record_n(2)});
    std::string escaped = with_field(demo_record, "appKey", "\"\\u0041pp\"");
    std::string body2 = huawei_push({escaped});

    for (size_t left = 0; left < 2; left++) {
        failing_pool pool{left};
        cdr_push p(cdr_allocator{failing_pool::alloc, &pool});
        cdr_status s = parse_push(test_parser(), dialect::huawei, body.data(),
                                  body.size(), cdr_options(), p);
        if (left == 0) {
            EXPECT_EQ(s, cdr_status::no_memory);
            EXPECT_EQ(p.size(), 0u);
        } else {
            /* without a duplicate table, the quadratic check */
            EXPECT_EQ(s, cdr_status::ok);
            EXPECT_EQ(p.size(), 2u);
        }
    }

    /* the decoded copy of an escaped tenant */
    failing_pool one{1};
    cdr_push p(cdr_allocator{failing_pool::alloc, &one});
    EXPECT_EQ(parse_push(test_parser(), dialect::huawei, body2.data(),
                         body2.size(), cdr_options(), p),
              cdr_status::no_memory);

    /* an empty parser gets its buffers on first use */
    cdr_parser empty;
    EXPECT_EQ(empty.capacity(), 0u);
    cdr_push q;
    EXPECT_EQ(parse_push(empty, dialect::huawei, body.data(), body.size(),
                         cdr_options(), q),
              cdr_status::ok);
    EXPECT_GE(empty.capacity(), body.size());
}

TEST(cdr_push_memory, reuse_and_clear)
{
    /* ASan/valgrind builds catch a leak of the malloc'd memory here */
    std::string body = huawei_push({demo_record, huawei_record_n(2)});
    cdr_push p;
    for (int i = 0; i < 100; i++) {
        ASSERT_EQ(parse(dialect::huawei, body, p), cdr_status::ok);
    }
    EXPECT_EQ(p.size(), 2u);
    p.clear();
    EXPECT_EQ(p.size(), 0u);
    EXPECT_EQ(p.status(), cdr_status::ok);

    /* a parser grows for a larger body and keeps working */
    cdr_parser parser;
    ASSERT_TRUE(parser.reserve(10));
    EXPECT_GE(parser.capacity(), 10u);
    std::string big = read_data("huawei_push_50.json");
    EXPECT_EQ(parse_push(parser, dialect::huawei, big.data(), big.size(),
                         cdr_options(), p),
              cdr_status::ok);
    EXPECT_GE(parser.capacity(), big.size());
    EXPECT_EQ(parse_push(parser, dialect::huawei, body.data(), body.size(),
                         cdr_options(), p),
              cdr_status::ok);
    EXPECT_EQ(p.size(), 2u);
}
