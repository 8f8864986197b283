// provision-x: command-line tools for interface debugging (接口调试).
// Dispatches to the sub-commands and maps their errors to exit codes.

#include "args.hpp"
#include "check.hpp"
#include "interface_call.hpp"
#include "sign.hpp"
#include "simulate.hpp"

#include "http_client.hpp"

#include <curl/curl.h>

#include <cstring>
#include <exception>
#include <iostream>

namespace {

const char main_help[] =
    "usage: provision-x COMMAND [options]     (COMMAND -h for more)\n"
    "       provision-x --version\n"
    "\n"
    "  sign      print a signed request (curl command, headers, query or\n"
    "            raw HTTP) as Huawei, Aliyun or Aliyun POP signs it\n"
    "  check     verify a captured request step by step and say which\n"
    "            step differs\n"
    "  simulate  act as the platform: push generated CDRs to a gateway,\n"
    "            retrying on the vendor's schedule, and report\n"
    "  interface call the gateway's interface endpoint as an internal\n"
    "            service does (live, or debug: explained, not sent)\n"
    "\n"
    "Exit codes: 0 ok / verifies / all acknowledged / status_code 200,\n"
    "1 does not verify / records not acknowledged / another status_code,\n"
    "2 usage error or bad input, 3 I/O error.\n"
    "\n"
    "man provision-x has the whole manual.\n";

// libcurl's global state, for the life of the process.
struct curl_global {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

    ~curl_global()
    {
        if (rc == CURLE_OK) {
            curl_global_cleanup();
        }
    }
};

} // namespace

int
main(int argc, char **argv)
{
    using namespace provision_x::cli;

    if (argc < 2) {
        std::cerr << main_help;
        return exit_usage;
    }
    const char *cmd = argv[1];
    if (std::strcmp(cmd, "--help") == 0 || std::strcmp(cmd, "-h") == 0
        || std::strcmp(cmd, "help") == 0)
    {
        std::cout << main_help;
        return exit_ok;
    }

    if (std::strcmp(cmd, "--version") == 0 || std::strcmp(cmd, "-V") == 0) {
        std::cout << "provision-x " << PROVISION_X_VERSION << " ("
                  << http_client_version() << ")\n";
        return exit_ok;
    }

    curl_global curl;
    if (curl.rc != CURLE_OK) {
        std::cerr << "provision-x: libcurl could not start: "
                  << curl_easy_strerror(curl.rc) << "\n";
        return exit_io;
    }

    try {
        if (std::strcmp(cmd, "sign") == 0) {
            return run_sign(argc - 2, argv + 2);
        }
        if (std::strcmp(cmd, "check") == 0) {
            return run_check(argc - 2, argv + 2);
        }
        if (std::strcmp(cmd, "simulate") == 0) {
            return run_simulate(argc - 2, argv + 2);
        }
        if (std::strcmp(cmd, "interface") == 0) {
            return run_interface(argc - 2, argv + 2);
        }
        std::cerr << "provision-x: unknown command \"" << cmd << "\"\n\n"
                  << main_help;
        return exit_usage;
    } catch (const usage_error &e) {
        std::cerr << "provision-x " << cmd << ": " << e.what()
                  << "\n(provision-x " << cmd << " --help shows usage)\n";
        return exit_usage;
    } catch (const io_error &e) {
        std::cerr << "provision-x " << cmd << ": " << e.what() << "\n";
        return exit_io;
    } catch (const std::exception &e) {
        std::cerr << "provision-x " << cmd << ": " << e.what() << "\n";
        return exit_io;
    }
}
