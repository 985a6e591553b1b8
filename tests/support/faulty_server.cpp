#include "tests/support/faulty_server.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace patroxy::test {
namespace {

/// Reads exactly `n` bytes within `timeout_ms`; false on EOF, error or timeout.
bool read_exact(int fd, unsigned char* out, std::size_t n, int timeout_ms)
{
    std::size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got < n) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        const auto r = ::recv(fd, out + got, n - got, 0);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
    }
    return true;
}

/// Reads one startup packet (int32 length, then the rest), whatever it holds.
bool read_startup_packet(int fd)
{
    std::array<unsigned char, 4> head{};
    if (!read_exact(fd, head.data(), head.size(), 3000)) return false;
    const std::uint32_t length = (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) |
                                 (std::uint32_t{head[2]} << 8) | std::uint32_t{head[3]};
    if (length < 8 || length > 10000) return false;
    std::array<unsigned char, 10000> rest{};
    return read_exact(fd, rest.data(), length - 4, 3000);
}

/// Closes with an RST instead of a FIN.
void reset(int fd)
{
    const linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd);
}

} // namespace

faulty_server::faulty_server(server_fault fault) : fault_(fault)
{
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) throw std::runtime_error(std::string("faulty_server socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
        ::close(listener_);
        throw std::runtime_error(std::string("faulty_server bind/listen: ") + std::strerror(errno));
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
}

faulty_server::~faulty_server()
{
    stop_ = true;
    thread_.join();
    ::close(listener_);
}

void faulty_server::run()
{
    // Polls in short steps so that the destructor's stop flag is seen within 50 ms.
    while (!stop_) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++accepted_;
        serve(fd);
    }
}

void faulty_server::serve(int fd) const
{
    switch (fault_) {
    case server_fault::close_at_once: ::close(fd); return;
    case server_fault::reset_at_once: reset(fd); return;
    case server_fault::close_after_startup:
        (void)read_startup_packet(fd);
        ::close(fd);
        return;
    case server_fault::reset_after_startup:
        (void)read_startup_packet(fd);
        reset(fd);
        return;
    case server_fault::auth_then_close:
        if (read_startup_packet(fd)) {
            // AuthenticationCleartextPassword: 'R', length 8, code 3 (PostgreSQL docs, 55.7).
            const std::array<unsigned char, 9> request{'R', 0, 0, 0, 8, 0, 0, 0, 3};
            (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        }
        ::close(fd);
        return;
    }
}

} // namespace patroxy::test
