#include "proxy/net/socket_options.hpp"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace patroxy::proxy {

std::error_code set_relay_options(int fd) noexcept
{
    const int on = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &on, sizeof on);
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) return {errno, std::system_category()};
    return {};
}

} // namespace patroxy::proxy
