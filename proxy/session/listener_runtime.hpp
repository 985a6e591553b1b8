// A listener's state as its sessions, the stats and the reload see it: its config, its live
// counters, its per-member counters and admin states, and its TLS contexts. The sockets that
// accept its clients are proxy/net's (listener_sockets), which knows nothing of this.
#pragma once

#include "config/config.hpp"
#include "proxy/routing/kill_policy.hpp"
#include "proxy/routing/route.hpp"
#include "proxy/stats/atomic_histogram.hpp"
#include "proxy/tls/handshake_failure.hpp"
#include "proxy/tls/tls_context.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace patroxy::proxy {


/// Raises `max` to `value` if it is higher (a "highest seen" counter updated from any worker).
template <typename T>
void raise_to(std::atomic<T>& max, T value) noexcept
{
    T seen = max.load(std::memory_order_relaxed);
    while (value > seen && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
}

/// Counters shared by the sessions of one listener (they run on several workers). Relaxed
/// atomics, touched per session (never per message): bytes are added when a session closes.
struct listener_counters {
    std::atomic<std::uint32_t> active{0};         ///< sessions counted against max_connections
    std::atomic<std::uint32_t> active_max{0};     ///< the most seen at once
    std::atomic<std::uint64_t> accepted{0};       ///< connections accepted
    std::atomic<std::uint64_t> routed{0};         ///< round-robin tickets handed out
    std::atomic<std::uint64_t> rejected_limit{0}; ///< over the listener's max_connections: 53300
    std::atomic<std::uint64_t> rejected_global_limit{0}; ///< over the global max_connections: 53300
    /// Every eligible member stayed at its max_connections for queue_timeout: 53300.
    std::atomic<std::uint64_t> rejected_member_limit{0};
    std::atomic<std::uint64_t> rejected_startup{0}; ///< malformed or timed-out startups
    std::atomic<std::uint64_t> rejected_no_server{0}; ///< answered 57P03
    std::atomic<std::uint32_t> queued{0};         ///< sessions waiting for an eligible member now
    std::atomic<std::uint32_t> queued_max{0};     ///< the most seen waiting at once
    std::atomic<std::uint64_t> queued_total{0};   ///< sessions that had to wait, ever
    stats::atomic_histogram queue_wait{stats::queue_wait_bounds}; ///< per queued session, its total wait
    std::array<std::atomic<std::uint64_t>, kill_kind_count> killed{}; ///< by kill_kind
    std::atomic<std::uint64_t> bytes_in{0};       ///< client -> server, added while relaying (at most 1 s late) and at close
    std::atomic<std::uint64_t> bytes_out{0};      ///< server -> client, likewise
    /// TLS handshakes patroxy did, by leg (tls_leg): clients of a terminating listener, servers
    /// under server_tls; and the failed ones by leg and kind.
    std::array<std::atomic<std::uint64_t>, 2> tls_handshakes{};
    std::array<std::array<std::atomic<std::uint64_t>, tls::handshake_failure_count>, 2> tls_failures{};
    std::atomic<std::uint64_t> rejected_plaintext{0}; ///< client_tls: require, answered 28000
    std::atomic<std::uint64_t> rejected_direct_tls{0}; ///< direct-TLS clients of a listener that cannot take them
    /// Times accepting paused because accept() failed (out of descriptors): proxy/net/accept_backoff.hpp.
    std::atomic<std::uint64_t> accept_pauses{0};
};

/// The two legs of a session, for the TLS counters.
enum class tls_leg : std::size_t { client = 0, server = 1 };

/// One member as a server of one listener (HAProxy's server row), by snapshot member index.
struct server_counters {
    std::atomic<std::uint32_t> sessions_max{0};   ///< the most live sessions at once
    std::atomic<std::uint64_t> sessions_total{0}; ///< sessions connected to it
    std::atomic<std::uint64_t> lb_total{0};       ///< times the balancer chose it (each connect attempt)
    std::atomic<std::int64_t> last_session_ns{0}; ///< steady_clock time of the last new session; 0 = never
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> errors_conn{0};    ///< connects refused, timed out, or answered with an early FATAL
    std::atomic<std::uint64_t> errors_resp{0};    ///< sessions ended by a server error or malformed server message
    std::atomic<std::uint64_t> killed{0};
    stats::atomic_histogram connect_time{stats::connect_time_bounds};
    /// Live sessions whose leg to this server is encrypted: by patroxy (server_tls) or by the
    /// client itself, relayed opaquely (passthrough).
    std::atomic<std::uint32_t> tls_live{0};
    /// Of those, the opaque ones: their cancel keys are unknown, so a cancel with an unknown key
    /// on this listener goes to every server holding one.
    std::atomic<std::uint32_t> opaque_live{0};
};

/// The TLS contexts of a listener's sessions. A reload builds a new set (re-reading the files)
/// and swaps it in whole; a session keeps the set it started with.
struct listener_tls {
    tls::context_ptr client_leg; ///< patroxy as the TLS server (tls: terminate); null otherwise
    tls::context_ptr server_leg; ///< patroxy as the servers' TLS client; null with server_tls: disable
};

struct listener_runtime {
    config::listener cfg;
    std::size_t index = 0; ///< position in config, the index into snapshot eligibility
    /// Its members can change (a role, or servers with a Patroni API), so a client may be held
    /// for a better snapshot; a purely static listener fails at once.
    bool can_queue = false;
    listener_counters counters;
    /// Live sessions per member (connecting ones included), for leastconn and the members'
    /// max_connections. Counted per version of the listener: after a reload that replaced it,
    /// the sessions the old version still carries do not count against the new one's limits.
    member_session_counts member_sessions{};
    std::array<server_counters, max_tracked_members> servers;
    member_admin_states admin{}; ///< drain/maint set from the stats page (and `disabled` members)
    /// Admin states the config asks for (member_settings' `disabled`: true = maint, false =
    /// ready), by member name, until the member has a snapshot index. Control thread only.
    std::map<std::string, bool> pending_disabled;
    /// Read by a session once, when it first needs TLS; replaced by a reload.
    std::atomic<std::shared_ptr<const listener_tls>> tls;
    /// Removed from the config by a reload: no longer accepting, kept while its sessions live.
    /// Control thread only.
    bool retired = false;
};

} // namespace patroxy::proxy
