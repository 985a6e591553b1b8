// What the runtime API reports beyond the stats view, as plain values the running proxy fills:
// the process (`show info`) and the live sessions (`show sess`). Kept apart from the commands so
// that the session layer can list its sessions without knowing the commands.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace patroxy::proxy::admin {

/// The process, for `show info`.
struct process_info {
    std::string node;                    ///< the host name (HAProxy's `node`)
    unsigned threads = 1;                ///< event-loop threads serving sessions (Nbthread)
    std::uint64_t max_connections = 0;   ///< sessions the process takes at most (Maxconn)
    std::uint64_t fd_limit = 0;          ///< RLIMIT_NOFILE (Ulimit-n)
    std::chrono::system_clock::time_point started{}; ///< Start_time_sec
    std::uint64_t listening = 0;         ///< listening sockets: listeners, stats, this one (Listeners)
    bool stopping = false;               ///< draining after SIGTERM (Stopping)
};

/// One live client session, for `show sess`.
struct session_row {
    std::uint64_t id = 0;   ///< the id its log lines carry (session=<id>)
    std::string client;     ///< "127.0.0.1:47900", "[::1]:47900"
    bool ipv6 = false;      ///< the client came over IPv6 (HAProxy's proto=tcpv6)
    std::string listener;   ///< its listener's name
    std::string member;     ///< the member it is connected or connecting to; "" before the choice
    std::chrono::seconds age{}; ///< since the accept
    std::string user;       ///< from its StartupMessage; "" before it (or for a CancelRequest)
    std::string database;
};

} // namespace patroxy::proxy::admin
