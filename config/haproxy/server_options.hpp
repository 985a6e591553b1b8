// The options of `server` and `default-server` lines, each kept with the line that set it. A
// server's effective options are its defaults section's default-server, then its own section's,
// then its own line, later ones winning field by field, as in HAProxy.
#pragma once

#include "config/haproxy/report.hpp"
#include "config/haproxy/values.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace patroxy::config::haproxy {

struct server_options {
    std::optional<located<bool>> check; ///< `check` / `no-check`
    std::optional<located<std::uint16_t>> port; ///< the check's port: the member's Patroni REST API
    std::optional<located<std::string>> addr;   ///< the check's address when not the server's
    std::optional<located<duration>> inter;
    std::optional<located<duration>> fastinter;
    std::optional<located<unsigned>> fall;
    std::optional<located<unsigned>> rise;
    std::optional<located<bool>> shutdown_sessions;        ///< on-marked-down shutdown-sessions
    std::optional<located<bool>> shutdown_backup_sessions; ///< on-marked-up shutdown-backup-sessions
    std::optional<located<bool>> backup;
    std::optional<located<bool>> disabled;
    std::optional<located<std::uint32_t>> weight;
    std::optional<located<std::uint32_t>> maxconn;
    std::optional<located<std::string>> resolvers;
    std::optional<located<bool>> check_ssl; ///< the check (the API leg) over TLS
    std::optional<located<bool>> ssl;       ///< the traffic itself over TLS: refused where it is set
    std::optional<located<std::string>> verify; ///< "none" or "required"
    std::optional<located<std::string>> ca_file;
    std::optional<located<std::string>> crt;
};

/// `into` with every option `over` sets replaced by `over`'s.
void merge(server_options& into, const server_options& over);

/// Reads the option words `words[first..]` of a `server` or `default-server` line at `line` into
/// `out`. Options patroxy has no use for are warnings naming why; unknown options and options
/// that would change where or how patroxy connects (send-proxy, track, source, …) are errors.
void read_server_options(const std::vector<std::string>& words, std::size_t first, unsigned line,
                         server_options& out, report& r);

} // namespace patroxy::config::haproxy
