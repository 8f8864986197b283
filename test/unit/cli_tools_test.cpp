// Pure logic of the provision-x command-line tools: argument parsing,
// shell quoting, raw-request parsing, URL parsing, the retry schedule,
// percentiles, the interface envelope, and sign -> check round trips
// in-process.
//
// The tools are linked as a library (everything but main.cpp).

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/cdr.hpp"
#include "core/signature.hpp"

#include "provision-x/args.hpp"
#include "provision-x/check.hpp"
#include "provision-x/http_client.hpp"
#include "provision-x/interface_call.hpp"
#include "provision-x/io.hpp"
#include "provision-x/sample.hpp"
#include "provision-x/sign.hpp"
#include "provision-x/simulate.hpp"

using namespace provision_x;
using namespace provision_x::cli;

namespace {

options
parse(std::vector<const char *> v)
{
    return options(static_cast<int>(v.size()), const_cast<char **>(v.data()),
                   {"dialect", "param", "n"}, {"help"});
}

} // namespace

TEST(CliArgs, ValuesFlagsAndRepeats)
{
    options o = parse({"--dialect", "huawei", "--param=a=1", "--param", "b=2",
                       "--help", "word", "--", "--not-an-option"});
    EXPECT_EQ("huawei", o.get("dialect", ""));
    EXPECT_TRUE(o.has("help"));
    EXPECT_EQ((std::vector<std::string>{"a=1", "b=2"}), o.all("param"));
    EXPECT_EQ((std::vector<std::string>{"word", "--not-an-option"}),
              o.positional());
    EXPECT_EQ("x", o.get("n", "x"));
}

TEST(CliArgs, DashHIsHelp)
{
    EXPECT_TRUE(parse({"-h"}).has("help"));
    EXPECT_EQ((std::vector<std::string>{"-h"}),
              parse({"--", "-h"}).positional());
    // a command without --help keeps -h as a word
    std::vector<const char *> argv{"-h"};
    options o(1, const_cast<char **>(argv.data()), {"n"}, {});
    EXPECT_EQ((std::vector<std::string>{"-h"}), o.positional());
}

TEST(CliArgs, Errors)
{
    EXPECT_THROW(parse({"--bogus"}), usage_error);
    EXPECT_THROW(parse({"--dialect"}), usage_error);
    EXPECT_THROW(parse({"--help=1"}), usage_error);
    options o = parse({"--n", "12x", "--dialect", "sms"});
    EXPECT_THROW(o.number("n", 0, 0, 100), usage_error);
    EXPECT_THROW(o.choice("dialect", "", {"huawei", "aliyun"}), usage_error);
    EXPECT_THROW(o.require("param"), usage_error);
    options p = parse({"--n", "7"});
    EXPECT_EQ(7, p.number("n", 0, 0, 100));
    EXPECT_THROW(p.number("n", 0, 8, 100), usage_error);
}

TEST(CliIo, ShellQuote)
{
    EXPECT_EQ("''", shell_quote(""));
    EXPECT_EQ("'a b$`\"\\'", shell_quote("a b$`\"\\"));
    EXPECT_EQ("'it'\\''s'", shell_quote("it's"));
    EXPECT_THROW(shell_quote(std::string("a\0b", 3)), usage_error);
}

TEST(CliIo, SplitParam)
{
    std::string n, v;
    split_param("a=b=c", n, v);
    EXPECT_EQ("a", n);
    EXPECT_EQ("b=c", v);
    split_param("empty=", n, v);
    EXPECT_EQ("", v);
    EXPECT_THROW(split_param("=x", n, v), usage_error);
    EXPECT_THROW(split_param("novalue", n, v), usage_error);
}

TEST(CliCheck, ParseRawRequest)
{
    captured_request r = parse_raw_request(
        "POST /fee?a=1 HTTP/1.1\r\nHost: x\r\nX-AKSK:  v v \r\n\r\nbody\n");
    EXPECT_EQ("POST", r.method);
    EXPECT_EQ("/fee?a=1", r.target);
    ASSERT_EQ(2u, r.headers.size());
    EXPECT_EQ("X-AKSK", r.headers[1].first);
    EXPECT_EQ("v v", r.headers[1].second);
    EXPECT_EQ("body\n", r.body);

    r = parse_raw_request("GET / HTTP/1.0\n\n");
    EXPECT_EQ("", r.body);
    EXPECT_THROW(parse_raw_request("GET /\r\n\r\n"), usage_error);
    EXPECT_THROW(parse_raw_request("GET / HTTP/1.1\r\nno colon\r\n\r\n"),
                 usage_error);
    EXPECT_THROW(parse_raw_request("GET / HTTP/1.1\r\n"), usage_error);
}

TEST(CliHttp, ParseUrl)
{
    http_url u = parse_http_url("http://127.0.0.1:8080/px/fee?x=1");
    EXPECT_EQ("127.0.0.1", u.host);
    EXPECT_EQ("8080", u.port);
    EXPECT_EQ("/px/fee?x=1", u.target);
    u = parse_http_url("http://[::1]/");
    EXPECT_EQ("::1", u.host);
    EXPECT_EQ("80", u.port);
    EXPECT_FALSE(u.tls);
    u = parse_http_url("http://localhost");
    EXPECT_EQ("/", u.target);
    u = parse_http_url("https://gw.example:8443/px?a=1");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ("gw.example", u.host);
    EXPECT_EQ("8443", u.port);
    EXPECT_EQ("/px?a=1", u.target);
    EXPECT_EQ("https://gw.example:8443/px?a=1", u.url);
    EXPECT_EQ("443", parse_http_url("https://[::1]/").port);
    EXPECT_THROW(parse_http_url("ftp://x/"), usage_error);
    EXPECT_THROW(parse_http_url("HTTPS//x/"), usage_error);
    EXPECT_THROW(parse_http_url("http://:80/"), usage_error);
    EXPECT_THROW(parse_http_url("http://x:8a/"), usage_error);
}

TEST(CliSimulate, Schedule)
{
    EXPECT_EQ((std::vector<double>{1, 4, 9, 106, 203, 300}),
              vendor_schedule("huawei"));
    EXPECT_EQ((std::vector<double>{1, 5, 10}), vendor_schedule("aliyun"));
    std::vector<double> o = retry_offsets({1, 5, 10}, 600);
    ASSERT_EQ(3u, o.size());
    EXPECT_DOUBLE_EQ(0.1, o[0]);
    EXPECT_DOUBLE_EQ(0.5, o[1]);
    EXPECT_DOUBLE_EQ(1.0, o[2]);
    EXPECT_EQ((std::vector<double>{0.5, 2}), parse_schedule("0.5,2"));
    EXPECT_TRUE(parse_schedule("none").empty());
    EXPECT_THROW(parse_schedule("4,1"), usage_error);
    EXPECT_THROW(parse_schedule("1,,2"), usage_error);
    EXPECT_THROW(parse_schedule("-1"), usage_error);
}

TEST(CliSimulate, Percentile)
{
    EXPECT_EQ(0, percentile({}, 50));
    std::vector<double> v;
    for (int i = 100; i >= 1; i--) {
        v.push_back(i);
    }
    EXPECT_EQ(50, percentile(v, 50));
    EXPECT_EQ(99, percentile(v, 99));
    EXPECT_EQ(100, percentile(v, 100));
    EXPECT_EQ(1, percentile(v, 0));
}

namespace {

captured_request
as_captured(const signed_request &s)
{
    return parse_raw_request(format_http(s));
}

sign_input
huawei_input()
{
    sign_input in;
    in.dialect = "huawei";
    in.app = "appKeyA";
    in.secret = "secretA";
    in.url = "http://127.0.0.1/fee";
    in.body = "{}";
    in.has_body = true;
    in.now = 1795000000;
    return in;
}

check_input
checker(const std::string &dialect, const std::string &secret, std::int64_t now)
{
    check_input c;
    c.dialect = dialect;
    c.secret = secret;
    c.now = now;
    return c;
}

bool
mentions(const check_report &r, const std::string &text)
{
    for (const auto &l : r.lines) {
        if (l.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST(CliRoundTrip, Huawei)
{
    sign_input in = huawei_input();
    signed_request s = sign_request(in);
    check_report r =
        check_request(as_captured(s), checker("huawei", "secretA", in.now));
    EXPECT_TRUE(r.verifies());
    EXPECT_FALSE(mentions(r, "secretA"));

    r = check_request(as_captured(s), checker("huawei", "other", in.now));
    EXPECT_EQ((std::vector<std::string>{"digest"}), r.failed);

    r = check_request(as_captured(s),
                      checker("huawei", "secretA", in.now + 901));
    EXPECT_EQ((std::vector<std::string>{"clock"}), r.failed);

    in.nonce = "bad nonce";
    EXPECT_THROW(sign_request(in), usage_error);
}

TEST(CliRoundTrip, HuaweiFixedVector)
{
    // The same inputs as PXSign::huawei_headers in t/051-cli-sign-check.t.
    sign_input in = huawei_input();
    in.nonce = "abc123";
    in.timestamp = "2026-11-28T09:00:00Z";
    signed_request s = sign_request(in);
    ASSERT_GE(s.headers.size(), 2u);
    sha256_base64 d;
    ASSERT_EQ(sig_error::ok,
              aksk_digest("secretA", "abc123", "2026-11-28T09:00:00Z", d));
    EXPECT_NE(std::string::npos,
              s.headers[1].second.find(std::string(as_view(d))));
}

TEST(CliRoundTrip, AliyunEveryReading)
{
    for (const char *enc : {"java", "rfc3986"}) {
        for (const char *key : {"plain", "ampersand"}) {
            for (const char *carrier : {"query", "form"}) {
                sign_input in;
                in.dialect = "aliyun";
                in.secret = "testSecret";
                in.url = "http://127.0.0.1/ctl";
                in.params = {{"callNo", "13800000001"},
                             {"extension", "a b*~+/"}};
                in.encoder = enc;
                in.key = key;
                in.carrier = carrier;
                in.now = 1795000000;
                signed_request s = sign_request(in);

                check_input c = checker("aliyun", "testSecret", in.now);
                c.encoder = enc;
                c.key = key;
                check_report r = check_request(as_captured(s), c);
                EXPECT_TRUE(r.verifies()) << enc << key << carrier;

                c.secret = "wrong";
                r = check_request(as_captured(s), c);
                EXPECT_EQ((std::vector<std::string>{"digest"}), r.failed);
            }
        }
    }
}

TEST(CliSign, PopSignatureIsLast)
{
    sign_input in;
    in.dialect = "aliyun-pop";
    in.app = "testid";
    in.secret = "testsecret";
    in.params = {{"Action", "QueryRecordFileDownloadUrl"}};
    in.nonce = "n1";
    in.timestamp = "2026-11-28T09:00:00Z";
    signed_request s = sign_request(in);
    EXPECT_EQ("GET", s.method);
    EXPECT_EQ(0u, s.url.find("https://dyplsapi.aliyuncs.com/?AccessKeyId="));
    EXPECT_NE(std::string::npos, s.query.find("&Signature="));
    EXPECT_EQ(std::string::npos,
              s.query.find('&', s.query.find("&Signature=") + 1));
}

TEST(CliSign, CurlCommandIsQuoted)
{
    signed_request s;
    s.method = "POST";
    s.url = "http://h/x?a=1&b=2";
    s.headers = {{"X-A", "it's"}};
    s.body = "$(rm -rf /)";
    s.has_body = true;
    EXPECT_EQ("curl -sS -i --fail-with-body -X 'POST' 'http://h/x?a=1&b=2' "
              "\\\n"
              "    -H 'X-A: it'\\''s' \\\n"
              "    --data-binary '$(rm -rf /)'\n",
              format_curl(s));
}

TEST(CliSample, GeneratedPushesAreValid)
{
    sample_rng r(1);
    std::string fee = "{\"eventType\":\"fee\",\"feeLst\":[";
    std::string report = "[";
    for (long i = 1; i <= 50; i++) {
        fee +=
            (i > 1 ? "," : "") + fee_info(r, "appKeyA", "run", i, 1795000000);
        report +=
            (i > 1 ? "," : "") + secret_report(r, "FC1", "run", i, 1795000000);
    }
    fee += "]}";
    report += "]";

    cdr_parser parser;
    cdr_options options;
    cdr_push push;
    ASSERT_EQ(cdr_status::ok, parse_push(parser, dialect::huawei, fee.data(),
                                         fee.size(), options, push));
    EXPECT_EQ(50u, push.valid_count());
    EXPECT_EQ(0u, push.duplicate_count());
    cdr_push push2;
    ASSERT_EQ(cdr_status::ok, parse_push(parser, dialect::aliyun, report.data(),
                                         report.size(), options, push2));
    EXPECT_EQ(50u, push2.valid_count());
    EXPECT_EQ(0u, push2.duplicate_count());
}

// Every push type the simulator makes is one the gateway takes: each
// record valid, of that type, under its own key, as many per push as the
// type holds (a statusInfo or an smsEvent is one).
TEST(CliSample, EveryTypeIsValidWithDistinctKeys)
{
    cdr_parser parser;

    for (dialect d : {dialect::huawei, dialect::aliyun}) {
        for (size_t t = 0; t < push_type_count; t++) {
            auto type = static_cast<push_type>(t);
            uint32_t bit = push_type_bit(type);

            if (!push_types_valid(d, bit)) {
                continue;
            }

            SCOPED_TRACE(push_type_name(type));
            sample_rng r(3);
            cdr_options options;
            options.types = bit;
            size_t n = std::min<size_t>(cdr_max_records(d, type, options), 40);
            std::vector<std::string> records;
            std::set<std::string> keys;

            for (long run = 0; run < 3; run++) {
                records.clear();
                for (size_t i = 0; i < n; i++) {
                    records.push_back(push_record(r, d, type, "appKeyA", "run",
                                                  run * 100 + i + 1,
                                                  1795000000));
                }

                std::string body = push_body(d, type, "appKeyA", records);
                cdr_push push;
                ASSERT_EQ(cdr_status::ok,
                          parse_push(parser, d, body.data(), body.size(),
                                     options, push))
                    << body;
                EXPECT_EQ(type, push.type());
                EXPECT_EQ(n, push.valid_count()) << body;

                for (size_t i = 0; i < push.size(); i++) {
                    std::string key(push[i].key_len, '\0');
                    ASSERT_EQ(key.size(),
                              cdr_write_key(push, i, key.data(), key.size()));
                    keys.insert(key);
                }
            }

            EXPECT_EQ(3 * n, keys.size());
        }
    }
}

TEST(CliInterface, Envelope)
{
    EXPECT_EQ("{\"mode\":\"live\",\"config_id\":12345,\"user_id\":"
              "\"user123\",\"payload\":{\"Action\":\"BindAxb\",\"n\":1}}",
              interface_envelope("live", true, 12345, "user123",
                                 "{\"Action\": \"BindAxb\", \"n\": 1}"));
    EXPECT_EQ("{\"mode\":\"debug\",\"user_id\":\"u\",\"payload\":{}}",
              interface_envelope("debug", false, 0, "u", "{}"));

    EXPECT_THROW(interface_envelope("live", false, 0, "u", "[]"), usage_error);
    EXPECT_THROW(interface_envelope("live", false, 0, "u", "{"), usage_error);
    EXPECT_THROW(interface_envelope("live", false, 0, "u", "{\"a\":1,\"a\":2}"),
                 usage_error);
    EXPECT_THROW(interface_envelope("live", false, 0, "\xff", "{}"),
                 usage_error);
}
