// A client session: startup, routing, connect, relay and close, as one coroutine on one worker.
// README.md "Session lifecycle" has the diagram.
#pragma once

#include "config/config.hpp"
#include "proxy/admin/runtime_facts.hpp"
#include "health/cluster_snapshot.hpp"
#include "proxy/net/io_types.hpp"

#include <asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace patroxy::proxy {

class cancel_registry;
class worker;
class worker_pool;
struct listener_runtime;

/// What every session shares: settings and process-wide tables. Outlives all sessions.
struct session_env {
    config::timeouts timeouts;
    std::uint32_t max_message = 0;
    unsigned retries = 0;
    cancel_registry& cancels;
    /// Every worker, to wake the clients queued for a member's slot when one frees on another
    /// worker; null (tests) wakes only the session's own worker.
    worker_pool* workers = nullptr;
    std::atomic<std::uint64_t> next_session_id{1};
    /// The global max_connections (config::max_connections; 0 = none), changed by a reload, and
    /// the client connections open on every listener, counted against it.
    std::atomic<std::uint32_t> max_connections{0};
    std::atomic<std::uint32_t> active_sessions{0};
    // CancelRequests by what became of them, for the stats listener.
    std::atomic<std::uint64_t> cancels_forwarded{0};
    std::atomic<std::uint64_t> cancels_unknown_key{0};
    std::atomic<std::uint64_t> cancels_failed{0};
    /// Unknown keys sent to every server of the listener that holds an opaque TLS session.
    std::atomic<std::uint64_t> cancels_broadcast{0};
    /// log.sessions: one line per session (and per CancelRequest) at its close; a reload may
    /// flip it.
    std::atomic<bool> log_sessions{true};
};

/// Starts serving an accepted client, from `peer`, on `owner` (the worker whose context the
/// socket uses). Callable from any thread.
void start_session(tcp_socket client, const asio::ip::tcp::endpoint& peer, listener_runtime& listener,
                   worker& owner, session_env& env);

/// A slot of a member of `listener` has freed: wakes the session on `owner` that has waited
/// longest for such a slot, if any, to try again; the others wait on. (Waking them all, as a new
/// snapshot does, cost every queued session a new plan per freed slot: quadratic in a storm.)
/// `listener` is compared by address only. Runs on `owner`'s thread.
void wake_slot_waiter(worker& owner, const listener_runtime* listener);

/// Closes the sessions on `owner` whose member may no longer serve their listener under
/// `current` (kill_policy.hpp). Runs on `owner`'s thread, right after it installed `current`.
void close_sessions_leaving(worker& owner, const health::snapshot_ptr& previous, const health::snapshot_ptr& current);

/// After an operator set a member ready (`current` is the snapshot the workers already have):
/// closes the sessions on backups of listeners with shutdown_backup_sessions that have a
/// non-backup member again. The signature of worker_pool::after_install. Runs on `owner`'s thread.
void close_replaced_backup_sessions(worker& owner, const health::snapshot_ptr& previous,
                                    const health::snapshot_ptr& current);

/// Closes the sessions on `owner` connected to `member` through `listener` (every listener when
/// null): an operator put the member in maintenance. Runs on `owner`'s thread.
void close_sessions_in_maintenance(worker& owner, const listener_runtime* listener, const std::string& member);

/// The live sessions on `owner`, for the runtime API's `show sess`. Runs on `owner`'s thread.
[[nodiscard]] std::vector<admin::session_row> describe_sessions(worker& owner);

} // namespace patroxy::proxy
