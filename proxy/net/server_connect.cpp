#include "proxy/net/server_connect.hpp"

#include "proxy/net/nonblocking_sockets.hpp"
#include "proxy/net/socket_options.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/socket.h>

namespace patroxy::proxy {
namespace {

std::error_code errno_code(int value) { return {value, asio::error::get_system_category()}; }

} // namespace

connect_progress start_connect(tcp_socket& socket, const asio::ip::tcp::endpoint& endpoint, std::error_code& ec)
{
    ec.clear();
    std::error_code ignored;
    socket.close(ignored); // a previous attempt's socket
    ec = open_nonblocking(socket, endpoint.protocol());
    if (ec) return connect_progress::failed;
    (void)set_relay_options(socket.native_handle());
    if (::connect(socket.native_handle(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0)
        return connect_progress::connected;
    if (errno != EINPROGRESS) {
        ec = errno_code(errno);
        return connect_progress::failed;
    }
    pollfd ready{socket.native_handle(), POLLOUT, 0};
    if (::poll(&ready, 1, 0) <= 0) return connect_progress::in_progress;
    if ((ready.revents & (POLLERR | POLLHUP)) != 0) {
        ec = connect_outcome(socket);
        if (!ec) ec = asio::error::connection_aborted; // hung up without saying why
        return connect_progress::failed;
    }
    return connect_progress::connected;
}

std::error_code connect_outcome(tcp_socket& socket)
{
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno_code(errno);
    return error == 0 ? std::error_code{} : errno_code(error);
}

} // namespace patroxy::proxy
