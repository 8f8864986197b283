/*
 * What the push tests share: editing flat JSON records, one parser, and
 * parse/key/line helpers that keep each push's body alive.
 */
#ifndef PROVISION_X_TEST_PUSH_TEST_HPP
#define PROVISION_X_TEST_PUSH_TEST_HPP

#include "core/cdr.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <jansson.h>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace provision_x {
namespace test {

/* JSON texts as the elements of an array: "[a,b,...]" */
inline std::string
json_array(const std::vector<std::string> &elements)
{
    std::string s = "[";
    for (size_t i = 0; i < elements.size(); i++) {
        s += i ? "," : "";
        s += elements[i];
    }
    return s + "]";
}

/* Replace "name":<value> in a flat record (value = string or scalar). */
inline std::string
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

inline std::string
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

/* A file of test/data, where the Makefile says (-DPX_TEST_DATA). */
inline std::string
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

/* One parser for the tests, as a worker keeps one. */
inline cdr_parser &
test_parser()
{
    static cdr_parser parser;
    return parser;
}

/*
 * A push borrows its body, so the helper keeps a copy per push alive (the
 * tests pass temporaries).
 */
inline cdr_status
parse(dialect d, const std::string &body, cdr_push &out,
      cdr_options options = {})
{
    static std::map<const cdr_push *, std::string> bodies;
    std::string &kept = bodies[&out];

    out.clear();
    kept = body;
    return parse_push(test_parser(), d, kept.data(), kept.size(), options, out);
}

inline std::string
key(const cdr_push &p, size_t i)
{
    std::string k(p[i].key_len, '\0');
    EXPECT_EQ(cdr_write_key(p, i, &k[0], k.size()), p[i].key_len);
    return k;
}

inline std::string
line(const cdr_push &p, size_t i, cdr_line_meta meta = {})
{
    std::string s;
    EXPECT_TRUE(cdr_append_line(p, i, meta, s));
    return s;
}

inline json_t *
load(const std::string &text)
{
    json_error_t err;
    json_t *j = json_loadb(
        text.data(), text.size(),
        JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    EXPECT_NE(j, nullptr) << err.text << " in " << text;
    return j;
}

inline bool
same_digest(const cdr_record &a, const cdr_record &b)
{
    return std::memcmp(a.key_digest, b.key_digest, cdr_key_digest_size) == 0;
}

} // namespace test
} // namespace provision_x

#endif /* PROVISION_X_TEST_PUSH_TEST_HPP */
