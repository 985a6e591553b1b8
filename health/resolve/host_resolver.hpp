// Looking up one host name without blocking the thread that asks: getaddrinfo runs on Asio's
// resolver thread and cannot be interrupted, so the caller waits on its own deadline timer and the
// answer wakes it. Shared by the Patroni API client and the poller's member addresses.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace patroxy::health {

/// The answer to one lookup: the addresses in the order the resolver gave them, or why there
/// are none.
struct lookup_result {
    std::error_code error;
    std::vector<asio::ip::tcp::endpoint> endpoints;
};

/// Starts a lookup of `host` (port `port`) and calls `done` exactly once with the answer, on the
/// executor the host_resolver runs on, or at once from inside the call. The default runs
/// getaddrinfo on Asio's resolver thread; tests pass their own to script the answers.
using lookup_fn =
    std::function<void(const std::string& host, std::uint16_t port, std::function<void(lookup_result)> done)>;

/// The lookups of one host:port, one at a time. A lookup that outlives a deadline is not
/// started again by the next resolve(): that one waits for the answer already on its way, so a
/// name server that hangs never piles lookups up on the resolver thread.
///
/// Not thread-safe: use it from one thread (or strand); it must outlive every resolve() it started.
class host_resolver {
public:
    /// `lookup` empty: asio::ip::tcp::resolver (getaddrinfo on Asio's resolver thread).
    host_resolver(asio::any_io_executor ex, std::string host, std::uint16_t port, lookup_fn lookup = {});
    host_resolver(const host_resolver&) = delete;
    host_resolver& operator=(const host_resolver&) = delete;
    ~host_resolver();

    /// The addresses of the host, never an empty list without an error. Waits on `deadline`,
    /// whose expiry the caller has set (it may hold a longer phase's deadline, such as a
    /// connect's); the answer cancels that wait to wake the caller. The error is the lookup's own
    /// (asio::error::host_not_found, ...), asio::error::timed_out when the deadline passed first,
    /// or asio::error::operation_aborted when cancel() or the timer's owner cancelled the wait.
    [[nodiscard]] asio::awaitable<lookup_result> resolve(asio::steady_timer& deadline);

    /// Abandons the lookup in flight (its late answer is dropped) and wakes a running resolve().
    void cancel();

    [[nodiscard]] const std::string& host() const noexcept { return host_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

private:
    struct lookup_state;

    std::string host_;
    std::uint16_t port_;
    asio::ip::tcp::resolver resolver_; ///< used by the default lookup only
    lookup_fn lookup_;
    std::shared_ptr<lookup_state> in_flight_; ///< the lookup not answered yet, if any
};

} // namespace patroxy::health
