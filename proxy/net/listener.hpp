// A listener: its config, its live counters, and the accept loop that hands each new client to
// the least-loaded worker.
#pragma once

#include "config/config.hpp"
#include "proxy/routing/route.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace patroxy::proxy {

class worker_pool;
struct session_env;

/// Counters shared by the sessions of one listener (they run on several workers).
struct listener_counters {
    std::atomic<std::uint32_t> active{0};         ///< sessions counted against max_connections
    std::atomic<std::uint64_t> accepted{0};       ///< connections accepted
    std::atomic<std::uint64_t> routed{0};         ///< round-robin tickets handed out
    std::atomic<std::uint64_t> rejected_limit{0}; ///< answered 53300
    std::atomic<std::uint64_t> rejected_startup{0}; ///< malformed or timed-out startups
    std::atomic<std::uint64_t> rejected_no_server{0}; ///< answered 57P03
    std::atomic<std::uint32_t> queued{0};         ///< sessions waiting for an eligible member now
    std::atomic<std::uint64_t> queue_wait_ms{0};  ///< total time sessions spent queued
    std::atomic<std::uint64_t> killed{0};         ///< sessions closed because their member left
    std::atomic<std::uint64_t> bytes_in{0};       ///< client -> server, added at session close
    std::atomic<std::uint64_t> bytes_out{0};      ///< server -> client, added at session close
};

struct listener_runtime {
    config::listener cfg;
    std::size_t index = 0; ///< position in config, the index into snapshot eligibility
    /// Its members can change (a role, or servers with a Patroni API), so a client may be held
    /// for a better snapshot; a purely static listener fails at once.
    bool can_queue = false;
    listener_counters counters;
    member_session_counts member_sessions{}; ///< live sessions per member, for leastconn
};

/// Accepts forever on `acceptor` (until it is closed), spawning a session per connection.
asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, listener_runtime& listener, worker_pool& workers,
                                  session_env& env);

} // namespace patroxy::proxy
