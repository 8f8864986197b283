// Call control: answer validation per §2.5/§3.3.2, the fallback bodies'
// exact shape, and the §4 landline rule.

#include <string>

#include <gtest/gtest.h>

#include "core/call_control.hpp"

using namespace provision_x;

TEST(CallControlAliyun, AcceptsTheRecommendedBody)
{
    EXPECT_EQ(cc_verdict::ok,
              validate_aliyun_answer(
                  R"({"code":"OK","message":"OK","model":{"controlOperate":)"
                  R"("CONTINUE","controlMsg":"","subsId":"0",)"
                  R"("callNoPlayCode":""}})"));
    EXPECT_EQ(cc_verdict::ok,
              validate_aliyun_answer(
                  R"({"code":"OK","model":{"controlOperate":"REJECT",)"
                  R"("controlMsg":"NO_SUBS_EXIST"}})"));
}

TEST(CallControlAliyun, AcceptsModelAsAJsonString)
{
    EXPECT_EQ(cc_verdict::ok,
              validate_aliyun_answer(
                  R"({"code":"OK","model":"{\"controlOperate\":\"IVR\"}"})"));
}

TEST(CallControlAliyun, Refusals)
{
    EXPECT_EQ(cc_verdict::not_json, validate_aliyun_answer("{\"code\":"));
    EXPECT_EQ(cc_verdict::not_json, validate_aliyun_answer("[]"));
    EXPECT_EQ(cc_verdict::bad_code,
              validate_aliyun_answer(
                  R"({"code":"Fail","model":{"controlOperate":"CONTINUE"}})"));
    EXPECT_EQ(cc_verdict::bad_model,
              validate_aliyun_answer(R"({"code":"OK"})"));
    EXPECT_EQ(cc_verdict::bad_operation,
              validate_aliyun_answer(
                  R"({"code":"OK","model":{"controlOperate":"continue"}})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_aliyun_answer(R"({"code":"OK","model":{)"
                                     R"("controlOperate":"CONTINUE",)"
                                     R"("subsId":"12a"}})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_aliyun_answer(R"({"code":"OK","model":{)"
                                     R"("controlOperate":"CONTINUE",)"
                                     R"("subsId":""}})"));
}

TEST(CallControlHuawei, AcceptsTheDocExample)
{
    EXPECT_EQ(cc_verdict::ok,
              validate_huawei_answer(
                  R"({"operation":"connect","connectInfo":{"displayCalleeNum":)"
                  R"("+8617000000002","calleeNum":"+8613800000001",)"
                  R"("maxDuration":60,"recordFlag":"true",)"
                  R"("userData":"order-42"}})"));
    EXPECT_EQ(cc_verdict::ok,
              validate_huawei_answer(R"({"operation":"close"})"));
    EXPECT_EQ(cc_verdict::ok,
              validate_huawei_answer(R"({"operation":"close","closeInfo":)"
                                     R"({"closeHintTone":"bye.wav"}})"));
}

TEST(CallControlHuawei, Refusals)
{
    EXPECT_EQ(cc_verdict::not_json, validate_huawei_answer("nope"));
    EXPECT_EQ(cc_verdict::bad_operation,
              validate_huawei_answer(R"({"operation":"CONNECT"})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_answer(R"({"operation":"connect"})"));
    // §3.3.2: maxDuration 7200 ends the call with 8014
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_answer(R"({"operation":"connect","connectInfo":)"
                                     R"({"calleeNum":"+8613800000001",)"
                                     R"("maxDuration":7200}})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_answer(R"({"operation":"connect","connectInfo":)"
                                     R"({"calleeNum":"13800000001"}})"));
    // A-9: the Java demo's arrays are not the documented shape
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_answer(R"({"operation":"connect","connectInfo":)"
                                     R"([{"calleeNum":"+8613800000001"}]})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_answer(R"({"operation":"connect","connectInfo":)"
                                     R"({"calleeNum":"+8613800000001",)"
                                     R"("recordFlag":true}})"));
}

TEST(CallControlFallback, ExactBodies)
{
    std::string out;
    ASSERT_TRUE(aliyun_fallback_body("CONTINUE", "", out));
    EXPECT_EQ(
        R"({"code":"OK","message":"OK","model":{"controlOperate":)"
        R"("CONTINUE","controlMsg":"","subsId":"0","callNoPlayCode":""}})",
        out);
    EXPECT_EQ(cc_verdict::ok, validate_aliyun_answer(out));

    out.clear();
    ASSERT_TRUE(aliyun_fallback_body("REJECT", "fallback \"x\"", out));
    EXPECT_EQ(R"({"code":"OK","message":"fallback \"x\"","model":)"
              R"({"controlOperate":"REJECT","controlMsg":"","subsId":"0",)"
              R"("callNoPlayCode":""}})",
              out);

    out.clear();
    ASSERT_TRUE(huawei_fallback_body("close", out));
    EXPECT_EQ(R"({"operation":"close"})", out);
    EXPECT_EQ(cc_verdict::ok, validate_huawei_answer(out));
}

TEST(CallControlHuaweiSms, AcceptsTheDocShapes)
{
    EXPECT_EQ(
        cc_verdict::ok,
        validate_huawei_sms_answer(
            R"({"actions":[{"operation":"vNumberRoute","message":)"
            R"({"called":"+8613800000001","calling":"+8617000000001"}}]})"));
    EXPECT_EQ(cc_verdict::ok,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"vNumberRoute","message":)"
                  R"({"called":"+8613800000001"}}]})"));
    EXPECT_EQ(cc_verdict::ok,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"DiscardMessage"}]})"));
    EXPECT_EQ(cc_verdict::ok,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"DiscardMessage","message":{}},)"
                  R"({"operation":"DiscardMessage"}],"extra":1})"));
}

TEST(CallControlHuaweiSms, Refusals)
{
    EXPECT_EQ(cc_verdict::not_json, validate_huawei_sms_answer(""));
    EXPECT_EQ(cc_verdict::not_json, validate_huawei_sms_answer("[]"));
    EXPECT_EQ(cc_verdict::bad_actions, validate_huawei_sms_answer("{}"));
    EXPECT_EQ(cc_verdict::bad_actions,
              validate_huawei_sms_answer(R"({"actions":[]})"));
    EXPECT_EQ(cc_verdict::bad_actions,
              validate_huawei_sms_answer(
                  R"({"actions":{"operation":"DiscardMessage"}})"));
    EXPECT_EQ(cc_verdict::bad_actions,
              validate_huawei_sms_answer(R"({"actions":["DiscardMessage"]})"));
    EXPECT_EQ(cc_verdict::bad_operation,
              validate_huawei_sms_answer(R"({"actions":[{}]})"));
    EXPECT_EQ(cc_verdict::bad_operation,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"discardMessage"}]})"));
    // the call answer's operations are not the message's
    EXPECT_EQ(
        cc_verdict::bad_operation,
        validate_huawei_sms_answer(R"({"actions":[{"operation":"connect"}]})"));
    // a route needs its destination, in global format
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"vNumberRoute"}]})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"vNumberRoute","message":)"
                  R"({"calling":"+8617000000001"}}]})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"vNumberRoute","message":)"
                  R"({"called":"13800000001"}}]})"));
    EXPECT_EQ(cc_verdict::bad_field,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"vNumberRoute","message":)"
                  R"({"called":"+8613800000001","calling":8617000000001}}]})"));
    EXPECT_EQ(
        cc_verdict::bad_field,
        validate_huawei_sms_answer(
            R"({"actions":[{"operation":"DiscardMessage","message":"x"}]})"));
    // one bad action spoils the answer
    EXPECT_EQ(cc_verdict::bad_operation,
              validate_huawei_sms_answer(
                  R"({"actions":[{"operation":"DiscardMessage"},)"
                  R"({"operation":"drop"}]})"));
    EXPECT_STRNE(describe(cc_verdict::bad_actions).data(),
                 describe(cc_verdict::bad_field).data());
}

TEST(CallControlHuaweiSms, FallbackBodies)
{
    std::string out;
    ASSERT_TRUE(
        huawei_sms_fallback_body("DiscardMessage", "+8613800000001", "", out));
    EXPECT_EQ(R"({"actions":[{"operation":"DiscardMessage"}]})", out);
    EXPECT_EQ(cc_verdict::ok, validate_huawei_sms_answer(out));

    out.clear();
    ASSERT_TRUE(huawei_sms_fallback_body("vNumberRoute", "+8613800000001",
                                         "+8617000000001", out));
    EXPECT_EQ(R"({"actions":[{"operation":"vNumberRoute","message":)"
              R"({"called":"+8613800000001","calling":"+8617000000001"}}]})",
              out);
    EXPECT_EQ(cc_verdict::ok, validate_huawei_sms_answer(out));

    out.clear();
    ASSERT_TRUE(
        huawei_sms_fallback_body("vNumberRoute", "+8613800000001", "", out));
    EXPECT_EQ(R"({"actions":[{"operation":"vNumberRoute","message":)"
              R"({"called":"+8613800000001"}}]})",
              out);
    EXPECT_EQ(cc_verdict::ok, validate_huawei_sms_answer(out));

    EXPECT_TRUE(huawei_sms_operation_allowed("vNumberRoute"));
    EXPECT_TRUE(huawei_sms_operation_allowed("DiscardMessage"));
    EXPECT_FALSE(huawei_sms_operation_allowed("close"));
}

TEST(CallControlLandline, Aliyun)
{
    EXPECT_TRUE(aliyun_is_landline("057188880000"));
    EXPECT_TRUE(aliyun_is_landline("01088880000"));
    EXPECT_FALSE(aliyun_is_landline("13900000000"));
    EXPECT_FALSE(aliyun_is_landline("1700000000"));
    EXPECT_FALSE(aliyun_is_landline(""));
    EXPECT_FALSE(aliyun_is_landline("05718888000a"));
}

TEST(CallControlLandline, Huawei)
{
    EXPECT_TRUE(huawei_is_landline("+867552800001"));
    EXPECT_TRUE(huawei_is_landline("+861088880000"));
    EXPECT_FALSE(huawei_is_landline("+8613800000001"));
    EXPECT_FALSE(huawei_is_landline("+14155550100"));
    EXPECT_FALSE(huawei_is_landline("075528000001"));
    EXPECT_FALSE(huawei_is_landline(""));
}

TEST(CallControlHuawei, CallinCaller)
{
    std::string scratch;
    EXPECT_EQ("+867552800001",
              huawei_callin_caller(R"({"eventType":"callin","statusInfo":)"
                                   R"({"caller":"+867552800001"}})",
                                   scratch));
    EXPECT_EQ("", huawei_callin_caller("{}", scratch));
    EXPECT_EQ("", huawei_callin_caller("garbage", scratch));
}
