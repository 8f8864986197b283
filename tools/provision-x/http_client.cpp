#include "http_client.hpp"
#include "args.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace provision_x::cli {

http_url
parse_http_url(const std::string &url)
{
    const std::string scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0) {
        throw usage_error("--url must start with http:// (no TLS here)");
    }
    http_url u;
    std::string rest = url.substr(scheme.size());
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
    if (u.host.empty() || u.port.empty() ||
        u.port.find_first_not_of("0123456789") != std::string::npos) {
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

using clock_type = std::chrono::steady_clock;

int
remaining_ms(clock_type::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - clock_type::now())
                    .count();
    return left < 0 ? 0 : static_cast<int>(left);
}

bool
wait_fd(int fd, short events, clock_type::time_point deadline)
{
    pollfd p{fd, events, 0};
    for (;;) {
        int n = poll(&p, 1, remaining_ms(deadline));
        if (n > 0) {
            return true;
        }
        if (n == 0 || errno != EINTR) {
            return false;
        }
    }
}

// Parses status line, headers and body (Content-Length, chunked or close).
bool
parse_response(const std::string &raw, http_response &res)
{
    auto end = raw.find("\r\n\r\n");
    if (end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) {
        return false;
    }
    auto sp = raw.find(' ');
    if (sp == std::string::npos || sp > end) {
        return false;
    }
    res.status = std::atoi(raw.c_str() + sp + 1);
    std::string head = raw.substr(0, end);
    for (char &c : head) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string body = raw.substr(end + 4);
    if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
        std::string out;
        std::size_t pos = 0;
        for (;;) {
            auto eol = body.find("\r\n", pos);
            if (eol == std::string::npos) {
                return false;
            }
            std::size_t n = std::strtoul(body.c_str() + pos, nullptr, 16);
            if (n == 0) {
                break;
            }
            if (eol + 2 + n > body.size()) {
                return false;
            }
            out.append(body, eol + 2, n);
            pos = eol + 2 + n + 2;
        }
        body = out;
    }
    res.body = body;
    return res.status >= 100 && res.status <= 999;
}

} // namespace

http_response
http_send(const http_url &url, const std::string &method,
          const std::vector<std::pair<std::string, std::string>> &headers,
          const std::string &body, const http_client_options &opt)
{
    http_response res;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *ai = nullptr;
    int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &ai);
    if (rc != 0) {
        throw usage_error("cannot resolve " + url.host + ": " +
                          gai_strerror(rc));
    }
    if (!opt.allow_remote && !loopback(ai->ai_addr)) {
        freeaddrinfo(ai);
        throw usage_error(url.host + " is not a loopback address; pass "
                                     "--allow-remote to push to it");
    }

    auto start = clock_type::now();
    auto deadline =
        start + std::chrono::milliseconds(static_cast<long>(opt.timeout * 1e3));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        res.error = std::string("socket: ") + std::strerror(errno);
        return res;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS) {
        res.error = std::string("connect: ") + std::strerror(errno);
        close(fd);
        return res;
    }
    if (rc != 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (!wait_fd(fd, POLLOUT, deadline)) {
            res.error = "connect: timed out";
            close(fd);
            return res;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            res.error = std::string("connect: ") + std::strerror(err);
            close(fd);
            return res;
        }
    }

    std::string req = method + " " + url.target +
                      " HTTP/1.1\r\nHost: " + url.host + ":" + url.port +
                      "\r\nConnection: close\r\nUser-Agent: provision-x\r\n";
    for (const auto &h : headers) {
        req += h.first + ": " + h.second + "\r\n";
    }
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    req += body;

    std::size_t sent = 0;
    while (sent < req.size()) {
        ssize_t n =
            send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                res.error = "send: timed out";
                close(fd);
                return res;
            }
        } else {
            res.error = std::string("send: ") + std::strerror(errno);
            close(fd);
            return res;
        }
    }

    std::string raw;
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            raw.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (!wait_fd(fd, POLLIN, deadline)) {
                res.error = "response: timed out";
                close(fd);
                return res;
            }
        } else {
            res.error = std::string("recv: ") + std::strerror(errno);
            close(fd);
            return res;
        }
    }
    close(fd);
    res.seconds =
        std::chrono::duration<double>(clock_type::now() - start).count();
    if (!parse_response(raw, res)) {
        res.status = 0;
        res.error = raw.empty() ? "connection closed without a response"
                                : "malformed response";
    }
    return res;
}

} // namespace provision_x::cli
