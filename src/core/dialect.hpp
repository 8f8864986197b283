/*
 * The platforms' two dialects (spec §0), and "off" where a directive names
 * none.  One enum for the core and the glue: its value indexes the
 * per-dialect counters in shared memory, so the order is fixed and "off"
 * is 0.
 */
#ifndef PROVISION_X_CORE_DIALECT_HPP
#define PROVISION_X_CORE_DIALECT_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace provision_x {

enum class dialect : uint8_t { off, aliyun, huawei };

constexpr size_t dialect_count = 3;

/* "off", "aliyun", "huawei": directives, logs, metric labels, NDJSON */
constexpr const char *
dialect_name(dialect d) noexcept
{
    switch (d) {
    case dialect::aliyun:
        return "aliyun";
    case dialect::huawei:
        return "huawei";
    default:
        return "off";
    }
}

/* The dialect `name` spells, "off" included; false for anything else. */
constexpr bool
dialect_from_name(std::string_view name, dialect *d) noexcept
{
    for (auto candidate : {dialect::off, dialect::aliyun, dialect::huawei}) {
        if (name == dialect_name(candidate)) {
            *d = candidate;
            return true;
        }
    }
    return false;
}

static_assert(static_cast<size_t>(dialect::huawei) + 1 == dialect_count);

} // namespace provision_x

#endif /* PROVISION_X_CORE_DIALECT_HPP */
