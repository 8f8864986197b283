// Shared by the signing unit tests: loads the spec's vectors.json once and
// offers small accessors.  Path: $PX_VECTORS, else the PX_VECTORS_PATH
// compile definition, else "test/vectors.json" (run from the repo root).

#ifndef PROVISION_X_TEST_SIGNING_VECTORS_HPP
#define PROVISION_X_TEST_SIGNING_VECTORS_HPP

#include <cstdlib>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <jansson.h>

#include "core/encoding.hpp"
#include "core/params.hpp"

namespace px_test {

inline const char *
vectors_path()
{
    const char *env = std::getenv("PX_VECTORS");

    if (env != nullptr && *env != '\0') {
        return env;
    }
#ifdef PX_VECTORS_PATH
    return PX_VECTORS_PATH;
#else
    return "test/vectors.json";
#endif
}

// Loaded once and kept for the life of the test binary.
inline json_t *
vectors_root()
{
    static json_t *root = [] {
        json_error_t err;
        json_t *r = json_load_file(vectors_path(), 0, &err);

        if (r == nullptr) {
            ADD_FAILURE() << "cannot load " << vectors_path() << ": "
                          << err.text << " (line " << err.line << ")";
        }
        return r;
    }();

    return root;
}

// The named array of vectors; fails the test when absent or empty, so a
// vanished family cannot pass silently.
inline json_t *
family(const char *name)
{
    json_t *root = vectors_root();
    json_t *arr = root ? json_object_get(root, name) : nullptr;

    if (arr == nullptr || !json_is_array(arr) || json_array_size(arr) == 0) {
        ADD_FAILURE() << "vector family " << name << " missing or empty";
        return nullptr;
    }

    return arr;
}

inline std::string_view
field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (v == nullptr || !json_is_string(v)) {
        ADD_FAILURE() << "vector field " << key << " missing";
        return {};
    }

    return std::string_view(json_string_value(v), json_string_length(v));
}

// Runs check(vec) on every vector of the family, each under its name,
// after checking the family holds `count` of them (0: any number).
template <class Check>
void
for_each_vector(const char *name, std::size_t count, Check check)
{
    json_t *arr = family(name);
    ASSERT_NE(nullptr, arr);
    if (count != 0) {
        ASSERT_EQ(count, json_array_size(arr));
    }

    std::size_t i;
    json_t *vec;
    json_array_foreach(arr, i, vec)
    {
        SCOPED_TRACE(std::string(field(vec, "name")));
        check(vec);
    }
}

// Adds every member of the vector's "params" object (values as given,
// i.e. before any encoding) to `list`.
inline void
fill_params(json_t *vec, provision_x::param_list &list)
{
    json_t *params = json_object_get(vec, "params");
    const char *key;
    json_t *value;

    ASSERT_TRUE(params != nullptr && json_is_object(params));

    json_object_foreach(params, key, value)
    {
        ASSERT_TRUE(json_is_string(value));
        ASSERT_EQ(provision_x::params_error::ok,
                  list.add(key, std::string_view(json_string_value(value),
                                                 json_string_length(value))));
    }
}

template <typename Digest>
std::string
hex(const Digest &d)
{
    std::string s(d.size() * 2, '\0');

    provision_x::hex_encode(d.data(), d.size(), s.data());
    return s;
}

inline std::string
url_encoded(std::string_view s, provision_x::url_flavour f)
{
    std::string out;

    EXPECT_TRUE(provision_x::url_encode(s, f, out));
    return out;
}

} // namespace px_test

#endif
