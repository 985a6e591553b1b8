// Reading a TCP option back from a socket, for tests that check what patroxy set.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace patroxy::test {

/// Whether the int-valued TCP-level `option` (TCP_NODELAY, TCP_INQ) is on for `fd`.
inline bool tcp_option_on(int fd, int option)
{
    int value = 0;
    socklen_t length = sizeof value;
    return ::getsockopt(fd, IPPROTO_TCP, option, &value, &length) == 0 && value != 0;
}

} // namespace patroxy::test
