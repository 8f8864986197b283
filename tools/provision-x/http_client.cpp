#include "http_client.hpp"
#include "args.hpp"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <new>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace provision_x::cli {

http_url
parse_http_url(const std::string &url)
{
    http_url u;
    u.url = url;
    std::string rest;
    if (url.compare(0, 7, "http://") == 0) {
        rest = url.substr(7);
    } else if (url.compare(0, 8, "https://") == 0) {
        rest = url.substr(8);
        u.tls = true;
        u.port = "443";
    } else {
        throw usage_error("--url must start with http:// or https://");
    }
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos) {
        u.target = rest.substr(slash);
    }
    if (!authority.empty() && authority[0] == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) {
            throw usage_error("bad IPv6 address in --url");
        }
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                throw usage_error("bad --url authority");
            }
            u.port = authority.substr(close + 2);
        }
    } else {
        auto colon = authority.find(':');
        u.host = authority.substr(0, colon);
        if (colon != std::string::npos) {
            u.port = authority.substr(colon + 1);
        }
    }
    if (u.host.empty() || u.port.empty()
        || u.port.find_first_not_of("0123456789") != std::string::npos)
    {
        throw usage_error("bad host or port in --url " + url);
    }
    return u;
}

namespace {

bool
loopback(const sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(sa);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        auto *in6 = reinterpret_cast<const sockaddr_in6 *>(sa);
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

// The address the request goes to, checked against --allow-remote; curl
// is then pinned to it, so a second lookup cannot lead elsewhere.
std::string
checked_address(const http_url &url, bool allow_remote)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *ai = nullptr;
    int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &ai);
    if (rc != 0) {
        throw usage_error("cannot resolve " + url.host + ": "
                          + gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(ai, freeaddrinfo);
    if (!allow_remote && !loopback(ai->ai_addr)) {
        throw usage_error(url.host
                          + " is not a loopback address; pass "
                            "--allow-remote to push to it");
    }
    char text[NI_MAXHOST];
    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof(text), nullptr,
                     0, NI_NUMERICHOST);
    if (rc != 0) {
        throw usage_error("cannot resolve " + url.host + ": "
                          + gai_strerror(rc));
    }
    return ai->ai_family == AF_INET6 ? "[" + std::string(text) + "]" : text;
}

bool
numeric_host(const std::string &host)
{
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1
           || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// libcurl calls this from C: nothing may escape.
extern "C" size_t
collect_body(char *data, size_t size, size_t n, void *user) noexcept
{
    try {
        static_cast<std::string *>(user)->append(data, size * n);
        return size * n;
    } catch (...) {
        return 0; // curl stops the transfer with CURLE_WRITE_ERROR
    }
}

// A failure in the words the simulator's summary groups attempts by: the
// same cause gives the same text (curl's own messages carry timings).
std::string
describe_failure(CURL *curl, CURLcode rc, const char *detail)
{
    long os_errno = 0;
    curl_off_t connected = 0;
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);

    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return std::string("connect: ")
               + (os_errno ? std::strerror(static_cast<int>(os_errno))
                           : "failed");
    case CURLE_OPERATION_TIMEDOUT:
        return connected > 0 ? "response: timed out" : "connect: timed out";
    case CURLE_GOT_NOTHING:
        return "connection closed without a response";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return std::string(rc == CURLE_SEND_ERROR ? "send: " : "recv: ")
               + (os_errno ? std::strerror(static_cast<int>(os_errno))
                           : curl_easy_strerror(rc));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return std::string("TLS: ")
               + (*detail ? detail : curl_easy_strerror(rc));
    default:
        return *detail ? detail : curl_easy_strerror(rc);
    }
}

struct curl_handle {
    CURL *curl = curl_easy_init();
    curl_slist *headers = nullptr;

    ~curl_handle()
    {
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
    }

    void add_header(const std::string &line)
    {
        curl_slist *l = curl_slist_append(headers, line.c_str());
        if (l == nullptr) {
            throw std::bad_alloc();
        }
        headers = l;
    }
};

} // namespace

http_response
http_send(const http_url &url, const std::string &method,
          const std::vector<std::pair<std::string, std::string>> &headers,
          const std::string &body, const http_client_options &opt)
{
    std::string address = checked_address(url, opt.allow_remote);

    curl_handle h;
    if (h.curl == nullptr) {
        throw io_error("libcurl could not start");
    }
    CURL *c = h.curl;

    // A name is pinned to the address checked; the name stays in the URL
    // for Host, SNI and the certificate check.  Addresses need no pin.
    curl_slist *resolve = nullptr;
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> pinned(
        nullptr, curl_slist_free_all);
    if (!numeric_host(url.host)) {
        std::string pin = url.host + ":" + url.port + ":" + address;
        resolve = curl_slist_append(nullptr, pin.c_str());
        if (resolve == nullptr) {
            throw std::bad_alloc();
        }
        pinned.reset(resolve);
    }

    for (const auto &hv : headers) {
        h.add_header(hv.first + ": " + hv.second);
    }
    h.add_header("Expect:"); // the whole body at once, as the platform does
    h.add_header("Connection: close");

    http_response res;
    char detail[CURL_ERROR_SIZE] = "";
    long timeout_ms = static_cast<long>(opt.timeout * 1e3);

    curl_easy_setopt(c, CURLOPT_URL, url.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (resolve != nullptr) {
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    }
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "provision-x");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h.headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &res.body);
    if (method == "POST" || !body.empty()) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(body.size()));
    }
    if (method != "POST" && method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (opt.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!opt.cacert.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, opt.cacert.c_str());
    }

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        res.error = describe_failure(c, rc, detail);
        res.body.clear();
        return res;
    }

    long status = 0;
    curl_off_t micros = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &micros);
    res.status = static_cast<int>(status);
    res.seconds = static_cast<double>(micros) / 1e6;
    if (res.status < 100 || res.status > 999) {
        res.status = 0;
        res.error = "malformed response";
    }
    return res;
}

std::string
http_client_version()
{
    return curl_version();
}

} // namespace provision_x::cli
