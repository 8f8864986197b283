// libFuzzer harness: query/form parsing and everything that consumes its
// output (both signing dialects, signature matching), plus the codecs'
// round-trip properties.  Invariants are checked with __builtin_trap() so
// a violation is a crash the fuzzer keeps.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/encoding.hpp"
#include "core/params.hpp"
#include "core/signature.hpp"
#include "params_reference.hpp"

using namespace provision_x;

namespace {

constexpr std::size_t max_input = 16384;

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

void
check_codecs(std::string_view in)
{
    std::string a, b;

    for (url_flavour f : {url_flavour::java, url_flavour::rfc3986}) {
        a.clear();
        b.clear();
        check(url_encode(in, f, a));
        check(a.size() == url_encoded_length(in, f));
        check(percent_decode(a, f == url_flavour::java, b) == codec_error::ok);
        check(b == in);

        std::string twice, again;
        check(url_encode_twice(in, f, twice));
        check(url_encode(a, f, again));
        check(twice == again);
    }

    // Strict Base64 accepts only what encode produces.
    a.clear();
    if (base64_decode(in, a) == codec_error::ok) {
        b.clear();
        check(base64_encode(a, b));
        check(b == in);
    }

    a.clear();
    b.clear();
    check(base64_encode(in, a));
    check(base64_decode(a, b) == codec_error::ok && b == in);

    // A decode either fails or yields at most the input's size.
    a.clear();
    if (percent_decode(in, true, a) == codec_error::ok) {
        check(a.size() <= in.size());
    }
}

void
check_list(const param_list &list, std::string_view arena)
{
    const param *prev = nullptr;

    for (const param &p : list) {
        check(!p.name.empty());
        check(is_utf8(p.name) && is_utf8(p.value));
        check(list.find(p.name) == &p);
        // Every view lies inside the arena.
        check(p.name.data() >= arena.data()
              && p.name.data() + p.name.size() <= arena.data() + arena.size());
        check(p.value.data() >= arena.data()
              && p.value.data() + p.value.size()
                     <= arena.data() + arena.size());
        if (prev != nullptr) {
            check(prev->name < p.name);
        }
        prev = &p;
    }
}

void
exercise_signers(const param_list &list)
{
    static std::string scratch;
    std::string out;
    sha1_base64 e;

    for (url_flavour f : {url_flavour::java, url_flavour::rfc3986}) {
        xmode_options opt;
        opt.flavour = f;
        // reading A3 signs the joined pairs as they are
        xmode_options a3 = opt;
        a3.second_encoding = false;
        std::string joined =
            px_fuzz::reference_xmode_string_to_sign(list, f, false);
        out.clear();
        check(xmode_string_to_sign(list, a3, out) && out == joined);

        std::string to_sign =
            px_fuzz::reference_xmode_string_to_sign(list, f, true);
        sha1_digest d;
        sha1_base64 want;
        out.clear();
        check(xmode_string_to_sign(list, opt, out) && out == to_sign);
        check(hmac_sha1({"secret"}, {to_sign}, d));
        base64_encode(d.data(), d.size(), want.data());
        // scratch keeps what longer inputs left in it: only the string to
        // sign may be hashed
        check(xmode_expected(list, "secret", opt, scratch, e) == sig_error::ok);
        check(as_view(e) == as_view(want));
        check(signature_text_matches(as_view(e), as_view(e)));
        out.clear();
        check(xmode_sign(list, "secret", opt, scratch, out) == sig_error::ok);
        check(signature_text_matches(out, as_view(e)));

        sig_error v = xmode_verify(list, "secret", opt, scratch);
        check(v == sig_error::ok || v == sig_error::mismatch
              || v == sig_error::missing_signature);

        // The gateway's prepared key signs and verifies exactly alike.
        static hmac_key key;
        if (!key.is_set()) {
            check(key.set(hmac_algorithm::sha1, {"secret"}));
        }
        sha1_base64 e2;
        check(xmode_expected(list, key, opt, scratch, e2) == sig_error::ok);
        check(as_view(e2) == as_view(e));
        check(xmode_verify(list, key, opt, scratch) == v);
    }

    out.clear();
    check(pop_sign("GET", list, "secret", scratch, out) == sig_error::ok);
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > max_input) {
        return 0;
    }

    std::string_view raw(reinterpret_cast<const char *>(data), size);

    check_codecs(raw);

    param_list list(64);
    std::string arena;
    arena.reserve(raw.size());
    const char *base = arena.data();

    params_error rc = parse_urlencoded(raw, max_input, list, arena);

    check(arena.data() == base);
    check(arena.size() <= raw.size());

    // The single pass agrees with split-then-decode on every input.
    param_list ref_list(64);
    std::string ref_arena;
    ref_arena.reserve(raw.size());
    check(px_fuzz::reference_parse(raw, ref_list, ref_arena) == rc);

    if (rc == params_error::ok) {
        check(ref_list.size() == list.size());
        for (std::size_t i = 0; i < list.size(); i++) {
            check(ref_list.begin()[i].name == list.begin()[i].name);
            check(ref_list.begin()[i].value == list.begin()[i].value);
        }
        check_list(list, arena);
        exercise_signers(list);
    }

    // The received-signature matcher must take any bytes.
    signature_text_matches(raw, "nsVL9szYmEJYFFHgVrnolLK3gas=");

    return 0;
}
