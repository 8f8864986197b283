// Aliyun POP RPC v1 signer: the two published known answers (§7.1) and
// every §7.3 vector, intermediates included.

#include <string>

#include <gtest/gtest.h>

#include "core/hmac.hpp"
#include "core/signature.hpp"
#include "signing_vectors.hpp"

using namespace provision_x;
using px_test::field;
using px_test::fill_params;
using px_test::for_each_vector;

TEST(AliyunPopVectors, AllIntermediatesAndSignedQuery)
{
    for_each_vector("aliyun_pop", 6, [&](json_t *vec) {
        std::string_view method = field(vec, "method");
        std::string_view secret = field(vec, "secret");
        param_list params(32);
        fill_params(vec, params);

        std::string canon;
        ASSERT_TRUE(pop_canonical_query(params, canon));
        EXPECT_EQ(field(vec, "canonicalizedQueryString"), canon);

        std::string sts;
        ASSERT_EQ(sig_error::ok, pop_string_to_sign(method, params, sts));
        EXPECT_EQ(field(vec, "stringToSign"), sts);

        sha1_digest d;
        ASSERT_TRUE(hmac_sha1({std::string(secret) + "&"}, {sts}, d));
        EXPECT_EQ(field(vec, "hmac_sha1_hex"), px_test::hex(d));

        std::string scratch, query;
        sha1_base64 sig;
        ASSERT_EQ(sig_error::ok,
                  pop_sign(method, params, secret, scratch, query, &sig));
        EXPECT_EQ(field(vec, "base64"), as_view(sig));
        EXPECT_EQ(std::string(field(vec, "canonicalizedQueryString"))
                      + "&Signature="
                      + std::string(field(vec, "signature_in_query")),
                  query);

        // The signed query parses back into the same parameters plus a
        // Signature that decodes to the Base64.
        param_list back(32);
        std::string arena;
        arena.reserve(query.size());
        ASSERT_EQ(params_error::ok, parse_urlencoded(query, 8192, back, arena));
        ASSERT_NE(nullptr, back.find("Signature"));
        EXPECT_EQ(field(vec, "base64"), back.find("Signature")->value);
        EXPECT_EQ(params.size() + 1, back.size());
    });
}

namespace {

void
fill_kat1(param_list &p)
{
    p.add("AccessKeyId", "testId");
    p.add("Action", "SendSms");
    p.add("Format", "XML");
    p.add("OutId", "123");
    p.add("PhoneNumbers", "15300000001");
    p.add("RegionId", "cn-hangzhou");
    p.add("SignName", "\xe9\x98\xbf\xe9\x87\x8c\xe4\xba\x91\xe7\x9f\xad"
                      "\xe4\xbf\xa1\xe6\xb5\x8b\xe8\xaf\x95\xe4\xb8\x93"
                      "\xe7\x94\xa8"); // 阿里云短信测试专用
    p.add("SignatureMethod", "HMAC-SHA1");
    p.add("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466");
    p.add("SignatureVersion", "1.0");
    p.add("TemplateCode", "SMS_71390007");
    p.add("TemplateParam", "{\"customer\":\"test\"}");
    p.add("Timestamp", "2017-07-12T02:42:19Z");
    p.add("Version", "2017-05-25");
}

} // namespace

TEST(AliyunPopKat, Kat1SendSms)
{
    param_list p(32);
    fill_kat1(p);
    ASSERT_EQ(14u, p.size());

    std::string canon;
    ASSERT_TRUE(pop_canonical_query(p, canon));
    EXPECT_EQ(
        "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers="
        "15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%"
        "91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&"
        "SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-"
        "2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&"
        "TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-"
        "12T02%3A42%3A19Z&Version=2017-05-25",
        canon);

    std::string sts;
    ASSERT_EQ(sig_error::ok, pop_string_to_sign("GET", p, sts));
    EXPECT_EQ(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%"
        "26OutId%3D123%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%"
        "26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F"
        "%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%"
        "25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%"
        "3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%"
        "26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%"
        "2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%"
        "253A19Z%26Version%3D2017-05-25",
        sts);

    sha1_digest d;
    ASSERT_TRUE(hmac_sha1({"testSecret", "&"}, {sts}, d));
    EXPECT_EQ("cc90c5f8baf3863fd386796f213a32b0546aeade", px_test::hex(d));

    std::string scratch, query;
    sha1_base64 sig;
    ASSERT_EQ(sig_error::ok,
              pop_sign("GET", p, "testSecret", scratch, query, &sig));
    EXPECT_EQ("zJDF+Lrzhj/ThnlvIToysFRq6t4=", as_view(sig));
    EXPECT_EQ(canon + "&Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D", query);
}

TEST(AliyunPopKat, Kat2DescribeRegions)
{
    param_list p(16);
    p.add("AccessKeyId", "testid");
    p.add("Action", "DescribeRegions");
    p.add("Format", "XML");
    p.add("SignatureMethod", "HMAC-SHA1");
    p.add("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf");
    p.add("SignatureVersion", "1.0");
    p.add("Timestamp", "2016-02-23T12:46:24Z");
    p.add("Version", "2014-05-26");

    std::string sts;
    ASSERT_EQ(sig_error::ok, pop_string_to_sign("GET", p, sts));
    EXPECT_EQ("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%"
              "26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%"
              "3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1."
              "0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-"
              "05-26",
              sts);

    std::string scratch, query;
    sha1_base64 sig;
    ASSERT_EQ(sig_error::ok,
              pop_sign("GET", p, "testsecret", scratch, query, &sig));
    EXPECT_EQ("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", as_view(sig));
    sha1_digest d;
    ASSERT_TRUE(hmac_sha1({"testsecret&"}, {sts}, d));
    EXPECT_EQ("38b79a89d4b526fc6e32f9f21cec2e27eb97e6a6", px_test::hex(d));
}

TEST(AliyunPop, SignatureParameterIsNeverSigned)
{
    param_list with(32), without(32);
    fill_kat1(with);
    fill_kat1(without);
    with.add("Signature", "stale");

    std::string a, b, scratch;
    ASSERT_EQ(sig_error::ok, pop_sign("GET", with, "testSecret", scratch, a));
    ASSERT_EQ(sig_error::ok,
              pop_sign("GET", without, "testSecret", scratch, b));
    EXPECT_EQ(a, b);
}

TEST(AliyunPop, MethodIsValidatedAndSigned)
{
    param_list p(32);
    fill_kat1(p);
    std::string out;
    for (std::string_view bad :
         {"", "get", "G T", "GET&", "VERYLONGMETHODNAME"}) {
        out.clear();
        EXPECT_EQ(sig_error::bad_input, pop_string_to_sign(bad, p, out)) << bad;
    }

    std::string scratch, get, post;
    ASSERT_EQ(sig_error::ok, pop_sign("GET", p, "testSecret", scratch, get));
    ASSERT_EQ(sig_error::ok, pop_sign("POST", p, "testSecret", scratch, post));
    EXPECT_NE(get, post);
}

TEST(AliyunPop, ScratchIsReusedAndQueryAppended)
{
    param_list p(32);
    fill_kat1(p);
    std::string scratch = "leftover", query = "https://h/?";
    ASSERT_EQ(sig_error::ok, pop_sign("GET", p, "testSecret", scratch, query));
    EXPECT_EQ(0u, query.find("https://h/?AccessKeyId=testId&"));
    EXPECT_EQ(0u, scratch.find("GET&%2F&AccessKeyId"));
}
