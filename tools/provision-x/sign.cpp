#include "sign.hpp"
#include "args.hpp"
#include "io.hpp"
#include "sample.hpp"

#include "core/encoding.hpp"
#include "core/params.hpp"
#include "core/signature.hpp"

#include <functional>
#include <iostream>

namespace provision_x::cli {

const char sign_help[] =
    "usage: provision-x sign --dialect huawei|aliyun|aliyun-pop\n"
    "                        --secret-file FILE [options]\n"
    "\n"
    "Prints a signed request: by default a curl command, so that\n"
    "`provision-x sign ... | sh` sends it (and fails, curl's exit 22, when\n"
    "the gateway answers 4xx or 5xx).\n"
    "\n"
    "  --dialect D         huawei (X-AKSK headers), aliyun (X-mode\n"
    "                      callback), aliyun-pop (customer -> Dyplsapi)\n"
    "  --secret-file FILE  the shared secret (trailing newline ignored)\n"
    "  --app NAME          huawei: the app key (Username); aliyun-pop:\n"
    "                      the AccessKeyId\n"
    "  --url URL           target (aliyun-pop default\n"
    "                      https://dyplsapi.aliyuncs.com/)\n"
    "  --method M          default POST (huawei, aliyun form), GET\n"
    "                      (aliyun query, aliyun-pop)\n"
    "  --param NAME=VALUE  a parameter, repeatable (aliyun: signed;\n"
    "                      huawei: appended to the query, not signed)\n"
    "  --body TEXT         request body (huawei)\n"
    "  --body-file FILE    request body from FILE (- = stdin)\n"
    "  --sample fee        huawei: a generated one-record CDR push as the\n"
    "                      body (unique ids, appKey = --app)\n"
    "  --content-type T    default application/json;charset=UTF-8\n"
    "  --carrier C         aliyun: query (default) or form\n"
    "  --encoder E         aliyun: java (default) or rfc3986\n"
    "  --key K             aliyun: plain (default) or ampersand\n"
    "  --nonce N           instead of a fresh random nonce\n"
    "  --timestamp T       yyyy-MM-ddTHH:mm:ssZ instead of now\n"
    "  --offset SECONDS    shift the signing time (negative: past)\n"
    "  --format F          curl (default), headers, query or http\n"
    "                      (a raw request for `provision-x check`)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit: 0 printed, 2 usage error, 3 I/O error.\n";

namespace {

// Parameters with stable storage, then a core param_list over them.
struct owned_params {
    std::vector<name_value> items;

    void set(const std::string &name, const std::string &value)
    {
        for (auto &p : items) {
            if (p.first == name) {
                p.second = value;
                return;
            }
        }
        items.emplace_back(name, value);
    }

    param_list list() const
    {
        param_list l(items.size() + 1);
        for (const auto &p : items) {
            if (l.add(p.first, p.second) != params_error::ok) {
                throw usage_error("parameter " + p.first
                                  + " given twice or too many parameters");
            }
        }
        return l;
    }
};

std::string
encode(std::string_view s, url_flavour f)
{
    std::string out;
    if (!url_encode(s, f, out)) {
        throw io_error("out of memory");
    }
    return out;
}

std::string
wire_query(const param_list &l, url_flavour f)
{
    std::string q;
    for (const param &p : l) {
        if (!q.empty()) {
            q += '&';
        }
        q += encode(p.name, f);
        q += '=';
        q += encode(p.value, f);
    }
    return q;
}

std::string
with_query(const std::string &url, const std::string &query)
{
    if (query.empty()) {
        return url;
    }
    return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

void
sign_huawei(const sign_input &in, signed_request &r)
{
    if (in.app.empty()) {
        throw usage_error("--app is required for huawei");
    }
    std::string nonce = in.nonce.empty() ? fresh_nonce() : in.nonce;
    std::string created =
        in.timestamp.empty() ? utc_text(in.now) : in.timestamp;
    std::string authorization, x_aksk;

    sig_error e = build_aksk_headers(in.app, in.secret, nonce, created,
                                     authorization, x_aksk);
    if (e == sig_error::bad_input) {
        throw usage_error("app, nonce or timestamp would be refused by the "
                          "receiver (nonce: [0-9A-Za-z]{1,128}, timestamp: "
                          "yyyy-MM-ddTHH:mm:ssZ)");
    }
    if (e != sig_error::ok) {
        throw io_error(std::string("signing failed: ")
                       + std::string(describe(e)));
    }
    owned_params q;
    q.items = in.params;
    r.query = wire_query(q.list(), url_flavour::rfc3986);
    r.method = in.method.empty() ? "POST" : in.method;
    r.url = with_query(in.url, r.query);
    r.headers.emplace_back("Authorization", authorization);
    r.headers.emplace_back("X-AKSK", x_aksk);
    if (in.has_body) {
        r.headers.emplace_back("Content-Type",
                               in.content_type.empty()
                                   ? "application/json;charset=UTF-8"
                                   : in.content_type);
        r.body = in.body;
        r.has_body = true;
    }
}

void
sign_aliyun(const sign_input &in, signed_request &r)
{
    xmode_options opt;
    opt.flavour =
        in.encoder == "rfc3986" ? url_flavour::rfc3986 : url_flavour::java;
    opt.key_ampersand = in.key == "ampersand";

    owned_params p;
    p.set("signatureMethod", "HMAC-SHA1");
    p.set("signatureVersion", "1.0");
    p.set("format", "JSON");
    p.set("signatureNonce", in.nonce.empty() ? fresh_nonce() : in.nonce);
    p.set("timestamp", in.timestamp.empty() ? utc_text(in.now) : in.timestamp);
    for (const auto &kv : in.params) {
        p.set(kv.first, kv.second);
    }

    param_list l = p.list();
    std::string scratch, signature;
    sig_error e = xmode_sign(l, in.secret, opt, scratch, signature);
    if (e != sig_error::ok) {
        throw io_error(std::string("signing failed: ")
                       + std::string(describe(e)));
    }
    p.set(std::string(xmode_signature_param), signature);

    std::string query = wire_query(p.list(), opt.flavour);
    if (in.carrier == "form") {
        r.method = in.method.empty() ? "POST" : in.method;
        r.url = in.url;
        r.headers.emplace_back("Content-Type",
                               in.content_type.empty()
                                   ? "application/x-www-form-urlencoded"
                                   : in.content_type);
        r.body = query;
        r.has_body = true;
    } else {
        r.method = in.method.empty() ? "GET" : in.method;
        r.url = with_query(in.url, query);
    }
    r.query = query;
}

void
sign_pop(const sign_input &in, signed_request &r)
{
    if (in.app.empty()) {
        throw usage_error("--app (the AccessKeyId) is required for "
                          "aliyun-pop");
    }
    owned_params p;
    p.set("AccessKeyId", in.app);
    p.set("Format", "JSON");
    p.set("RegionId", "cn-hangzhou");
    p.set("SignatureMethod", "HMAC-SHA1");
    p.set("SignatureNonce", in.nonce.empty() ? fresh_nonce() : in.nonce);
    p.set("SignatureVersion", "1.0");
    p.set("Timestamp", in.timestamp.empty() ? utc_text(in.now) : in.timestamp);
    p.set("Version", "2017-05-25");
    for (const auto &kv : in.params) {
        p.set(kv.first, kv.second);
    }

    r.method = in.method.empty() ? "GET" : in.method;
    std::string scratch;
    sig_error e = pop_sign(r.method, p.list(), in.secret, scratch, r.query);
    if (e == sig_error::bad_input) {
        throw usage_error("--method must be 1-16 upper-case letters");
    }
    if (e != sig_error::ok) {
        throw io_error(std::string("signing failed: ")
                       + std::string(describe(e)));
    }
    r.url = with_query(
        in.url.empty() ? "https://dyplsapi.aliyuncs.com/" : in.url, r.query);
}

} // namespace

signed_request
sign_request(const sign_input &in)
{
    signed_request r;
    if (in.dialect != "aliyun-pop" && in.url.empty()) {
        throw usage_error("--url is required");
    }
    if (in.dialect == "huawei") {
        sign_huawei(in, r);
    } else if (in.dialect == "aliyun") {
        sign_aliyun(in, r);
    } else if (in.dialect == "aliyun-pop") {
        sign_pop(in, r);
    } else {
        throw usage_error("--dialect must be huawei, aliyun or aliyun-pop");
    }
    return r;
}

std::string
format_curl(const signed_request &r)
{
    std::string s = "curl -sS -i --fail-with-body -X " + shell_quote(r.method)
                    + " " + shell_quote(r.url);
    for (const auto &h : r.headers) {
        s += " \\\n    -H " + shell_quote(h.first + ": " + h.second);
    }
    if (r.has_body) {
        s += " \\\n    --data-binary " + shell_quote(r.body);
    }
    return s + "\n";
}

std::string
format_http(const signed_request &r)
{
    std::string target = r.url;
    auto scheme = target.find("://");
    if (scheme != std::string::npos) {
        auto slash = target.find('/', scheme + 3);
        target = slash == std::string::npos ? "/" : target.substr(slash);
    }
    std::string s = r.method + " " + target + " HTTP/1.1\r\n";
    for (const auto &h : r.headers) {
        s += h.first + ": " + h.second + "\r\n";
    }
    if (r.has_body) {
        s += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    s += "\r\n";
    if (r.has_body) {
        s += r.body;
    }
    return s;
}

int
run_sign(int argc, char **argv)
{
    options o(argc, argv,
              {"dialect", "secret-file", "app", "url", "method", "param",
               "body", "body-file", "content-type", "carrier", "encoder", "key",
               "nonce", "timestamp", "offset", "format", "sample"},
              {"help"});
    if (o.has("help")) {
        std::cout << sign_help;
        return exit_ok;
    }
    if (!o.positional().empty()) {
        throw usage_error("unexpected argument " + o.positional().front());
    }

    sign_input in;
    in.dialect = o.choice("dialect", "", {"huawei", "aliyun", "aliyun-pop"});
    in.secret = read_secret(o.require("secret-file"));
    in.app = o.get("app", "");
    in.url = o.get("url", "");
    in.method = o.get("method", "");
    for (const auto &a : o.all("param")) {
        name_value kv;
        split_param(a, kv.first, kv.second);
        in.params.push_back(kv);
    }
    if (o.has("body") && o.has("body-file")) {
        throw usage_error("--body and --body-file exclude each other");
    }
    if (o.has("body")) {
        in.body = o.get("body", "");
        in.has_body = true;
    } else if (o.has("body-file")) {
        in.body = read_file(o.get("body-file", ""));
        in.has_body = true;
    }
    if (o.has("sample")) {
        o.choice("sample", "", {"fee"});
        if (in.has_body || in.dialect != "huawei") {
            throw usage_error("--sample fee is a huawei body; it excludes "
                              "--body");
        }
        std::string run = fresh_nonce().substr(0, 12);
        sample_rng r(std::hash<std::string>()(run));
        in.body = "{\"eventType\":\"fee\",\"feeLst\":["
                  + fee_info(r, in.app.empty() ? "demo-huawei" : in.app, run, 1,
                             now_epoch())
                  + "]}";
        in.has_body = true;
    }
    if (in.has_body && in.dialect != "huawei") {
        throw usage_error("--body is for huawei; aliyun signs --param");
    }
    in.content_type = o.get("content-type", "");
    in.carrier = o.choice("carrier", "query", {"query", "form"});
    in.encoder = o.choice("encoder", "java", {"java", "rfc3986"});
    in.key = o.choice("key", "plain", {"plain", "ampersand"});
    in.nonce = o.get("nonce", "");
    in.timestamp = o.get("timestamp", "");
    in.now =
        now_epoch() + o.number("offset", 0, -86400LL * 3650, 86400LL * 3650);

    std::string format =
        o.choice("format", "curl", {"curl", "headers", "query", "http"});
    signed_request r = sign_request(in);

    if (format == "curl") {
        std::cout << format_curl(r);
    } else if (format == "http") {
        std::cout << format_http(r);
    } else if (format == "query") {
        if (r.query.empty()) {
            throw usage_error("this request has no query string; use "
                              "--format headers");
        }
        std::cout << r.query << "\n";
    } else {
        if (r.headers.empty()) {
            throw usage_error("this request has no headers; use "
                              "--format query");
        }
        for (const auto &h : r.headers) {
            std::cout << h.first << ": " << h.second << "\n";
        }
    }
    return exit_ok;
}

} // namespace provision_x::cli
