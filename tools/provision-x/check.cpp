#include "check.hpp"
#include "args.hpp"
#include "io.hpp"

#include "core/clock.hpp"
#include "core/encoding.hpp"
#include "core/hmac.hpp"
#include "core/params.hpp"
#include "core/signature.hpp"
#include "core/xaksk.hpp"

#include <jansson.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <iostream>
#include <strings.h>

namespace provision_x::cli {

const char check_help[] =
    "usage: provision-x check --dialect huawei|aliyun --secret-file FILE\n"
    "                         (--request-file FILE | --url URL [...])\n"
    "\n"
    "Verifies a captured request with the module's own code and prints\n"
    "each step (header grammar, parameters, nonce form, clock, canonical\n"
    "string, digest) with its intermediate strings.  The secret is never\n"
    "printed; the expected digest only with --show-digest.\n"
    "\n"
    "  --request-file FILE   raw HTTP request: request line, headers,\n"
    "                        empty line, body (- = stdin); the output of\n"
    "                        `provision-x sign --format http`\n"
    "  --method M            instead of a request file (default POST)\n"
    "  --url URL             path?query or full URL\n"
    "  --header 'N: V'       a header, repeatable\n"
    "  --body TEXT | --body-file FILE (- = stdin)\n"
    "  --app NAME            the app the request must name (huawei)\n"
    "  --encoder java|rfc3986, --key plain|ampersand, --once\n"
    "                        aliyun reading to check first (the others\n"
    "                        are tried when it does not match)\n"
    "  --past S, --future S  clock window in seconds (default 900)\n"
    "  --now T               check as of T (yyyy-MM-ddTHH:mm:ssZ)\n"
    "  --show-digest         print the expected digest / signature\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit: 0 verifies, 1 does not verify, 2 usage error, 3 I/O error.\n";

captured_request
parse_raw_request(const std::string &raw)
{
    captured_request r;
    std::size_t pos = 0;
    bool first = true;

    for (;;) {
        std::size_t eol = raw.find('\n', pos);
        if (eol == std::string::npos) {
            throw usage_error("request: no empty line after the headers");
        }
        std::string line = raw.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty()) {
            if (first) {
                continue; // leading blank lines
            }
            break;
        }
        if (first) {
            auto sp1 = line.find(' ');
            auto sp2 = line.rfind(' ');
            if (sp1 == std::string::npos || sp2 == sp1
                || line.compare(sp2 + 1, 5, "HTTP/") != 0)
            {
                throw usage_error("request: bad request line \"" + line + "\"");
            }
            r.method = line.substr(0, sp1);
            r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
            first = false;
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string::npos || colon == 0) {
            throw usage_error("request: bad header line \"" + line + "\"");
        }
        std::string value = line.substr(colon + 1);
        std::size_t b = value.find_first_not_of(" \t");
        std::size_t e = value.find_last_not_of(" \t");
        value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
        r.headers.emplace_back(line.substr(0, colon), value);
    }
    r.body = raw.substr(pos);
    return r;
}

namespace {

const std::string *
header(const captured_request &r, const char *name)
{
    for (const auto &h : r.headers) {
        if (strcasecmp(h.first.c_str(), name) == 0) {
            return &h.second;
        }
    }
    return nullptr;
}

struct reporter {
    check_report &rep;

    void ok(const std::string &step, const std::string &detail)
    {
        rep.lines.push_back(step + ": ok"
                            + (detail.empty() ? "" : " (" + detail + ")"));
    }

    void fail(const std::string &step, const std::string &detail)
    {
        rep.lines.push_back(step + ": DIFFERS: " + detail);
        if (std::find(rep.failed.begin(), rep.failed.end(), step)
            == rep.failed.end()) {
            rep.failed.push_back(step);
        }
    }

    void note(const std::string &text)
    {
        rep.lines.push_back("  " + text);
    }
};

std::string
seconds_text(std::int64_t d)
{
    if (d == 0) {
        return "equal to now";
    }
    std::string s = std::to_string(d < 0 ? -d : d) + " s ";
    return s + (d < 0 ? "behind now" : "ahead of now");
}

void
check_clock(reporter &out, std::string_view stamp, const check_input &in,
            bool beijing)
{
    std::int64_t epoch = 0;
    if (!parse_utc_timestamp(stamp, epoch)) {
        out.fail("clock",
                 "\"" + std::string(stamp) + "\" is not yyyy-MM-ddTHH:mm:ssZ");
        return;
    }
    clock_window w;
    w.past = in.past;
    w.future = in.future;
    w.beijing_alternative = beijing;
    window_result res = check_window(epoch, in.now, w);
    std::string delta = seconds_text(epoch - in.now) + ", window -"
                        + std::to_string(in.past) + "/+"
                        + std::to_string(in.future) + " s";
    switch (res) {
    case window_result::utc:
        out.ok("clock", delta);
        break;
    case window_result::beijing:
        out.ok("clock", delta
                            + "; fresh only when read as Beijing time "
                              "(accepted unless beijing=off)");
        break;
    case window_result::too_old:
        out.fail("clock", "timestamp too old: " + delta);
        break;
    case window_result::too_new:
        out.fail("clock", "timestamp in the future: " + delta);
        break;
    }
}

void
check_huawei(const captured_request &r, const check_input &in, reporter &out)
{
    const std::string *auth = header(r, "Authorization");
    auth_scheme scheme = auth_scheme::aksk;
    if (auth == nullptr) {
        out.fail("authorization header", "missing");
    } else {
        xaksk_error e = parse_authorization(*auth, true, scheme);
        if (e != xaksk_error::ok) {
            out.fail("authorization header",
                     std::string(describe(e)) + " in \"" + *auth + "\"");
        } else {
            out.ok("authorization header",
                   scheme == auth_scheme::wsse ? "legacy WSSE" : "AKSK");
        }
    }

    const char *token_name = scheme == auth_scheme::wsse ? "X-WSSE" : "X-AKSK";
    const std::string *token = header(r, token_name);
    username_token t;
    if (token == nullptr) {
        out.fail("username token", std::string(token_name) + " is missing");
        return;
    }
    xaksk_error e = parse_username_token(*token, t);
    if (e != xaksk_error::ok) {
        // Name the step the broken attribute belongs to.
        std::string step = "username token";
        std::string hint;
        if (e == xaksk_error::bad_nonce) {
            step = "nonce form";
            hint = "; a Nonce is 1-128 of [0-9A-Za-z] (no dashes)";
        } else if (e == xaksk_error::bad_created) {
            step = "clock";
            hint = "; Created must be yyyy-MM-ddTHH:mm:ssZ";
        } else if (e == xaksk_error::bad_digest) {
            step = "digest encoding";
            hint = token->find('%') != std::string::npos
                       ? "; it looks URL-encoded: send the Base64 as it is"
                       : "; PasswordDigest must be Base64";
        }
        out.fail(step,
                 std::string(describe(e)) + " in \"" + *token + "\"" + hint);
        return;
    }
    out.ok("username token", std::string(token_name) + " parsed");
    out.note("Username=\"" + std::string(t.username) + "\"");
    out.note("Nonce=\"" + std::string(t.nonce) + "\"");
    out.note("Created=\"" + std::string(t.created) + "\"");
    out.note("PasswordDigest=\"" + std::string(t.password_digest) + "\"");

    if (!in.app.empty() && in.app != t.username) {
        out.fail("app", "Username is \"" + std::string(t.username)
                            + "\", expected \"" + in.app + "\"");
    }

    bool hex32 = t.nonce.size() == 32;
    for (char c : t.nonce) {
        hex32 = hex32 && std::isxdigit(static_cast<unsigned char>(c));
    }
    out.ok("nonce form",
           std::to_string(t.nonce.size()) + " characters [0-9A-Za-z]"
               + (hex32 ? ", the platform's 32-hex-digit shape" : ""));

    check_clock(out, t.created, in, true);

    std::string canonical = std::string(t.nonce) + std::string(t.created);
    out.rep.lines.push_back("canonical string (Nonce + Created): " + canonical);

    std::string raw;
    if (base64_decode(t.password_digest, raw) != codec_error::ok
        || raw.size() != 32)
    {
        out.fail("digest encoding",
                 "PasswordDigest is not the Base64 of 32 bytes ("
                     + std::to_string(t.password_digest.size())
                     + " characters; HMAC-SHA256 gives 44)");
    }

    sha256_base64 expected;
    if (aksk_digest(in.secret, t.nonce, t.created, expected) != sig_error::ok) {
        throw io_error("OpenSSL failed");
    }
    if (in.show_digest) {
        out.rep.lines.push_back("expected PasswordDigest: "
                                + std::string(as_view(expected)));
    }
    if (scheme == auth_scheme::aksk
        && ct_equal(t.password_digest, as_view(expected)))
    {
        out.ok("digest", "Base64(HMAC-SHA256(secret, Nonce + Created))");
        return;
    }

    // Which other scheme would it be?
    wsse_variant v;
    if (wsse_verify(in.secret, t.nonce, t.created, t.password_digest, true, v)
        == sig_error::ok)
    {
        if (scheme == auth_scheme::wsse) {
            out.ok("digest", v == wsse_variant::raw
                                 ? "legacy WSSE, raw SHA-256"
                                 : "legacy WSSE, hex SHA-256 (Java demo)");
            return;
        }
        out.fail("digest", "this is a legacy WSSE digest (SHA-256 of "
                           "Nonce + Created + secret) sent with AKSK");
        return;
    }
    out.fail("digest", "PasswordDigest differs from "
                       "Base64(HMAC-SHA256(secret, Nonce + Created)): "
                       "another secret, or Nonce/Created changed after "
                       "signing");
}

struct aliyun_reading {
    url_flavour flavour;
    bool ampersand;
    bool twice;
};

std::string
reading_text(const aliyun_reading &a)
{
    std::string s = "--encoder ";
    s += a.flavour == url_flavour::java ? "java" : "rfc3986";
    s += a.ampersand ? " --key ampersand" : " --key plain";
    if (!a.twice) {
        s += " --once";
    }
    return s;
}

bool
aliyun_matches(const param_list &l, const check_input &in,
               const aliyun_reading &a, std::string_view received,
               std::string &expected_out)
{
    xmode_options opt;
    opt.flavour = a.flavour;
    opt.key_ampersand = a.ampersand;
    opt.second_encoding = a.twice;
    std::string scratch;
    sha1_base64 e;
    if (xmode_expected(l, in.secret, opt, scratch, e) != sig_error::ok) {
        throw io_error("OpenSSL failed");
    }
    expected_out.assign(e.data(), e.size());
    return signature_text_matches(received, as_view(e));
}

// The signed parameters: query, then a form or flat JSON body.  false:
// reported.
bool
aliyun_params(const captured_request &r, param_list &l, std::string &arena,
              std::deque<std::string> &json_values, reporter &out)
{
    std::string query;
    auto q = r.target.find('?');
    if (q != std::string::npos) {
        query = r.target.substr(q + 1);
    }

    arena.reserve(query.size() + r.body.size() + 1);

    params_error pe = parse_urlencoded(query, 1 << 20, l, arena);
    if (pe != params_error::ok) {
        out.fail("parameter encoding",
                 "query string: " + std::string(describe(pe)));
        return false;
    }

    const std::string *ct = header(r, "Content-Type");
    std::string ctype = ct ? *ct : "";
    bool form = ctype.find("x-www-form-urlencoded") != std::string::npos;
    bool json = ctype.find("json") != std::string::npos
                || (!r.body.empty() && r.body[0] == '{');
    if (!r.body.empty() && form) {
        pe = parse_urlencoded(r.body, 1 << 20, l, arena);
        if (pe != params_error::ok) {
            out.fail("parameter encoding",
                     "form body: " + std::string(describe(pe)));
            return false;
        }
    } else if (!r.body.empty() && json) {
        json_error_t err;
        json_t *root = json_loadb(r.body.data(), r.body.size(),
                                  JSON_REJECT_DUPLICATES, &err);
        if (root == nullptr || !json_is_object(root)) {
            json_decref(root);
            out.fail("parameter encoding", "body is not a JSON object");
            return false;
        }
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
            std::string text;
            if (json_is_string(v)) {
                text.assign(json_string_value(v), json_string_length(v));
            } else if (json_is_integer(v)) {
                text = std::to_string(json_integer_value(v));
            } else if (json_is_boolean(v)) {
                text = json_is_true(v) ? "true" : "false";
            } else if (!json_is_null(v)) {
                std::string why = std::string("member ") + k + " is not flat";
                json_decref(root);
                out.fail("parameter encoding", why);
                return false;
            }
            json_values.push_back(k);
            std::string_view name = json_values.back();
            json_values.push_back(text);
            if (l.add(name, json_values.back()) != params_error::ok) {
                json_decref(root);
                out.fail("parameter encoding",
                         "parameter " + std::string(name) + " given twice");
                return false;
            }
        }
        json_decref(root);
    }
    return true;
}

// The protocol's own parameters, the nonce and the clock.
void
aliyun_common(const param_list &l, const check_input &in, reporter &out)
{
    const struct {
        const char *name;
        const char *value;
    } common[] = {{"signatureMethod", "HMAC-SHA1"},
                  {"signatureVersion", "1.0"},
                  {"format", "JSON"},
                  {"signatureNonce", nullptr},
                  {"timestamp", nullptr},
                  {"signature", nullptr}};
    bool complete = true;
    for (const auto &c : common) {
        const param *p = l.find(c.name);
        if (p == nullptr || p->value.empty()) {
            out.fail("common parameters", std::string(c.name) + " missing");
            complete = false;
        } else if (c.value != nullptr && p->value != c.value) {
            out.fail("common parameters", std::string(c.name) + " is \""
                                              + std::string(p->value)
                                              + "\", expected " + c.value);
            complete = false;
        }
    }
    if (complete) {
        out.ok("common parameters", "");
    }

    const param *nonce = l.find("signatureNonce");
    if (nonce != nullptr && !nonce->value.empty()) {
        out.ok("nonce form", std::to_string(nonce->value.size())
                                 + " characters: " + std::string(nonce->value));
    }
    const param *ts = l.find("timestamp");
    if (ts != nullptr) {
        check_clock(out, ts->value, in, false);
    }
}

// No reading matched: another reading, a mangled encoding, or the secret.
void
aliyun_diagnose(const param_list &l, const check_input &in, const param *sig,
                reporter &out)
{
    for (int f = 0; f < 2; f++) {
        for (int a = 0; a < 2; a++) {
            for (int t = 0; t < 2; t++) {
                aliyun_reading other{f ? url_flavour::rfc3986
                                       : url_flavour::java,
                                     a == 1, t == 0};
                std::string e;
                if (aliyun_matches(l, in, other, sig->value, e)) {
                    out.fail("canonical string",
                             "the signature matches another reading: "
                                 + reading_text(other)
                                 + " (set the location's encoder/key "
                                   "options to it)");
                    return;
                }
            }
        }
    }

    std::string decoded, raw;
    std::string text(sig->value);
    for (char &c : text) {
        if (c == ' ') {
            c = '+'; // a '+' eaten by a form decoder
        }
    }
    if (percent_decode(text, false, decoded) != codec_error::ok) {
        decoded = text;
    }
    if (base64_decode(text, raw) != codec_error::ok
        && base64_decode(decoded, raw) != codec_error::ok)
    {
        out.fail("signature encoding",
                 "the signature is not Base64, nor URL-encoded Base64");
        return;
    }
    if (raw.size() != 20) {
        out.fail("signature encoding", "the signature decodes to "
                                           + std::to_string(raw.size())
                                           + " bytes; HMAC-SHA1 gives 20");
        return;
    }
    out.fail("digest", "no reading matches: another secret, or a "
                       "parameter changed after signing (compare the "
                       "encryptStr above with the sender's)");
}

void
check_aliyun(const captured_request &r, const check_input &in, reporter &out)
{
    param_list l(256);
    std::string arena;
    std::deque<std::string> json_values;

    if (!aliyun_params(r, l, arena, json_values, out)) {
        return;
    }

    out.ok("parameter encoding",
           std::to_string(l.size()) + " parameters decoded");

    aliyun_common(l, in, out);

    const param *sig = l.find(xmode_signature_param);
    if (sig == nullptr || sig->value.empty()) {
        return;
    }

    aliyun_reading chosen{in.encoder == "rfc3986" ? url_flavour::rfc3986
                                                  : url_flavour::java,
                          in.key == "ampersand", in.second_encoding};
    std::string encrypt_str, to_sign;
    xmode_options opt;
    opt.flavour = chosen.flavour;
    opt.key_ampersand = chosen.ampersand;
    opt.second_encoding = chosen.twice;
    if (!xmode_encrypt_str(l, chosen.flavour, encrypt_str)
        || !xmode_string_to_sign(l, opt, to_sign))
    {
        throw io_error("out of memory");
    }
    out.rep.lines.push_back("reading: " + reading_text(chosen));
    out.rep.lines.push_back("encryptStr: " + encrypt_str);
    out.rep.lines.push_back("string to sign: " + to_sign);
    out.rep.lines.push_back("received signature: " + std::string(sig->value));

    std::string expected;
    bool match = aliyun_matches(l, in, chosen, sig->value, expected);
    if (in.show_digest) {
        out.rep.lines.push_back("expected signature (Base64): " + expected);
    }
    if (match) {
        out.ok("signature", "HMAC-SHA1, Base64, matched");
        return;
    }

    aliyun_diagnose(l, in, sig, out);
}

} // namespace

check_report
check_request(const captured_request &r, const check_input &in)
{
    check_report rep;
    reporter out{rep};
    rep.lines.push_back("request: " + r.method + " " + r.target);
    if (in.dialect == "huawei") {
        check_huawei(r, in, out);
    } else if (in.dialect == "aliyun") {
        check_aliyun(r, in, out);
    } else {
        throw usage_error("--dialect must be huawei or aliyun");
    }
    if (rep.verifies()) {
        rep.lines.push_back("result: verifies");
    } else {
        std::string s = "result: does not verify (";
        for (std::size_t i = 0; i < rep.failed.size(); i++) {
            s += (i ? ", " : "") + rep.failed[i];
        }
        rep.lines.push_back(s + ")");
    }
    return rep;
}

int
run_check(int argc, char **argv)
{
    options o(argc, argv,
              {"dialect", "secret-file", "request-file", "method", "url",
               "header", "body", "body-file", "app", "encoder", "key", "past",
               "future", "now"},
              {"help", "show-digest", "once"});
    if (o.has("help")) {
        std::cout << check_help;
        return exit_ok;
    }
    if (!o.positional().empty()) {
        throw usage_error("unexpected argument " + o.positional().front());
    }

    check_input in;
    in.dialect = o.choice("dialect", "", {"huawei", "aliyun"});
    in.secret = read_secret(o.require("secret-file"));
    in.app = o.get("app", "");
    in.encoder = o.choice("encoder", "java", {"java", "rfc3986"});
    in.key = o.choice("key", "plain", {"plain", "ampersand"});
    in.second_encoding = !o.has("once");
    in.past = o.number("past", 900, 0, 86400LL * 365);
    in.future = o.number("future", 900, 0, 86400LL * 365);
    in.show_digest = o.has("show-digest");
    in.now = now_epoch();
    if (o.has("now")) {
        if (!parse_utc_timestamp(o.get("now", ""), in.now)) {
            throw usage_error("--now must be yyyy-MM-ddTHH:mm:ssZ");
        }
    }

    captured_request r;
    if (o.has("request-file")) {
        if (o.has("url") || o.has("header") || o.has("body")
            || o.has("body-file")) {
            throw usage_error("--request-file excludes --url, --header and "
                              "--body");
        }
        r = parse_raw_request(read_file(o.get("request-file", "")));
    } else {
        r.method = o.get("method", "POST");
        r.target = o.require("url");
        for (const auto &h : o.all("header")) {
            auto colon = h.find(':');
            if (colon == std::string::npos || colon == 0) {
                throw usage_error("--header wants 'Name: value'");
            }
            std::string v = h.substr(colon + 1);
            auto b = v.find_first_not_of(" \t");
            r.headers.emplace_back(h.substr(0, colon),
                                   b == std::string::npos ? "" : v.substr(b));
        }
        if (o.has("body")) {
            r.body = o.get("body", "");
        } else if (o.has("body-file")) {
            r.body = read_file(o.get("body-file", ""));
        }
    }

    check_report rep = check_request(r, in);
    for (const auto &line : rep.lines) {
        std::cout << line << "\n";
    }
    return rep.verifies() ? exit_ok : exit_failure;
}

} // namespace provision_x::cli
