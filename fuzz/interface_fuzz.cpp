// libFuzzer harness: the interface endpoint's request envelope, the call
// built from its payload for both dialects, the debug answer, and the
// platform's answer rendered into the envelope.  Whatever the input, the
// refusals are UTF-8 text, a signed call has a signature and no problem,
// an unsigned one has a problem and no signature, the secret appears in
// no answer, and every answer is a JSON object whose status_code is the
// status the glue sends.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <jansson.h>

#include "core/encoding.hpp"
#include "core/interface.hpp"

using namespace provision_x;

namespace {

constexpr std::size_t max_input = 8192;

// Bytes no payload can smuggle into an answer unless it carries them.
constexpr std::string_view secret = "Sx9#secret!never-shown";

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

// The answer is one JSON object and says `status`.
void
check_answer(const std::string &out, unsigned status)
{
    check(!out.empty() && out.back() == '\n');

    json_t *root = json_loadb(out.data(), out.size(), 0, nullptr);

    check(json_is_object(root));
    check(json_integer_value(json_object_get(root, "status_code"))
          == static_cast<json_int_t>(status));
    json_decref(root);
}

const std::string_view pop_ops[] = {"QueryRecordFileDownloadUrl", "BindAxb"};
const std::string_view hw_ops[] = {"/rest/provision/voice/record/v1.0",
                                   "/rest/caas/relationnumber/partners/v1.0"};

void
build_and_render(const interface_request &req, dialect d, bool carries_secret)
{
    interface_target t;

    t.dialect = d;
    t.key_id = d == dialect::aliyun ? "testId" : "appKeyA";
    t.secret = secret;
    t.operations = d == dialect::aliyun ? pop_ops : hw_ops;
    t.operation_count = 2;

    signing_inputs in = {"66C92B11FF8A425FB8D4CCFE0ED9ED1F",
                         "2024-01-02T03:04:05Z"};
    outbound_call call;
    build_result r = build_outbound(req, t, in, call);

    switch (r) {
    case build_result::ok:
        check(call.problems.empty() && !call.signature.empty()
              && !call.string_to_sign.empty() && !call.operation.empty());
        if (d == dialect::aliyun) {
            const std::string &signed_params =
                call.method == "GET" ? call.query : call.body;
            check(
                signed_params.compare(0, call.canonical.size(), call.canonical)
                == 0);
            check(signed_params.find("&Signature=") == call.canonical.size());
        } else {
            check(!call.x_aksk.empty() && is_utf8(call.body));
        }
        break;
    case build_result::incomplete:
        check(!call.problems.empty() && call.signature.empty());
        break;
    case build_result::operation_not_allowed:
        check(call.operation != t.operations[0]
              && call.operation != t.operations[1]);
        return;
    default:
        // the inputs are fixed and valid: only memory can fail
        check(r == build_result::no_memory);
        return;
    }

    for (const interface_problem &p : call.problems) {
        check(is_utf8(p.field) && is_utf8(p.message));
    }

    std::string line;
    check(problems_text(call, line) && is_utf8(line));

    debug_context ctx;
    ctx.dialect = d;
    ctx.target = "t";
    ctx.app = t.key_id;
    ctx.key_id = t.key_id;
    ctx.pass = "/_px";

    std::string out;
    check(render_debug_answer(req, ctx, call, out));
    check_answer(out, 200);
    check(carries_secret || out.find(secret) == std::string::npos);
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > max_input) {
        return 0;
    }

    std::string_view in(reinterpret_cast<const char *>(data), size);
    bool carries_secret = in.find(secret) != std::string_view::npos;

    interface_request req;
    std::string detail;
    envelope_error e = req.parse(in, detail);

    check(!detail.empty() == (e != envelope_error::ok));
    check(is_utf8(detail));

    if (e == envelope_error::ok) {
        check(req.payload() != nullptr);
        check(!req.user_id().empty()
              && req.user_id().size() <= max_user_id_length);

        for (unsigned char c : req.user_id()) {
            check(c > 0x20 && c < 0x7f && c != '"' && c != '\\');
        }

        build_and_render(req, dialect::aliyun, carries_secret);
        build_and_render(req, dialect::huawei, carries_secret);
    }

    // the same bytes as what came back from the platform
    for (unsigned status : {0u, 200u, 301u, 400u, 503u}) {
        for (dialect d : {dialect::aliyun, dialect::huawei}) {
            platform_reply reply;
            reply.status = status;
            reply.failure = 504;
            reply.body = in;
            reply.location = size % 2 ? "https://obs.example.com/a" : "";

            std::string out;
            interface_answer a = render_platform_answer(d, reply, out);

            check(a.status >= 200 && a.status < 600);
            check((a.outcome == interface_outcome::ok) == (a.status == 200));
            check(a.outcome == interface_outcome::ok
                  || a.outcome == interface_outcome::platform_error
                  || a.outcome == interface_outcome::platform_timeout);
            check_answer(out, a.status);
        }
    }

    return 0;
}
