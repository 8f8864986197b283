#include "core/redis.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace provision_x;

namespace {

const unsigned char digest_a[redis_digest_size] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff};

const char fake_sha1[] = "0123456789abcdef0123456789abcdef01234567";

redis_sink_params
params(bool eval)
{
    redis_sink_params p;
    p.stream = "px:cdr";
    p.prefix = "px:seen:";
    p.dialect = "huawei";
    p.ttl = 86400;
    p.maxlen = 0;
    p.eval = eval;
    p.sha1 = fake_sha1;
    return p;
}

std::string
command(const redis_sink_params &p, const std::vector<redis_sink_record> &r)
{
    std::string out(redis_sink_command_size(p, r.data(), r.size()), '\0');
    char *end = redis_sink_command(&out[0], p, r.data(), r.size());
    EXPECT_EQ(out.size(), static_cast<size_t>(end - out.data()));
    return out;
}

resp_rc
parse(std::string_view in, resp_reply &out, size_t &used)
{
    return resp_parse(in.data(), in.size(), out, &used);
}

} // namespace

TEST(redis_command, evalsha_bytes)
{
    std::vector<redis_sink_record> r = {
        {"{\"a\":1}", "huawei/k", "app", digest_a}};

    EXPECT_EQ("*11\r\n"
              "$7\r\nEVALSHA\r\n"
              "$40\r\n0123456789abcdef0123456789abcdef01234567\r\n"
              "$1\r\n2\r\n"
              "$6\r\npx:cdr\r\n"
              "$40\r\npx:seen:000102030405060708090a0b0c0d0eff\r\n"
              "$5\r\n86400\r\n"
              "$1\r\n0\r\n"
              "$6\r\nhuawei\r\n"
              "$7\r\n{\"a\":1}\r\n"
              "$8\r\nhuawei/k\r\n"
              "$3\r\napp\r\n",
              command(params(false), r));
}

TEST(redis_command, eval_carries_the_script)
{
    std::vector<redis_sink_record> r = {{"l", "k", "a", digest_a}};
    std::string script(redis_sink_script());
    std::string c = command(params(true), r);

    EXPECT_EQ(0u,
              c.find("*11\r\n$4\r\nEVAL\r\n$" + std::to_string(script.size())
                     + "\r\n" + script + "\r\n$1\r\n2\r\n"));
}

TEST(redis_command, sizes_are_exact_for_many_records)
{
    std::vector<std::string> lines;
    std::vector<redis_sink_record> r;

    for (int i = 0; i < 1000; i++) {
        lines.push_back(std::string(static_cast<size_t>(i % 37), 'x'));
    }

    for (int i = 0; i < 1000; i++) {
        r.push_back({lines[i], lines[(i + 1) % 1000], "", digest_a});
    }

    redis_sink_params p = params(false);
    p.maxlen = 1000000;
    std::string c = command(p, r);

    EXPECT_EQ(0u, c.find("*4007\r\n"));
    EXPECT_NE(std::string::npos, c.find("$4\r\n1001\r\n"));
    EXPECT_NE(std::string::npos, c.find("$7\r\n1000000\r\n"));
}

TEST(redis_command, script_sha1_is_hex)
{
    char sha[redis_sha1_hex_size];

    ASSERT_TRUE(redis_sink_script_sha1(sha));
    for (char c : sha) {
        EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
    }
}

TEST(redis_command, auth_and_select)
{
    std::string a(redis_auth_size("", "pw"), '\0');
    EXPECT_EQ(a.size(),
              static_cast<size_t>(redis_auth(&a[0], "", "pw") - a.data()));
    EXPECT_EQ("*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n", a);

    std::string u(redis_auth_size("gw", "pw"), '\0');
    redis_auth(&u[0], "gw", "pw");
    EXPECT_EQ("*3\r\n$4\r\nAUTH\r\n$2\r\ngw\r\n$2\r\npw\r\n", u);

    std::string s(redis_select_size(15), '\0');
    EXPECT_EQ(s.size(),
              static_cast<size_t>(redis_select(&s[0], 15) - s.data()));
    EXPECT_EQ("*2\r\n$6\r\nSELECT\r\n$2\r\n15\r\n", s);
}

TEST(resp_parse, simple_error_integer)
{
    resp_reply r;
    size_t used = 0;

    ASSERT_EQ(resp_rc::ok, parse("+OK\r\n+OK\r\n", r, used));
    EXPECT_EQ(resp_type::simple, r.type);
    EXPECT_EQ("OK", r.text);
    EXPECT_EQ(5u, used);

    ASSERT_EQ(resp_rc::ok, parse("-NOSCRIPT No matching script\r\n", r, used));
    EXPECT_EQ(resp_type::error, r.type);
    EXPECT_EQ("NOSCRIPT No matching script", r.text);

    ASSERT_EQ(resp_rc::ok, parse(":-42\r\n", r, used));
    EXPECT_EQ(resp_type::integer, r.type);
    EXPECT_EQ(-42, r.integer);
    EXPECT_EQ(6u, used);
}

TEST(resp_parse, bulk_null_array)
{
    resp_reply r;
    size_t used = 0;

    ASSERT_EQ(resp_rc::ok, parse("$4\r\n10\r\n\r\nrest", r, used));
    EXPECT_EQ(resp_type::bulk, r.type);
    EXPECT_EQ("10\r\n", r.text);
    EXPECT_EQ(10u, used);

    ASSERT_EQ(resp_rc::ok, parse("$0\r\n\r\n", r, used));
    EXPECT_EQ(resp_type::bulk, r.type);
    EXPECT_EQ("", r.text);

    ASSERT_EQ(resp_rc::ok, parse("$-1\r\n", r, used));
    EXPECT_EQ(resp_type::null, r.type);

    ASSERT_EQ(resp_rc::ok, parse("*3\r\n:1\r\n", r, used));
    EXPECT_EQ(resp_type::array, r.type);
    EXPECT_EQ(3, r.integer);
    EXPECT_EQ(4u, used);
}

TEST(resp_parse, every_prefix_is_incomplete)
{
    const std::string full = "$5\r\n11011\r\n";
    resp_reply r;
    size_t used = 0;

    for (size_t i = 0; i < full.size(); i++) {
        EXPECT_EQ(resp_rc::incomplete, parse(full.substr(0, i), r, used)) << i;
    }

    EXPECT_EQ(resp_rc::ok, parse(full, r, used));
    EXPECT_EQ(full.size(), used);
}

TEST(resp_parse, invalid)
{
    resp_reply r;
    size_t used = 0;

    EXPECT_EQ(resp_rc::invalid, parse("HTTP/1.1 200 OK\r\n", r, used));
    EXPECT_EQ(resp_rc::invalid, parse("$x\r\n", r, used));
    EXPECT_EQ(resp_rc::invalid, parse("$-2\r\n", r, used));
    EXPECT_EQ(resp_rc::invalid, parse("$\r\n", r, used));
    EXPECT_EQ(resp_rc::invalid, parse("$2\r\nabcd\r\n", r, used));
    EXPECT_EQ(resp_rc::invalid, parse(":99999999999999999999\r\n", r, used));
    EXPECT_EQ(resp_rc::invalid, parse("$536870913\r\n", r, used));
}
