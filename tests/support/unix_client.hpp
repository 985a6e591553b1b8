// Blocking Unix-socket clients for the runtime API tests (header-only): connect, listen (to play
// another process's live socket), and one exchange read until the server closes, every wait
// bounded.
#pragma once

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace patroxy::test {

[[nodiscard]] inline sockaddr_un unix_address(const std::string& path)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), std::min(path.size(), sizeof address.sun_path - 1));
    return address;
}

/// A stream socket connected to `path`, or -1.
[[nodiscard]] inline int unix_connect(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto address = unix_address(path);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
}

/// A socket listening at `path` (bound and listening, never accepting), or -1.
[[nodiscard]] inline int unix_listen(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto address = unix_address(path);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 && ::listen(fd, 4) == 0)
        return fd;
    if (fd >= 0) ::close(fd);
    return -1;
}

/// Connects to `path`, sends `input`, and reads until the server closes: what it read. nullopt
/// when the connection fails or is still open after `limit`.
[[nodiscard]] inline std::optional<std::string> unix_exchange(const std::string& path, std::string_view input,
                                                              std::chrono::milliseconds limit)
{
    const int fd = unix_connect(path);
    if (fd < 0) return std::nullopt;
    (void)::send(fd, input.data(), input.size(), MSG_NOSIGNAL);
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd pfd{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0) {
            ::close(fd);
            return std::nullopt;
        }
        std::array<char, 4096> buffer{};
        const auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0) break; // closed (or reset: the server closed with input unread)
        out.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

} // namespace patroxy::test
