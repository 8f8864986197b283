#include "interface_call.hpp"
#include "args.hpp"
#include "http_client.hpp"
#include "io.hpp"

#include <jansson.h>

#include <cstdlib>
#include <iostream>
#include <memory>

namespace provision_x::cli {

const char interface_help[] =
    "usage: provision-x interface --url URL --api-key-file FILE\n"
    "                             --user-id ID --payload JSON [...]\n"
    "\n"
    "Calls the gateway's interface endpoint (provision_x_interface) the\n"
    "way an internal service does: the envelope {mode, config_id,\n"
    "user_id, payload} with the API key as a Bearer token.  Prints the\n"
    "answer as it came.\n"
    "\n"
    "  --url URL           http://host:port/path or https://... of the\n"
    "                      endpoint (loopback only unless --allow-remote)\n"
    "  --api-key-file FILE the API key (provision_x_api_key)\n"
    "  --mode M            debug (default: explain, send nothing) or live\n"
    "  --config-id N       the target's id= (default: the location's)\n"
    "  --user-id ID        who is calling, for tracking (required)\n"
    "  --payload JSON      the payload object, or @FILE, or @- for\n"
    "                      standard input\n"
    "  --timeout S         seconds (default 10)\n"
    "  --cacert FILE       https: trust the CA certificates in FILE (PEM)\n"
    "  --insecure          https: do not verify the certificate\n"
    "  --allow-remote      allow a non-loopback target\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit: 0 the answer's status_code is 200, 1 another status_code,\n"
    "2 usage error, 3 I/O error or no answer.\n";

namespace {

struct json_deleter {
    void operator()(json_t *j) const
    {
        json_decref(j);
    }
};

using json_ptr = std::unique_ptr<json_t, json_deleter>;

} // namespace

std::string
interface_envelope(const std::string &mode, bool has_config_id,
                   long long config_id, const std::string &user_id,
                   const std::string &payload)
{
    json_error_t err;
    json_ptr p(json_loadb(payload.data(), payload.size(),
                          JSON_REJECT_DUPLICATES, &err));

    if (!p) {
        throw usage_error(std::string("--payload is not JSON: ") + err.text);
    }

    if (!json_is_object(p.get())) {
        throw usage_error("--payload must be a JSON object");
    }

    json_ptr e(json_object());
    bool ok =
        e
        && json_object_set_new(e.get(), "mode", json_string(mode.c_str())) == 0;

    if (ok && has_config_id) {
        ok = json_object_set_new(e.get(), "config_id", json_integer(config_id))
             == 0;
    }

    ok = ok
         && json_object_set_new(e.get(), "user_id",
                                json_stringn(user_id.data(), user_id.size()))
                == 0
         && json_object_set(e.get(), "payload", p.get()) == 0;

    std::unique_ptr<char, void (*)(void *)> text(
        ok ? json_dumps(e.get(), JSON_COMPACT | JSON_PRESERVE_ORDER) : nullptr,
        std::free);

    if (!text) {
        throw usage_error("--user-id must be UTF-8");
    }

    return text.get();
}

int
run_interface(int argc, char **argv)
{
    options o(argc, argv,
              {"url", "api-key-file", "mode", "config-id", "user-id", "payload",
               "timeout", "cacert"},
              {"help", "allow-remote", "insecure"});
    if (o.has("help")) {
        std::cout << interface_help;
        return exit_ok;
    }
    if (!o.positional().empty()) {
        throw usage_error("unexpected argument " + o.positional().front());
    }

    http_url url = parse_http_url(o.require("url"));
    std::string key = read_secret(o.require("api-key-file"));
    std::string mode = o.choice("mode", "debug", {"debug", "live"});
    bool has_config_id = o.has("config-id");
    long long config_id = o.number("config-id", 0, -(1LL << 53), (1LL << 53));
    std::string payload = o.require("payload");

    if (!payload.empty() && payload[0] == '@') {
        payload = read_file(payload.substr(1));
    }

    std::string body = interface_envelope(mode, has_config_id, config_id,
                                          o.require("user-id"), payload);

    http_client_options copt;
    copt.timeout = o.real("timeout", 10, 0.01, 600);
    copt.allow_remote = o.has("allow-remote");
    copt.insecure = o.has("insecure");
    copt.cacert = o.get("cacert", "");
    if ((copt.insecure || !copt.cacert.empty()) && !url.tls) {
        throw usage_error("--insecure and --cacert are for https:// URLs");
    }
    if (copt.insecure && !copt.cacert.empty()) {
        throw usage_error("--insecure and --cacert exclude each other");
    }

    http_response res = http_send(url, "POST",
                                  {{"Authorization", "Bearer " + key},
                                   {"Content-Type", "application/json"}},
                                  body, copt);

    if (res.status == 0) {
        std::cerr << "provision-x interface: no answer: " << res.error << "\n";
        return exit_io;
    }

    std::cout << res.body;
    if (res.body.empty() || res.body.back() != '\n') {
        std::cout << "\n";
    }

    return res.status == 200 ? exit_ok : exit_failure;
}

} // namespace provision_x::cli
