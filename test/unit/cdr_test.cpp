#include "core/cdr.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace provision_x;

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
    std::string s = "{\"eventType\":\"fee\",\"feeLst\":[";
    for (size_t i = 0; i < records.size(); i++) {
        s += i ? "," : "";
        s += records[i];
    }
    return s + "]}";
}

std::string
aliyun_push(const std::vector<std::string> &records)
{
    std::string s = "[";
    for (size_t i = 0; i < records.size(); i++) {
        s += i ? "," : "";
        s += records[i];
    }
    return s + "]";
}

/* Replace "name":<value> in a flat record (value = string or scalar). */
std::string
with_field(std::string rec, const std::string &name, const std::string &val)
{
    std::string k = "\"" + name + "\":";
    size_t p = rec.find(k);
    if (p == std::string::npos) {
        rec.insert(rec.size() - 1, "," + k + val);
        return rec;
    }
    size_t v = p + k.size();
    size_t e = v;
    if (rec[v] == '"') {
        e = rec.find('"', v + 1) + 1;
    } else {
        while (rec[e] != ',' && rec[e] != '}') {
            e++;
        }
    }
    return rec.replace(v, e - v, val);
}

std::string
without_field(const std::string &rec, const std::string &name)
{
    /* mark the value, then drop the member and one adjacent comma */
    std::string k = "\"" + name + "\":";
    std::string marked = with_field(rec, name, "@@");
    size_t m = marked.find(k + "@@");
    size_t end = m + k.size() + 2;

    if (marked[end] == ',') {
        end++;
    } else if (marked[m - 1] == ',') {
        m--;
    }
    return marked.erase(m, end - m);
}

std::string
huawei_record_n(int i)
{
    return with_field(with_field(demo_record, "sessionId",
                                 "\"s-" + std::to_string(i) + "@h\""),
                      "icid", "\"i-" + std::to_string(i) + "\"");
}

std::string
read_data(const char *name)
{
    /* the Makefile passes -DPX_TEST_DATA; the environment overrides */
    const char *dir = std::getenv("PX_TEST_DATA_DIR");
#ifdef PX_TEST_DATA
    if (dir == nullptr) {
        dir = PX_TEST_DATA;
    }
#endif
    std::string path = std::string(dir ? dir : "test/data") + "/" + name;
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/*
 * A push borrows its body, so the helper keeps a copy per push alive (the
 * tests pass temporaries).
 */
cdr_status
parse(cdr_dialect d, const std::string &body, cdr_push &out,
      cdr_limits limits = {})
{
    static std::map<const cdr_push *, std::string> bodies;
    std::string &kept = bodies[&out];

    out.clear();
    kept = body;
    return parse_push(d, kept.data(), kept.size(), limits, out);
}

std::string
line(const cdr_push &p, size_t i, cdr_line_meta meta = {})
{
    std::string s;
    EXPECT_TRUE(cdr_append_line(p, i, meta, s));
    return s;
}

/* the "record" member of a line, re-parsed */
json_t *
line_record(const std::string &l)
{
    json_error_t err;
    json_t *root = json_loadb(l.data(), l.size(), JSON_REJECT_DUPLICATES, &err);
    EXPECT_NE(root, nullptr) << err.text << " in " << l;
    json_t *rec = json_incref(json_object_get(root, "record"));
    json_decref(root);
    return rec;
}

} // namespace

/* ------------------------------------------------------------------ */
/* Huawei envelope                                                      */

TEST(cdr_huawei, demo_payload)
{
    cdr_push p;
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({demo_record}), p),
              cdr_status::ok);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p.valid_count(), 1u);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_STREQ(p[0].reason, "");
    EXPECT_EQ(p[0].key_view(), demo_key);
    EXPECT_EQ(std::string(p[0].tenant, p[0].tenant_len),
              "V1Z96521zFr3vxe5N2A1UJ1sQ1WP");
    EXPECT_EQ(std::string(p[0].raw, p[0].raw_len), demo_record);
    EXPECT_EQ(p[0].dup_of, cdr_no_dup);
    EXPECT_STREQ(p.detail(), "");
}

/* §3.4: the demo's two records share sessionId/icid -> one key */
TEST(cdr_huawei, demo_records_sharing_session_share_a_key)
{
    cdr_push p;
    ASSERT_EQ(
        parse(cdr_dialect::huawei, huawei_push({demo_record, demo_record}), p),
        cdr_status::ok);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p.valid_count(), 2u);
    EXPECT_EQ(p[0].key_view(), p[1].key_view());
    EXPECT_EQ(
        0, std::memcmp(p[0].key_digest, p[1].key_digest, cdr_key_digest_size));
    EXPECT_EQ(p[1].dup_of, 0u);
    EXPECT_FALSE(p[1].conflict);
    EXPECT_EQ(p.duplicate_count(), 1u);

    /* same key, different content: flagged as a conflict (A-20) */
    std::string later =
        with_field(demo_record, "callEndTime", "\"2019-01-23 09:16:42\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({demo_record, later}), p),
              cdr_status::ok);
    EXPECT_EQ(p[1].dup_of, 0u);
    EXPECT_TRUE(p[1].conflict);

    /* another leg of the call (direction differs): a different key */
    std::string leg = with_field(demo_record, "direction", "0");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({demo_record, leg}), p),
              cdr_status::ok);
    EXPECT_NE(p[0].key_view(), p[1].key_view());
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
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push(recs), p), cdr_status::ok);
    EXPECT_EQ(p.size(), 50u);
    EXPECT_EQ(p.valid_count(), 50u);
    EXPECT_EQ(p.duplicate_count(), 0u);

    recs.push_back(huawei_record_n(50));
    EXPECT_EQ(parse(cdr_dialect::huawei, huawei_push(recs), p),
              cdr_status::too_many_records);
    EXPECT_EQ(p.size(), 0u);
    EXPECT_STREQ(p.detail(), "51 records, at most 50 allowed");

    cdr_limits wide;
    wide.max_records = 60;
    EXPECT_EQ(parse(cdr_dialect::huawei, huawei_push(recs), p, wide),
              cdr_status::ok);
    EXPECT_EQ(p.size(), 51u);
}

TEST(cdr_huawei, not_json)
{
    cdr_push p;
    for (const char *body :
         {"", " ", "{", "hello", "{\"eventType\":\"fee\",", "[1,]",
          "{\"eventType\":'fee'}", "{\"a\":1}}", "{\"a\":\"\\u0000\"}",
          "{\"a\":99999999999999999999999}", "\xef\xbb\xbf{}"}) {
        EXPECT_EQ(parse(cdr_dialect::huawei, body, p), cdr_status::not_json)
            << body;
        EXPECT_EQ(p.size(), 0u);
        EXPECT_NE(std::string(p.detail()), "") << body;
    }
    EXPECT_EQ(parse_push(cdr_dialect::huawei, nullptr, 0, cdr_limits(), p),
              cdr_status::not_json);
}

TEST(cdr_huawei, trailing_garbage)
{
    cdr_push p;
    std::string body = huawei_push({demo_record});
    EXPECT_EQ(parse(cdr_dialect::huawei, body + "x", p), cdr_status::not_json);
    EXPECT_EQ(parse(cdr_dialect::huawei, body + body, p), cdr_status::not_json);
    EXPECT_EQ(parse(cdr_dialect::huawei, body + "\n\0", p),
              cdr_status::ok); /* std::string stops at the NUL */
    std::string nul = body + std::string("\0", 1);
    EXPECT_EQ(parse(cdr_dialect::huawei, nul, p), cdr_status::not_json);
    EXPECT_EQ(parse(cdr_dialect::huawei, " \r\n" + body + " \n\t", p),
              cdr_status::ok);
}

TEST(cdr_huawei, invalid_utf8)
{
    cdr_push p;
    std::string rec = with_field(demo_record, "userData", "\"\xe4\xb8\"");
    EXPECT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::not_json);
    rec = with_field(demo_record, "userData", "\"\xc0\xaf\"");
    EXPECT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::not_json);
}

TEST(cdr_huawei, duplicate_key)
{
    cdr_push p;
    EXPECT_EQ(parse(cdr_dialect::huawei,
                    "{\"eventType\":\"fee\",\"eventType\":\"fee\","
                    "\"feeLst\":[" +
                        demo_record + "]}",
                    p),
              cdr_status::duplicate_key);
    EXPECT_NE(std::string(p.detail()).find("duplicate"), std::string::npos);

    std::string rec = demo_record;
    rec.insert(rec.size() - 1, ",\"sessionId\":\"other\"");
    EXPECT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::duplicate_key);

    /* a repeated key at depth is refused as well */
    rec = with_field(demo_record, "ext", "{\"a\":1,\"a\":2}");
    EXPECT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::duplicate_key);
}

TEST(cdr_huawei, wrong_event_type)
{
    cdr_push p;
    std::string list = "\"feeLst\":[" + demo_record + "]";
    for (std::string ev : {"\"callin\"", "\"Fee\"", "\"fee \"", "1", "null",
                           "[\"fee\"]", "\"fe\\u0000\""}) {
        std::string body = "{\"eventType\":" + ev + "," + list + "}";
        cdr_status s = parse(cdr_dialect::huawei, body, p);
        EXPECT_TRUE(s == cdr_status::wrong_event_type ||
                    s == cdr_status::not_json)
            << ev;
    }
    EXPECT_EQ(parse(cdr_dialect::huawei, "{" + list + "}", p),
              cdr_status::wrong_event_type);
    /* escaped spelling of "fee" is still "fee" */
    EXPECT_EQ(parse(cdr_dialect::huawei,
                    "{\"eventType\":\"f\\u0065e\"," + list + "}", p),
              cdr_status::ok);
}

TEST(cdr_huawei, envelope_shapes)
{
    cdr_push p;
    EXPECT_EQ(
        parse(cdr_dialect::huawei, "{\"eventType\":\"fee\",\"feeLst\":[]}", p),
        cdr_status::no_records);
    EXPECT_EQ(parse(cdr_dialect::huawei, "{\"eventType\":\"fee\"}", p),
              cdr_status::not_an_array);
    EXPECT_EQ(parse(cdr_dialect::huawei,
                    "{\"eventType\":\"fee\",\"feeLst\":" + demo_record + "}",
                    p),
              cdr_status::not_an_array);
    EXPECT_EQ(parse(cdr_dialect::huawei,
                    "{\"eventType\":\"fee\",\"feeLst\":null}", p),
              cdr_status::not_an_array);
    EXPECT_EQ(parse(cdr_dialect::huawei, "[" + demo_record + "]", p),
              cdr_status::not_an_object);
    EXPECT_EQ(parse(cdr_dialect::huawei, "\"fee\"", p),
              cdr_status::not_an_object);

    /* feeLst after other members, pretty-printed */
    std::string body =
        "{\n  \"x\": {\"feeLst\": [1]},\n  \"feeLst\" : [\n    " + demo_record +
        " ,\n 7 ],\n  \"eventType\": \"fee\"\n}";
    ASSERT_EQ(parse(cdr_dialect::huawei, body, p), cdr_status::ok);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(std::string(p[0].raw, p[0].raw_len), demo_record);
    EXPECT_TRUE(p[0].valid);
    EXPECT_FALSE(p[1].valid);
    EXPECT_EQ(p[1].problem, cdr_problem::not_an_object);
    EXPECT_EQ(std::string(p[1].raw, p[1].raw_len), "7");
    EXPECT_STREQ(p[1].reason, "record is not a JSON object");
}

TEST(cdr_huawei, too_large)
{
    cdr_push p;
    cdr_limits small;
    small.max_body = 100;
    std::string body = huawei_push({demo_record});
    EXPECT_EQ(parse(cdr_dialect::huawei, body, p, small),
              cdr_status::too_large);
    small.max_body = body.size();
    EXPECT_EQ(parse(cdr_dialect::huawei, body, p, small), cdr_status::ok);
}

/* ------------------------------------------------------------------ */
/* Huawei records                                                       */

TEST(cdr_huawei, each_missing_required_field)
{
    cdr_push p;
    for (const char *f :
         {"spId", "appKey", "bindNum", "sessionId", "callerNum", "calleeNum"}) {
        std::string rec = without_field(demo_record, f);
        ASSERT_EQ(rec.find(std::string("\"") + f + "\""), std::string::npos);
        ASSERT_EQ(parse(cdr_dialect::huawei,
                        huawei_push({rec, huawei_record_n(1)}), p),
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
        ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
                  cdr_status::ok);
        EXPECT_EQ(p[0].problem, cdr_problem::missing) << f;
    }

    /* optional fields may be absent or null */
    std::string rec = without_field(
        without_field(without_field(demo_record, "icid"), "direction"),
        "recordFlag");
    rec = with_field(rec, "userData", "null");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_EQ(p[0].key_view(),
              "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/"
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
        {"direction", "1.0", cdr_problem::wrong_type,
         "field \"direction\" must be an integer"},
        {"sipStatusCode", "true", cdr_problem::wrong_type,
         "field \"sipStatusCode\" must be an integer"},
        {"fwdUnaswRsn", "\"0\"", cdr_problem::wrong_type,
         "field \"fwdUnaswRsn\" must be an integer"},
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
    };

    cdr_push p;
    for (const bad_case &c : cases) {
        std::string rec = with_field(demo_record, c.field, c.value);
        ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
                  cdr_status::ok);
        EXPECT_FALSE(p[0].valid) << c.field << "=" << c.value;
        EXPECT_EQ(p[0].problem, c.problem) << c.field << "=" << c.value;
        EXPECT_STREQ(p[0].field, c.field);
        EXPECT_STREQ(p[0].reason, c.reason);
    }

    /* key fields fine -> key still built for logging */
    std::string rec = with_field(demo_record, "recordFlag", "7");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_FALSE(p[0].valid);
    EXPECT_EQ(p[0].key_view(), demo_key);

    /* a bad key field -> no key */
    rec = with_field(demo_record, "icid", "42");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_EQ(p[0].key_len, 0u);

    /* a missing field outranks a type problem */
    rec = without_field(with_field(demo_record, "recordFlag", "7"), "spId");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::missing);
}

TEST(cdr_huawei, lengths_count_characters_not_bytes)
{
    std::string zh32;
    for (int i = 0; i < 32; i++) {
        zh32 += "\xe4\xb8\xad"; /* 中 */
    }
    cdr_push p;
    std::string rec = with_field(demo_record, "bindNum", "\"" + zh32 + "\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;

    rec = with_field(demo_record, "bindNum", "\"" + zh32 + "x\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_EQ(p[0].problem, cdr_problem::too_long);

    /* \u escapes count as the character they decode to */
    rec = with_field(demo_record, "spId",
                     "\"" + std::string(31, 'a') + "\\u4e2d\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
}

TEST(cdr_huawei, unknown_fields_and_edge_values_kept_byte_for_byte)
{
    const std::string ext =
        "\"vendorExt\":{\"a\":[1,2.50e3,-0,1E-7,\"\\u4e2d\\/x\\n\"],"
        "\"b\":null,\"c\":true,\"d\":\"\\ud83d\\ude00\"}";
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
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({pretty}), p),
              cdr_status::ok);
    ASSERT_TRUE(p[0].valid) << p[0].reason;

    std::string l = line(p, 0);
    EXPECT_EQ(l.find('\n'), std::string::npos);
    EXPECT_EQ(l.find('\r'), std::string::npos);
    EXPECT_NE(l.find(ext), std::string::npos) << l;
    EXPECT_NE(l.find("\"record\":" + rec + "}"), std::string::npos) << l;

    json_t *back = line_record(l);
    EXPECT_TRUE(json_equal(back, p[0].rec));
    json_decref(back);
}

TEST(cdr_huawei, utf8_chinese_preserved)
{
    /* 订单号:张三 and a 4-byte emoji */
    const std::string zh = "\xe8\xae\xa2\xe5\x8d\x95\xe5\x8f\xb7:\xe5\xbc\xa0"
                           "\xe4\xb8\x89 \xf0\x9f\x93\x9e";
    std::string rec = with_field(demo_record, "userData", "\"" + zh + "\"");
    cdr_push p;
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({rec}), p),
              cdr_status::ok);
    ASSERT_TRUE(p[0].valid);
    std::string l = line(p, 0);
    EXPECT_NE(l.find("\"userData\":\"" + zh + "\""), std::string::npos);

    json_t *back = line_record(l);
    EXPECT_STREQ(json_string_value(json_object_get(back, "userData")),
                 zh.c_str());
    json_decref(back);
}

TEST(cdr_huawei, key_stability)
{
    cdr_push a;
    cdr_push b;
    json_arena arena;

    std::string body = huawei_push({demo_record});
    ASSERT_EQ(parse(cdr_dialect::huawei, body, a), cdr_status::ok);
    ASSERT_EQ(parse_push(cdr_dialect::huawei, body.data(), body.size(),
                         cdr_limits(), arena, b),
              cdr_status::ok);
    EXPECT_EQ(a[0].key_view(), b[0].key_view());
    EXPECT_EQ(
        0, std::memcmp(a[0].key_digest, b[0].key_digest, cdr_key_digest_size));

    /* reordered, re-spaced, non-key field changed: same key */
    std::string moved = without_field(demo_record, "sessionId");
    moved.insert(1, "\"sessionId\" : \"1200_1029_4294967295_20190123091514"
                    "@callenabler246.huaweicaas.com\" ,");
    moved = with_field(moved, "callEndTime", "\"2019-01-23 09:20:00\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({moved}), b),
              cdr_status::ok);
    EXPECT_EQ(a[0].key_view(), b[0].key_view());
    EXPECT_EQ(
        0, std::memcmp(a[0].key_digest, b[0].key_digest, cdr_key_digest_size));

    /* escaped spelling of the same value: same key */
    std::string esc = with_field(demo_record, "appKey",
                                 "\"V1Z96521zFr3vxe5N2A1UJ1sQ1W\\u0050\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({esc}), b),
              cdr_status::ok);
    EXPECT_EQ(a[0].key_view(), b[0].key_view());

    /* key fields change the key */
    for (auto [f, v] : std::vector<std::pair<std::string, std::string>>{
             {"icid", "\"other\""},
             {"sessionId", "\"other\""},
             {"appKey", "\"other\""},
             {"direction", "2"}}) {
        ASSERT_EQ(parse(cdr_dialect::huawei,
                        huawei_push({with_field(demo_record, f, v)}), b),
                  cdr_status::ok);
        EXPECT_NE(a[0].key_view(), b[0].key_view()) << f;
        EXPECT_NE(0, std::memcmp(a[0].key_digest, b[0].key_digest,
                                 cdr_key_digest_size))
            << f;
    }

    /* components are percent-encoded: '/' cannot fake a boundary */
    std::string slash = with_field(
        with_field(demo_record, "sessionId", "\"a/b %2F\xe4\xb8\xad\""), "icid",
        "\"x\"");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({slash}), b),
              cdr_status::ok);
    EXPECT_EQ(b[0].key_view(), "huawei/V1Z96521zFr3vxe5N2A1UJ1sQ1WP/"
                               "a%2Fb%20%252F%E4%B8%AD/1/x");
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
    ASSERT_EQ(
        parse(cdr_dialect::aliyun, aliyun_push({aliyun_record, second}), p),
        cdr_status::ok);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
    EXPECT_TRUE(p[1].valid) << p[1].reason;
    EXPECT_EQ(p[0].key_view(), "aliyun/pool_key/FC100000123456789/abcedf1234");
    EXPECT_EQ(p[1].key_view(), "aliyun/partner_key/PK4000123456/c-2");
    EXPECT_EQ(std::string(p[0].raw, p[0].raw_len), aliyun_record);

    std::string l = line(p, 0, {"shop", "2026-11-28T12:00:00Z"});
    EXPECT_EQ(l, "{\"dialect\":\"aliyun\",\"app\":\"shop\",\"key\":"
                 "\"aliyun/pool_key/FC100000123456789/abcedf1234\","
                 "\"received\":\"2026-11-28T12:00:00Z\",\"record\":" +
                     aliyun_record + "}");
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
        {with_field(aliyun_record, "id", "\"1\""), cdr_problem::wrong_type,
         "id"},
        {with_field(aliyun_record, "release_time", "0"),
         cdr_problem::wrong_type, "release_time"},
        {"[]", cdr_problem::not_an_object, nullptr},
    };

    cdr_push p;
    for (const bad_case &c : cases) {
        ASSERT_EQ(parse(cdr_dialect::aliyun, aliyun_push({c.rec}), p),
                  cdr_status::ok)
            << c.rec;
        EXPECT_FALSE(p[0].valid) << c.rec;
        EXPECT_EQ(p[0].problem, c.problem) << c.rec;
        if (c.field != nullptr) {
            EXPECT_STREQ(p[0].field, c.field);
        }
    }

    /* accepted variations: A-7 subs_id, real id, unknown fields, nulls */
    std::string ok = with_field(
        with_field(without_field(aliyun_record, "sub_id"), "subs_id", "12"),
        "id", "1.5e3");
    ok = with_field(ok, "Vendor", "\"x\"");
    ok = with_field(ok, "extension", "null");
    ASSERT_EQ(parse(cdr_dialect::aliyun, aliyun_push({ok}), p), cdr_status::ok);
    EXPECT_TRUE(p[0].valid) << p[0].reason;
}

TEST(cdr_aliyun, envelope)
{
    cdr_push p;
    EXPECT_EQ(parse(cdr_dialect::aliyun, "[]", p), cdr_status::no_records);
    EXPECT_EQ(parse(cdr_dialect::aliyun, aliyun_record, p),
              cdr_status::not_an_array);
    EXPECT_EQ(parse(cdr_dialect::aliyun, "[" + aliyun_record + "] x", p),
              cdr_status::not_json);
    EXPECT_EQ(parse(cdr_dialect::aliyun, "null", p), cdr_status::not_an_array);

    std::vector<std::string> many(cdr_aliyun_max_records, aliyun_record);
    ASSERT_EQ(parse(cdr_dialect::aliyun, aliyun_push(many), p), cdr_status::ok);
    EXPECT_EQ(p.size(), cdr_aliyun_max_records);
    EXPECT_EQ(p.duplicate_count(), cdr_aliyun_max_records - 1);
    EXPECT_EQ(p[999].dup_of, 0u);
    EXPECT_FALSE(p[999].conflict);

    many.push_back(aliyun_record);
    EXPECT_EQ(parse(cdr_dialect::aliyun, aliyun_push(many), p),
              cdr_status::too_many_records);
}

TEST(cdr_aliyun, fixture_file)
{
    std::string body = read_data("aliyun_push.json");
    ASSERT_FALSE(body.empty()) << "run from the repository root";
    cdr_push p;
    ASSERT_EQ(parse(cdr_dialect::aliyun, body, p), cdr_status::ok);
    EXPECT_EQ(p.size(), 20u);
    EXPECT_EQ(p.valid_count(), 20u);
    EXPECT_EQ(p.duplicate_count(), 0u);
    for (size_t i = 0; i < p.size(); i++) {
        json_t *back = line_record(line(p, i));
        EXPECT_TRUE(json_equal(back, p[i].rec));
        json_decref(back);
    }
}

/* ------------------------------------------------------------------ */
/* lines                                                                */

TEST(cdr_line, wrapper_format)
{
    cdr_push p;
    std::string bad = with_field(demo_record, "recordFlag", "3");
    ASSERT_EQ(parse(cdr_dialect::huawei, huawei_push({demo_record, bad}), p),
              cdr_status::ok);

    EXPECT_EQ(line(p, 0, {"shop", "2026-11-28T12:00:00Z"}),
              "{\"dialect\":\"huawei\",\"app\":\"shop\",\"key\":\"" + demo_key +
                  "\",\"received\":\"2026-11-28T12:00:00Z\",\"record\":" +
                  demo_record + "}");

    /* no app given: the record's appKey */
    EXPECT_EQ(line(p, 0).rfind("{\"dialect\":\"huawei\",\"app\":"
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
    json_t *back = line_record(l);
    json_decref(back);

    /* buffer API: exact fit works, one byte short fails */
    size_t bound = cdr_line_bound(p, 0, {});
    std::string buf(bound, '\0');
    size_t n = cdr_write_line(p, 0, {}, &buf[0], bound);
    ASSERT_GT(n, 0u);
    EXPECT_EQ(buf.substr(0, n), line(p, 0));
    EXPECT_EQ(cdr_write_line(p, 0, {}, &buf[0], n), n);
    EXPECT_EQ(cdr_write_line(p, 0, {}, &buf[0], n - 1), 0u);
    EXPECT_EQ(cdr_write_line(p, 5, {}, &buf[0], bound), 0u);

    /* appends, never replaces */
    std::string acc = "x";
    ASSERT_TRUE(cdr_append_line(p, 0, {}, acc));
    EXPECT_EQ(acc, "x" + line(p, 0));
}

TEST(cdr_misc, body_digest_and_names)
{
    unsigned char d[cdr_body_digest_size];
    ASSERT_TRUE(cdr_body_digest("abc", 3, d));
    const unsigned char abc[4] = {0xba, 0x78, 0x16, 0xbf};
    EXPECT_EQ(0, std::memcmp(d, abc, 4));
    EXPECT_EQ(d[31], 0xad);

    std::set<std::string> names;
    for (int s = 0; s <= static_cast<int>(cdr_status::no_memory); s++) {
        cdr_status st = static_cast<cdr_status>(s);
        names.insert(cdr_status_name(st));
        for (cdr_dialect d2 : {cdr_dialect::huawei, cdr_dialect::aliyun}) {
            const char *m = cdr_status_message(st, d2);
            ASSERT_NE(m, nullptr);
            EXPECT_GT(std::strlen(m), 1u);
        }
    }
    EXPECT_EQ(names.size(), 10u);
    EXPECT_STREQ(cdr_status_name(cdr_status::duplicate_key), "duplicate_key");
    EXPECT_STREQ(cdr_dialect_name(cdr_dialect::aliyun), "aliyun");
    EXPECT_STREQ(cdr_problem_message(cdr_problem::missing), "is missing");
    EXPECT_EQ(cdr_max_records(cdr_dialect::huawei, cdr_limits()), 50u);
    EXPECT_EQ(cdr_max_records(cdr_dialect::aliyun, cdr_limits()), 1000u);
}

/* ------------------------------------------------------------------ */
/* arena and the realistic push                                        */

TEST(cdr_arena, big_push_with_arena)
{
    std::string body = read_data("huawei_push_50.json");
    ASSERT_GT(body.size(), 40000u) << "run from the repository root";

    json_arena arena;
    cdr_push p;
    ASSERT_EQ(parse_push(cdr_dialect::huawei, body.data(), body.size(),
                         cdr_limits(), arena, p),
              cdr_status::ok);
    EXPECT_EQ(p.size(), 50u);
    EXPECT_EQ(p.valid_count(), 50u);
    EXPECT_EQ(p.duplicate_count(), 0u);

    std::set<std::string> keys;
    std::string all;
    for (size_t i = 0; i < p.size(); i++) {
        keys.insert(std::string(p[i].key_view()));
        ASSERT_TRUE(cdr_append_line(p, i, {"shop", "t"}, all));
        all += '\n';
    }
    EXPECT_EQ(keys.size(), 50u);

    /* 50 lines, each a JSON object whose record equals the parsed one */
    std::istringstream in(all);
    std::string l;
    size_t i = 0;
    while (std::getline(in, l)) {
        json_t *back = line_record(l);
        EXPECT_TRUE(json_equal(back, p[i].rec)) << i;
        json_decref(back);
        i++;
    }
    EXPECT_EQ(i, 50u);
    EXPECT_LT(all.size(), body.size() + 50 * 250);
}

TEST(cdr_arena, thousands_of_parses_no_growth)
{
    std::string body = read_data("huawei_push_50.json");
    ASSERT_FALSE(body.empty());

    json_arena arena;
    cdr_push p;
    size_t chunks = 0;
    for (int i = 0; i < 2000; i++) {
        p.clear();
        arena.reset();
        /* alternate shapes so every path runs */
        const std::string &b = i % 4 == 3 ? demo_record : body;
        cdr_status s = parse_push(cdr_dialect::huawei, b.data(), b.size(),
                                  cdr_limits(), arena, p);
        ASSERT_EQ(s,
                  i % 4 == 3 ? cdr_status::wrong_event_type : cdr_status::ok);
        if (i == 0) {
            chunks = arena.stats().chunk_allocs;
        }
    }
    EXPECT_EQ(arena.stats().chunk_allocs, chunks);
    EXPECT_EQ(arena.stats().chunk_releases, 0u);
    EXPECT_EQ(arena.stats().failures, 0u);
    EXPECT_GT(arena.stats().high_water, body.size());
}

TEST(cdr_arena, pool_style_arena_and_out_of_memory)
{
    std::string body = read_data("huawei_push_50.json");
    ASSERT_FALSE(body.empty());

    /* a cap far below what the push needs -> no_memory, never a crash */
    json_arena tiny(json_arena_malloc_backend(), nullptr, 0, 4096, 16384);
    cdr_push p;
    EXPECT_EQ(parse_push(cdr_dialect::huawei, body.data(), body.size(),
                         cdr_limits(), tiny, p),
              cdr_status::no_memory);
    EXPECT_EQ(p.size(), 0u);

    /* tight cap: jansson fits, records/keys may not; either way clean */
    for (size_t cap = 100000; cap < 400000; cap += 7919) {
        json_arena a(json_arena_malloc_backend(), nullptr, 0, 4096, cap);
        cdr_status s = parse_push(cdr_dialect::huawei, body.data(), body.size(),
                                  cdr_limits(), a, p);
        EXPECT_TRUE(s == cdr_status::ok || s == cdr_status::no_memory);
        if (s == cdr_status::ok) {
            EXPECT_EQ(p.valid_count(), 50u);
        }
        p.clear();
    }
}

TEST(cdr_arena, push_reuse_without_arena_does_not_leak)
{
    /* ASan/valgrind builds catch a leak of the malloc'd root here */
    std::string body = huawei_push({demo_record, huawei_record_n(2)});
    cdr_push p;
    for (int i = 0; i < 100; i++) {
        ASSERT_EQ(parse(cdr_dialect::huawei, body, p), cdr_status::ok);
    }
    EXPECT_EQ(p.size(), 2u);
}
