#include "proxy/net/nonblocking_sockets.hpp"

#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>

namespace patroxy::proxy {
namespace {

std::error_code errno_code(int value) { return {value, asio::error::get_system_category()}; }

/// Hands `fd`, a non-blocking TCP socket of `protocol`, to `socket`; closes it if that fails.
std::error_code adopt(tcp_socket& socket, const asio::ip::tcp& protocol, int fd)
{
    std::error_code ec;
    socket.assign(protocol, fd, ec);
    if (ec) {
        ::close(fd);
        return ec;
    }
#if PATROXY_ASIO_INTERNALS
    asio_internals::mark_nonblocking_and_unshared(socket);
#else
    socket.non_blocking(true, ec); // already so in the kernel: this only tells Asio
#endif
    return ec;
}

} // namespace

accepted_batch::accepted_batch(accepted_batch&& other) noexcept
    : count_(std::exchange(other.count_, 0)), fds_(other.fds_), peers_(other.peers_)
{
}

accepted_batch::~accepted_batch()
{
    for (std::size_t i = 0; i < count_; ++i)
        if (fds_[i] >= 0) ::close(fds_[i]);
}

accepted_descriptor::~accepted_descriptor()
{
    if (fd_ >= 0) ::close(fd_);
}

std::error_code accepted_descriptor::adopt(tcp_socket& socket)
{
    return proxy::adopt(socket, peer_.protocol(), std::exchange(fd_, -1));
}

bool accepted_batch::fill(int listener, std::error_code& ec) noexcept
{
    ec.clear();
    while (count_ < capacity) {
        auto& peer = peers_[count_];
        socklen_t length = static_cast<socklen_t>(peer.capacity());
        const int fd = ::accept4(listener, peer.data(), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            peer.resize(length);
            fds_[count_++] = fd;
            continue;
        }
        // A client that gave up while queued is skipped, as Asio skips it.
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        ec = errno_code(errno);
        return false;
    }
    return false;
}

std::error_code listen_nonblocking(listening_socket& socket)
{
    if (::listen(socket.native_handle(), SOMAXCONN) != 0) return errno_code(errno);
    std::error_code ec;
    socket.non_blocking(true, ec); // an empty backlog answers EAGAIN
    return ec;
}

std::error_code open_nonblocking(tcp_socket& socket, const asio::ip::tcp& protocol)
{
    const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol.protocol());
    if (fd < 0) return errno_code(errno);
    const auto ec = adopt(socket, protocol, fd);
#if PATROXY_ASIO_INTERNALS
    if (!ec) asio_internals::expect_nothing_to_read(socket); // nothing comes before a connect
#endif
    return ec;
}

} // namespace patroxy::proxy
