// libFuzzer harness: the Authorization and X-AKSK / X-WSSE grammars, the
// Huawei digests over whatever they accept, and a build/parse round trip.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/signature.hpp"
#include "core/xaksk.hpp"

using namespace provision_x;

namespace {

constexpr std::size_t max_input = 4096;

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

bool
inside(std::string_view part, std::string_view whole)
{
    return part.data() >= whole.data()
           && part.data() + part.size() <= whole.data() + whole.size();
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > max_input) {
        return 0;
    }

    std::string_view in(reinterpret_cast<const char *>(data), size);

    auth_scheme scheme;
    xaksk_error strict = parse_authorization(in, false, scheme);
    xaksk_error legacy = parse_authorization(in, true, scheme);

    // Allowing WSSE only ever turns wsse_not_allowed into something else.
    check(strict == legacy || strict == xaksk_error::wsse_not_allowed);

    username_token tok;
    if (parse_username_token(in, tok) != xaksk_error::ok) {
        return 0;
    }

    check(inside(tok.username, in) && inside(tok.password_digest, in)
          && inside(tok.nonce, in) && inside(tok.created, in));
    check(is_valid_nonce(tok.nonce) && is_valid_username(tok.username));

    std::int64_t epoch;
    check(parse_utc_timestamp(tok.created, epoch)
          && epoch == tok.created_epoch);

    sig_error v =
        aksk_verify("secret", tok.nonce, tok.created, tok.password_digest);
    check(v == sig_error::ok || v == sig_error::mismatch);

    wsse_variant matched;
    v = wsse_verify("secret", tok.nonce, tok.created, tok.password_digest, true,
                    matched);
    check(v == sig_error::ok || v == sig_error::mismatch);

    // Whatever we accept we can also emit, and it parses back the same.
    std::string authorization, x_aksk;
    check(build_aksk_headers(tok.username, "secret", tok.nonce, tok.created,
                             authorization, x_aksk)
          == sig_error::ok);
    check(parse_authorization(authorization, false, scheme) == xaksk_error::ok);

    username_token back;
    check(parse_username_token(x_aksk, back) == xaksk_error::ok);
    check(back.username == tok.username && back.nonce == tok.nonce
          && back.created == tok.created);
    check(aksk_verify("secret", back.nonce, back.created, back.password_digest)
          == sig_error::ok);

    return 0;
}
