#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/params.hpp"

using namespace provision_x;

namespace {

struct parsed {
    param_list list{64};
    std::string arena;

    params_error parse(std::string_view raw, std::size_t max_bytes = 8192)
    {
        list.clear();
        arena.clear();
        arena.reserve(raw.size());
        return parse_urlencoded(raw, max_bytes, list, arena);
    }

    std::string joined() const
    {
        std::string s;
        for (const param &p : list) {
            s += std::string(p.name) + "=" + std::string(p.value) + ";";
        }
        return s;
    }
};

} // namespace

TEST(ParseUrlencoded, SortsDecodesAndKeepsEmptyValues)
{
    parsed p;
    ASSERT_EQ(params_error::ok,
              p.parse("timestamp=2024-01-02T03%3A04%3A05Z&callNo=%2B86138"
                      "&extension=&callId=a+b&flag"));
    EXPECT_EQ("callId=a b;callNo=+86138;extension=;flag=;"
              "timestamp=2024-01-02T03:04:05Z;",
              p.joined());
}

TEST(ParseUrlencoded, ByteOrderSortIsCaseSensitive)
{
    parsed p;
    ASSERT_EQ(params_error::ok, p.parse("b=1&B=2&a=3&A=4&_=5&%E4%BD%A0=6"));
    EXPECT_EQ("A=4;B=2;_=5;a=3;b=1;\xe4\xbd\xa0=6;", p.joined());
}

TEST(ParseUrlencoded, ValueMayContainEquals)
{
    parsed p;
    ASSERT_EQ(params_error::ok, p.parse("sig=abc=&x=a=b=c"));
    EXPECT_EQ("sig=abc=;x=a=b=c;", p.joined());
}

TEST(ParseUrlencoded, SkipsEmptySegments)
{
    parsed p;
    ASSERT_EQ(params_error::ok, p.parse("&a=1&&b=2&"));
    EXPECT_EQ("a=1;b=2;", p.joined());
    ASSERT_EQ(params_error::ok, p.parse(""));
    EXPECT_TRUE(p.list.empty());
}

TEST(ParseUrlencoded, RejectsDuplicates)
{
    parsed p;
    EXPECT_EQ(params_error::duplicate, p.parse("a=1&b=2&a=3"));
    EXPECT_EQ(params_error::duplicate, p.parse("a=1&a=1"));
    EXPECT_EQ(params_error::duplicate, p.parse("a=&a"));
    // Different raw spellings of one decoded name are still one name.
    EXPECT_EQ(params_error::duplicate, p.parse("signature=x&%73ignature=y"));
    EXPECT_EQ(params_error::duplicate, p.parse("a+b=1&a%20b=2"));
}

TEST(ParseUrlencoded, RejectsBadPercent)
{
    parsed p;
    for (std::string_view raw :
         {"a=%", "a=%4", "a=%zz", "%=1", "a%2=1", "a=1&b=%G0", "a=100%"}) {
        EXPECT_EQ(params_error::bad_percent, p.parse(raw)) << raw;
    }
}

TEST(ParseUrlencoded, RejectsNonUtf8)
{
    parsed p;
    for (std::string_view raw : {"a=%FF", "a=%C0%80", "a=%ED%A0%80", "%E4%BD=1",
                                 "a=\xff", "a=%E4%BD%A0%E4"}) {
        EXPECT_EQ(params_error::not_utf8, p.parse(raw)) << raw;
    }
    EXPECT_EQ(params_error::ok, p.parse("a=%E4%BD%A0"));
}

TEST(ParseUrlencoded, RejectsEmptyName)
{
    parsed p;
    EXPECT_EQ(params_error::empty_name, p.parse("=1"));
    EXPECT_EQ(params_error::empty_name, p.parse("a=1&=2"));
    EXPECT_EQ(params_error::empty_name, p.parse("a=1&="));
}

TEST(ParseUrlencoded, RejectsTooMany)
{
    parsed p;
    p.list = param_list(3);
    EXPECT_EQ(params_error::ok, p.parse("a=1&b=2&c=3"));
    EXPECT_EQ(params_error::too_many, p.parse("a=1&b=2&c=3&d=4"));
}

TEST(ParseUrlencoded, RejectsOversize)
{
    parsed p;
    EXPECT_EQ(params_error::ok, p.parse("a=12345", 7));
    EXPECT_EQ(params_error::too_large, p.parse("a=123456", 7));
}

TEST(ParseUrlencoded, RefusesToReallocateTheArena)
{
    param_list list(8);
    std::string arena;
    arena.reserve(4);
    std::string raw(arena.capacity() + 1, 'a');
    EXPECT_EQ(params_error::arena_too_small,
              parse_urlencoded(raw, 8192, list, arena));
}

TEST(ParseUrlencoded, ViewsSurviveASecondParseIntoTheSameArena)
{
    // Query first, then form body, as the glue does.
    std::string_view query = "b=%E4%BD%A0&d=4";
    std::string_view body = "a=1&c=x+y&e=%3D";
    param_list list(8);
    std::string arena;
    arena.reserve(query.size() + body.size());
    const char *base = arena.data();

    ASSERT_EQ(params_error::ok, parse_urlencoded(query, 8192, list, arena));
    const param *b = list.find("b");
    ASSERT_NE(nullptr, b);
    ASSERT_EQ(params_error::ok, parse_urlencoded(body, 8192, list, arena));

    EXPECT_EQ(base, arena.data());
    EXPECT_EQ("\xe4\xbd\xa0", list.find("b")->value);
    EXPECT_EQ("x y", list.find("c")->value);
    EXPECT_EQ("=", list.find("e")->value);
    EXPECT_EQ(5u, list.size());
}

TEST(ParseUrlencoded, DuplicateAcrossQueryAndBody)
{
    param_list list(8);
    std::string arena;
    arena.reserve(64);
    ASSERT_EQ(params_error::ok, parse_urlencoded("a=1", 8192, list, arena));
    EXPECT_EQ(params_error::duplicate,
              parse_urlencoded("a=2", 8192, list, arena));
}

TEST(ParamList, AddDetectsDuplicatesAndKeepsOrder)
{
    // What the glue does with a flat JSON object from jansson.
    param_list list(4);
    EXPECT_EQ(params_error::ok, list.add("timestamp", "t"));
    EXPECT_EQ(params_error::ok, list.add("callId", "c"));
    EXPECT_EQ(params_error::ok, list.add("signature", "s"));
    EXPECT_EQ(params_error::duplicate, list.add("callId", "other"));
    EXPECT_EQ(params_error::ok, list.add("extension", ""));
    EXPECT_EQ(params_error::too_many, list.add("z", "z"));
    // When full, a repeated name is still reported as the duplicate.
    EXPECT_EQ(params_error::duplicate, list.add("timestamp", "again"));

    std::vector<std::string_view> names;
    for (const param &p : list) {
        names.push_back(p.name);
    }
    EXPECT_EQ((std::vector<std::string_view>{"callId", "extension", "signature",
                                             "timestamp"}),
              names);
    EXPECT_EQ("c", list.find("callId")->value);
    EXPECT_EQ(nullptr, list.find("callid"));
    EXPECT_EQ(nullptr, list.find(""));
}

TEST(ParamList, AddValidates)
{
    param_list list(4);
    EXPECT_EQ(params_error::empty_name, list.add("", "v"));
    EXPECT_EQ(params_error::not_utf8, list.add("a", "\xc0\x80"));
    EXPECT_EQ(params_error::not_utf8, list.add("\xff", "v"));
    EXPECT_TRUE(list.empty());
}

TEST(ParamList, ClearKeepsCapacityAndLimit)
{
    param_list list(2);
    EXPECT_EQ(params_error::ok, list.add("a", "1"));
    EXPECT_EQ(params_error::ok, list.add("b", "2"));
    list.clear();
    EXPECT_EQ(0u, list.size());
    EXPECT_EQ(2u, list.max_count());
    EXPECT_EQ(params_error::ok, list.add("a", "1"));
}

TEST(Describe, ParamsErrors)
{
    EXPECT_EQ("duplicate parameter", describe(params_error::duplicate));
}
