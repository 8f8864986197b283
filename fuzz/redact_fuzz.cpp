// libFuzzer harness: log redaction.  The input chooses a line around a
// credential: the text before and after it, one of the spellings the
// redactor must catch (header names in any case, blanks, percent-encoded
// parameter names, quotes), and a secret.  No byte run of the planted
// secret may survive, the output is never longer than the input, and
// redacting twice changes nothing more.  Arbitrary lines are also checked
// for the length and idempotence properties.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/redact.hpp"

using namespace provision_x;

namespace {

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

std::string
red(const std::string &in)
{
    std::string out(in.size(), '\0');
    out.resize(redact(in.data(), in.size(), out.data()));
    return out;
}

/* Spellings of the place a secret value goes; the value follows. */
const char *const triggers[] = {
    "?signature=",
    "&signature=",
    "?%73ignature=",
    "&sig%6Eature=",
    "?%53IGNATURE=",
    "&Signature=",
    " signature=",
    "\"signature=",
    "X-AKSK: UsernameToken PasswordDigest=\"",
    "x-aksk : ",
    "X-WSSE:",
    "http header: \"x-wsse: ",
    "Authorization: Bearer ",
    "authorization:bearer\t",
    "AUTHORIZATION : BEARER  ",
    "\"Authorization: Bearer ",
    "PasswordDigest=\"",
    "passworddigest = ",
    "PASSWORDDIGEST=",
    ", PasswordDigest=\"",
};

constexpr size_t ntriggers = sizeof(triggers) / sizeof(triggers[0]);

/* Secret bytes: what a token, digest or signature is made of. */
char
secret_char(uint8_t b)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=%-_.";
    return alphabet[b % (sizeof(alphabet) - 1)];
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 4096) {
        return 0;
    }

    /* any line: never longer, idempotent */
    std::string any(reinterpret_cast<const char *>(data), size);
    std::string once = red(any);
    check(once.size() <= any.size());
    check(red(once) == once);

    /* a planted secret */
    size_t trigger = data[0] % ntriggers;
    size_t secret_len = 6 + data[1] % 40;
    size_t split = data[2];
    std::string_view rest(reinterpret_cast<const char *>(data) + 3, size - 3);

    if (split > rest.size()) {
        split = rest.size();
    }

    std::string secret;
    for (size_t i = 0; i < secret_len; i++) {
        secret += secret_char(data[(3 + i) % size] + static_cast<uint8_t>(i));
    }

    /* the value ends where a real one would: a delimiter, or the line */
    char end = "\"&, \n"[data[3] % 5];
    std::string before = std::string(rest.substr(0, split)) + triggers[trigger];
    std::string after = end + std::string(rest.substr(split));
    std::string line = before + secret + after;

    std::string out = red(line);
    check(out.size() <= line.size());

    /* no run of 6 bytes of the secret is left anywhere, unless the text
     * around it holds that run too: in the input's own bytes, or across
     * the trigger's edge (input "..AB" before "PASSWORDDIGEST=" holds the
     * run "ABPASS" of a secret that has it) */
    std::string around = before + "..." + after;

    for (size_t i = 0; i + 6 <= secret.size(); i++) {
        std::string run = secret.substr(i, 6);

        if (rest.find(run) == std::string_view::npos
            && around.find(run) == std::string::npos)
        {
            check(out.find(run) == std::string::npos);
        }
    }

    return 0;
}
