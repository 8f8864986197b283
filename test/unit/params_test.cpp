#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../fuzz/params_reference.hpp"
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
         {"a=%", "a=%4", "a=%zz", "%=1", "a%2=1", "a=1&b=%G0", "a=100%"})
    {
        EXPECT_EQ(params_error::bad_percent, p.parse(raw)) << raw;
    }
}

TEST(ParseUrlencoded, RejectsNonUtf8)
{
    parsed p;
    for (std::string_view raw : {"a=%FF", "a=%C0%80", "a=%ED%A0%80", "%E4%BD=1",
                                 "a=\xff", "a=%E4%BD%A0%E4"})
    {
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

TEST(ParseUrlencoded, ErrorsOfOneSegmentComeInAddsOrder)
{
    // Splitting, decoding and the UTF-8 check happen in one pass, yet a
    // segment's verdict is the one a split-then-decode-then-add parser
    // gives: empty name first, then a bad escape anywhere in the segment,
    // then UTF-8, then duplicates.
    parsed p;
    EXPECT_EQ(params_error::empty_name, p.parse("=%zz"));
    EXPECT_EQ(params_error::bad_percent, p.parse("a%FF=%zz"));
    EXPECT_EQ(params_error::not_utf8, p.parse("%FF=1&b=%zz"));
    EXPECT_EQ(params_error::not_utf8, p.parse("a=1&a=%FF"));
    EXPECT_EQ(params_error::duplicate, p.parse("a=1&a=%E4%BD%A0"));
    // A sequence cut by '+', by '=' or by the segment's end.
    EXPECT_EQ(params_error::not_utf8, p.parse("a=%E4+%A0"));
    EXPECT_EQ(params_error::not_utf8, p.parse("a%E4=%BD%A0"));
    EXPECT_EQ(params_error::not_utf8, p.parse("a=%E4%BD&b=%A0"));
    // ... or by a second '=', which belongs to the value (found by the
    // params fuzzer against the reference parser)
    EXPECT_EQ(params_error::not_utf8, p.parse("a=%E4%BD=%A0"));
    // Raw (unescaped) UTF-8 bytes are checked like decoded ones.
    EXPECT_EQ(params_error::ok, p.parse("a=\xe4\xbd\xa0"
                                        "b"));
    EXPECT_EQ(params_error::not_utf8, p.parse("a=\xe4"
                                              "b\xbd\xa0"));
}

TEST(ParseUrlencoded, TrimsTheArenaToWhatWasDecodedOnEveryOutcome)
{
    for (std::string_view raw :
         {"a=%41%42&b=2", "a=1&b=%zz", "a=%FF", "a=1&a=2", "&&"})
    {
        SCOPED_TRACE(raw);
        param_list list(8);
        std::string arena = "xy";
        arena.reserve(2 + raw.size());
        const char *base = arena.data();
        parse_urlencoded(raw, 8192, list, arena);
        EXPECT_EQ(base, arena.data());
        EXPECT_LE(arena.size(), 2 + raw.size());
        EXPECT_EQ("xy", arena.substr(0, 2));
        for (const param &q : list) {
            EXPECT_GE(q.name.data(), arena.data() + 2);
            EXPECT_LE(q.value.data() + q.value.size(),
                      arena.data() + arena.size());
        }
    }
}

TEST(ParseUrlencoded, AgreesWithSplitThenDecodeOnGeneratedInputs)
{
    // Every string of up to 5 tokens over an alphabet of the bytes that
    // matter (delimiters, escapes valid and not, UTF-8 leads and tails,
    // '+', and plain runs that put them at every offset of the 16-byte
    // scan), plus a pseudo-random sample of longer ones.
    static const std::vector<std::string> tokens = [] {
        std::vector<std::string> t = {
            "a",    "b",   "=",      "&",   "+",
            "%",    "%4",  "%41",    "%e4", "%E4%BD%A0",
            "%BD",  "%A0", "%C0%80", "%zz", "\xe4\xbd\xa0",
            "\xff", "%26", "%3D"};
        t.push_back(std::string(16, 'p'));
        t.push_back("xyz.-_~0123");
        return t;
    }();
    std::size_t checked = 0;

    auto check = [&checked](const std::string &raw) {
        param_list a(4), b(4);
        std::string arena_a, arena_b;
        arena_a.reserve(raw.size());
        arena_b.reserve(raw.size());
        params_error ra = parse_urlencoded(raw, 8192, a, arena_a);
        params_error rb = px_fuzz::reference_parse(raw, b, arena_b);
        ASSERT_EQ(rb, ra) << raw;
        if (ra == params_error::ok) {
            ASSERT_EQ(b.size(), a.size()) << raw;
            for (std::size_t i = 0; i < a.size(); i++) {
                ASSERT_EQ(b.begin()[i].name, a.begin()[i].name) << raw;
                ASSERT_EQ(b.begin()[i].value, a.begin()[i].value) << raw;
            }
        }
        checked++;
    };

    std::vector<std::size_t> idx;
    for (std::size_t len = 0; len <= 4; len++) {
        idx.assign(len, 0);
        for (;;) {
            std::string raw;
            for (std::size_t i : idx) {
                raw += tokens[i];
            }
            check(raw);
            std::size_t k = 0;
            while (k < len && ++idx[k] == tokens.size()) {
                idx[k++] = 0;
            }
            if (k == len) {
                break;
            }
        }
    }

    unsigned state = 12345;
    for (int n = 0; n < 20000; n++) {
        std::string raw;
        int len = 5 + n % 20;
        for (int i = 0; i < len; i++) {
            state = state * 1103515245u + 12345u;
            raw += tokens[(state >> 16) % tokens.size()];
        }
        check(raw);
    }

    EXPECT_GT(checked, 100000u);
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

namespace {

struct parsed_json {
    param_list list{64};
    std::string arena;

    params_error parse(std::string_view raw, std::size_t reserve)
    {
        list.clear();
        arena.clear();
        arena.reserve(reserve);
        return parse_json_object(raw, 8192, list, arena);
    }

    params_error parse(std::string_view raw)
    {
        return parse(raw, raw.size());
    }
};

} // namespace

TEST(ParseJsonObject, MembersJoinTheSortedListDecoded)
{
    parsed_json p;
    ASSERT_EQ(params_error::ok,
              p.parse(R"({"b":"2","a":"x\u4e2dy","Signature":"s"})"));
    ASSERT_EQ(3u, p.list.size());
    EXPECT_EQ("Signature", p.list.begin()[0].name);
    EXPECT_EQ("a", p.list.begin()[1].name);
    EXPECT_EQ("x\xe4\xb8\xady", p.list.begin()[1].value);
    EXPECT_EQ("2", p.list.find("b")->value);
}

TEST(ParseJsonObject, TheViewsOutliveTheDocument)
{
    parsed_json p;
    ASSERT_EQ(params_error::ok, p.parse(R"({"callId":"abc","x":""})"));
    /* the document is freed: the views point into the arena */
    const char *lo = p.arena.data();
    for (const param &q : p.list) {
        EXPECT_GE(q.name.data(), lo);
        EXPECT_LE(q.name.data() + q.name.size(), lo + p.arena.size());
    }
    EXPECT_EQ("abc", p.list.find("callId")->value);
    EXPECT_EQ("", p.list.find("x")->value);
}

TEST(ParseJsonObject, OnlyAnObjectOfStrings)
{
    parsed_json p;
    EXPECT_EQ(params_error::not_json, p.parse("{\"a\":"));
    EXPECT_EQ(params_error::not_json, p.parse(R"({"a":"1","a":"2"})"));
    EXPECT_EQ(params_error::not_an_object, p.parse(R"(["a"])"));
    EXPECT_EQ(params_error::not_a_string, p.parse(R"({"a":1})"));
    EXPECT_EQ(params_error::not_a_string, p.parse(R"({"a":{"b":"c"}})"));
    EXPECT_EQ(params_error::empty_name, p.parse(R"({"":"1"})"));
    EXPECT_EQ("JSON member is not a string",
              describe(params_error::not_a_string));
}

TEST(ParseJsonObject, NeverGrowsTheArena)
{
    parsed_json p;
    /* a std::string holds 15 bytes before it allocates */
    EXPECT_EQ(params_error::arena_too_small,
              p.parse(R"({"name_of_ten":"and_a_value"})", 4));
}

TEST(ParseJsonObject, RefusesWhatIsTooLarge)
{
    param_list list(64);
    std::string arena;
    arena.reserve(64);
    EXPECT_EQ(params_error::too_large,
              parse_json_object(R"({"a":"1"})", 4, list, arena));
}
