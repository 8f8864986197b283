/*
 * One parsed JSON document that frees itself: small bodies the gateway
 * reads whole (a call-control answer, a JSON-bodied callback), parsed by
 * jansson with duplicate keys refused.
 */
#ifndef PROVISION_X_CORE_JSON_DOC_HPP
#define PROVISION_X_CORE_JSON_DOC_HPP

#include <jansson.h>

#include <string_view>

namespace provision_x {

struct json_doc {
    json_t *root; /* nullptr: not JSON */

    explicit json_doc(std::string_view body) noexcept
        : root(json_loadb(body.data(), body.size(), JSON_REJECT_DUPLICATES,
                          nullptr))
    {
    }

    ~json_doc()
    {
        if (root != nullptr) {
            json_decref(root);
        }
    }

    json_doc(const json_doc &) = delete;
    json_doc &operator=(const json_doc &) = delete;
};

inline std::string_view
json_text(const json_t *string) noexcept
{
    return {json_string_value(string), json_string_length(string)};
}

} // namespace provision_x

#endif /* PROVISION_X_CORE_JSON_DOC_HPP */
