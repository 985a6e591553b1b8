// A connection storm: N clients that each connect, run one query and disconnect, their connects
// started evenly within a spread (2,000 within one second is what application pools do after a
// failover), all from one thread on libpq's non-blocking API. Every client ends in one outcome.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace patroxy::bench {

struct storm_options {
    std::string conninfo;                       ///< libpq conninfo of the target (use hostaddr: no DNS)
    std::size_t clients = 2000;
    std::chrono::milliseconds spread{1000};     ///< the connects start evenly within this
    std::chrono::milliseconds client_timeout{60000}; ///< a client still unfinished then is a hang
    std::string query = "SELECT 1";
};

/// How one client ended.
struct client_result {
    /// "served", "sqlstate XXXXX" (an ErrorResponse while connecting or from the query), "closed"
    /// (the server closed without an ErrorResponse), "refused", "hang" (client_timeout), or
    /// "other" (anything else; `detail` says what).
    std::string outcome;
    std::string detail;                  ///< the first line of libpq's message, for failures
    std::chrono::microseconds started{}; ///< from the storm's start
    std::chrono::microseconds ended{};   ///< from the storm's start
};

struct storm_report {
    std::vector<client_result> clients;   ///< by client number
    std::chrono::microseconds last_start{}; ///< when the last connect started (how close to `spread`)
    std::size_t peak_open = 0;            ///< the most connections open at once
};

/// Runs the storm to its end: every client served, refused or past client_timeout. Raises the
/// process's descriptor limit to its hard limit first; throws std::runtime_error when that is still
/// below what the clients need.
[[nodiscard]] storm_report run_storm(const storm_options& options);

/// The outcome of a connection or query failure from libpq's verbose message ("FATAL:  57P03: ...").
[[nodiscard]] std::string classify_failure(const std::string& message);

} // namespace patroxy::bench
