// A loopback TCP server that fails a new connection the way a dying PostgreSQL member does: it
// closes or resets at once, or after reading the startup packet, or after sending an
// authentication request. For the tests of what patroxy retries and what it passes on.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

namespace patroxy::test {

/// How each accepted connection ends.
enum class server_fault {
    close_at_once,       ///< accept, then close (FIN) before reading anything
    reset_at_once,       ///< accept, then reset (RST) before reading anything
    close_after_startup, ///< read the startup packet, then close: a backend that exits while reading it
    reset_after_startup, ///< read the startup packet, then reset
    auth_then_close,     ///< read the startup packet, send AuthenticationCleartextPassword, then close
};

/// Listens on 127.0.0.1 (a port the kernel picks) from construction to destruction, on a thread of
/// its own that serves one connection at a time with `fault`. Every wait is bounded.
class faulty_server {
public:
    explicit faulty_server(server_fault fault);
    faulty_server(const faulty_server&) = delete;
    faulty_server& operator=(const faulty_server&) = delete;
    ~faulty_server();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// Connections accepted so far.
    [[nodiscard]] std::size_t accepted() const noexcept { return accepted_.load(); }

private:
    void run();
    void serve(int fd) const;

    server_fault fault_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> accepted_{0};
    std::thread thread_;
};

} // namespace patroxy::test
