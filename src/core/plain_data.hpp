/*
 * What may live in shared memory or a file read back by another process:
 * plain data, copied byte for byte, with no constructor or destructor to
 * run and no pointer into one process's heap.
 */
#ifndef PROVISION_X_CORE_PLAIN_DATA_HPP
#define PROVISION_X_CORE_PLAIN_DATA_HPP

#include <type_traits>

namespace provision_x {

template <class T>
inline constexpr bool is_plain_data =
    std::is_standard_layout_v<T> &&std::is_trivially_copyable_v<T>;

} // namespace provision_x

#endif
