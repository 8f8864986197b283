// Request parameters of a signed callback: parsed from a query string, an
// application/x-www-form-urlencoded body or a flat JSON object, or added
// one by one, into one list kept sorted by name, because every signing
// dialect signs them in that order.
//
// Memory contract.  The list stores string_views only; it owns no bytes.
//  - Views passed to add() must outlive the list's use of them.
//  - parse_urlencoded() and parse_json_object() write decoded bytes into
//    a caller-owned `arena`
//    string and stores views into it.  It never grows the arena beyond its
//    current capacity (decoded size <= raw size), so the caller must
//    reserve capacity up front for every input it will parse into the same
//    arena before parsing the first one, e.g.
//        arena.clear();
//        arena.reserve(args.size() + body.size());
//    and must not touch the arena again until it is done with the list.
//    Too little spare capacity is reported as arena_too_small, never fixed
//    by reallocating (which would dangle the earlier views).
//  - On any error the list and the arena hold partial results; the request
//    is to be rejected and both cleared before reuse.

#ifndef PROVISION_X_CORE_PARAMS_HPP
#define PROVISION_X_CORE_PARAMS_HPP

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace provision_x {

struct param {
    std::string_view name;
    std::string_view value;
};

enum class params_error : unsigned char {
    ok,
    too_large,       // raw input longer than max_bytes
    too_many,        // more parameters than the list's max_count
    duplicate,       // the same name twice (ambiguous: which one is signed?)
    bad_percent,     // '%' not followed by two hex digits
    not_utf8,        // decoded name or value is not well-formed UTF-8
    empty_name,      // "=value"
    arena_too_small, // caller did not reserve raw.size() spare capacity
    no_memory,
    not_json,      // JSON body: not JSON (or a key repeated)
    not_an_object, // JSON body: not an object
    not_a_string,  // JSON body: a member is not a string
};

std::string_view describe(params_error e) noexcept;

class param_list {
public:
    // Reserves room for max_count entries so add() never allocates on the
    // request path.  May throw std::bad_alloc: build it at init time.
    explicit param_list(std::size_t max_count);

    // Inserts in name order (bytewise, i.e. Unicode code point order).
    params_error add(std::string_view name, std::string_view value) noexcept;

    const param *find(std::string_view name) const noexcept;

    // Keeps the capacity for the next request.
    void clear() noexcept
    {
        items_.clear();
    }

    std::size_t size() const noexcept
    {
        return items_.size();
    }

    bool empty() const noexcept
    {
        return items_.empty();
    }

    std::size_t max_count() const noexcept
    {
        return max_count_;
    }

    const param *begin() const noexcept
    {
        return items_.data();
    }

    const param *end() const noexcept
    {
        return items_.data() + items_.size();
    }

private:
    friend params_error parse_urlencoded(std::string_view, std::size_t,
                                         param_list &, std::string &) noexcept;

    // add() without its checks: name non-empty, both well-formed UTF-8.
    params_error insert(std::string_view name, std::string_view value) noexcept;

    std::vector<param> items_;
    std::size_t max_count_;
};

// Parses `a=1&b=2` (no leading '?').  Percent-escapes are decoded strictly
// and '+' becomes a space (form and servlet semantics, which is what the
// Java senders encode for).  Empty segments ("a=1&&b=2", a trailing '&')
// are skipped; a segment without '=' is a name with an empty value.  See
// the memory contract above for `arena`.  One pass over `raw`: splitting,
// decoding and the UTF-8 check of what was decoded happen byte by byte,
// with the errors of one segment reported in add()'s order.
params_error parse_urlencoded(std::string_view raw, std::size_t max_bytes,
                              param_list &list, std::string &arena) noexcept;

// The members of a flat JSON object (an Aliyun callback sent as JSON).
// The platform types every X-mode parameter as String, so anything but an
// object of strings is refused.  Names and values are copied into
// `arena` (the memory contract above; their decoded size is under
// raw.size()); add()'s checks apply.
params_error parse_json_object(std::string_view raw, std::size_t max_bytes,
                               param_list &list, std::string &arena) noexcept;

} // namespace provision_x

#endif
