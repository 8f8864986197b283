/*
 * Log redaction: a log line with every credential value replaced by "...".
 *
 * nginx itself writes request lines (with each error) and every request
 * and upstream header (at debug level) to its logs, so a line may carry:
 *
 *   - an X-AKSK or X-WSSE header: everything after "X-AKSK:" (any case,
 *     any blanks before the colon) to the end of the line, since its
 *     attributes hold the PasswordDigest in several spellings;
 *   - an Authorization header with the Bearer scheme (any case, any
 *     blanks): the token;
 *   - a PasswordDigest attribute anywhere, quoted or not, with blanks
 *     around "=";
 *   - a query or form parameter whose name, percent-decoded, is
 *     "signature" in any case (Aliyun's signature, POP's Signature):
 *     its value.
 *
 * A value is cut at its end: the closing quote when quoted, else the
 * first of '&', '"', ',', ';', a blank or the end of the line.  The output
 * is never longer than the input.
 */
#ifndef PROVISION_X_CORE_REDACT_HPP
#define PROVISION_X_CORE_REDACT_HPP

#include <cstddef>

namespace provision_x {

/* What stands in for a masked value. */
constexpr char redact_mask[] = "...";

/*
 * Copies in[0..len) to out (room for len bytes) with the credential values
 * masked; returns the length written.  in and out must not overlap.
 */
size_t redact(const char *in, size_t len, char *out) noexcept;

} // namespace provision_x

#endif /* PROVISION_X_CORE_REDACT_HPP */
