// The optional SQL check: asks a member's PostgreSQL `SELECT pg_is_in_recovery()` as a monitoring
// user, with non-blocking libpq driven by the event loop, so a leader is confirmed out of recovery
// by PostgreSQL itself and not only by Patroni's word (DESIGN.md, "What goes wrong there" 2).
#pragma once

#include "config/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace patroxy::health {

/// What one SQL check found.
struct sql_probe_result {
    bool ok = false;                      ///< the query answered; in_recovery is meaningful
    std::string error{};                  ///< why not, when !ok ("timeout after 1000 ms", libpq's message, ...)
    bool in_recovery = false;             ///< pg_is_in_recovery(), when ok
    std::chrono::milliseconds duration{}; ///< from the start of the connection to the answer (or the failure)
};

/// Connects to `host`:`port` as `settings` (application_name patroxy-health), runs
/// `SELECT pg_is_in_recovery()` and disconnects, all within `timeout`. Never blocks the thread:
/// libpq runs in non-blocking mode and the socket is awaited on `ex`. Pass an IP literal as
/// `host`, because libpq resolves a host name with a blocking getaddrinfo(). Failures come back
/// as values, never as exceptions (short of std::bad_alloc).
[[nodiscard]] asio::awaitable<sql_probe_result> probe_recovery(asio::any_io_executor ex, std::string host,
                                                               std::uint16_t port, config::sql_check_settings settings,
                                                               std::chrono::milliseconds timeout);

} // namespace patroxy::health
