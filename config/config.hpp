// The validated, typed configuration every other part reads. Produced only by the loaders in
// this folder; nothing starts on a config that did not validate.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config {

using duration = std::chrono::milliseconds;

/// host:port as written in the config (names are resolved by whoever connects or binds).
struct endpoint {
    std::string host;
    std::uint16_t port = 0;

    bool operator==(const endpoint&) const = default;
};

/// One PostgreSQL server / Patroni member.
struct member {
    std::string name;
    std::string host;
    std::uint16_t port = 5432;
    std::string api; ///< Patroni REST base URL, e.g. "http://10.0.1.10:8008"; may be empty for static use
    /// Share of new sessions relative to the other members of a listener (HAProxy's `weight`,
    /// 0..256); 0 takes no new sessions.
    std::uint32_t weight = 100;

    bool operator==(const member&) const = default;
};

/// Which members a listener routes to when it follows Patroni (DESIGN.md "Listener roles"), each
/// with the meaning of the Patroni endpoint named beside it.
enum class listener_role {
    primary,        ///< /primary: the one leader, out of recovery, agreed by DCS and by itself
    replica,        ///< /replica
    read_only,      ///< /read-only: the primary (or standby leader) and eligible replicas
    sync,           ///< /synchronous
    async,          ///< /asynchronous
    standby_leader, ///< /standby-leader: a standby cluster's leader
    any,            ///< /health: every running member that answers its checks
};

enum class balance_mode {
    roundrobin,
    leastconn,
    first,
    source, ///< a consistent hash of the client's address (HAProxy's `balance source`)
};

/// What happens to a replica's live sessions when it falls behind max_lag.
enum class lag_action {
    keep,     ///< no new sessions, current ones go on (the default)
    shutdown, ///< close its sessions too
};

/// What a listener does with a client's SSLRequest (and a direct TLS handshake).
enum class tls_mode {
    passthrough, ///< pick the backend now, forward the request, relay TLS opaquely if it says 'S'
    disable,     ///< answer 'N'; the client goes on in plaintext
    terminate,   ///< answer 'S' and end TLS at patroxy: every message stays visible
};

/// Whether a terminating listener also takes plaintext clients.
enum class client_tls_mode {
    prefer,  ///< TLS when the client asks for it, plaintext otherwise
    require, ///< a plaintext StartupMessage is refused (FATAL 28000), as PostgreSQL's hostssl
};

/// TLS on the leg from patroxy to the server, with libpq's sslmode meanings.
enum class server_tls_mode {
    disable,     ///< never: the startup goes in plaintext
    prefer,      ///< SSLRequest; on 'N' go on in plaintext; the certificate is not checked
    require,     ///< SSLRequest; 'N' fails the server; the certificate is not checked
    verify_ca,   ///< require, and the certificate chains to tls.server_ca
    verify_full, ///< verify-ca, and the certificate names the server (tls.server_name or the member's host)
};

/// Whether a terminating listener asks clients for a certificate.
enum class client_verify_mode {
    none,     ///< no certificate asked for
    optional, ///< asked for; one that is sent must chain to client_ca
    required, ///< a client without a certificate that chains to client_ca is refused
};

enum class tls_version { v1_2, v1_3 };

/// TLS material and choices: the top-level "tls" object; a listener's "tls_options" overrides
/// any key for that listener. Paths are PEM files, read when a listener starts and again on
/// SIGHUP; live sessions keep what they started with.
struct tls_settings {
    std::string cert;      ///< chain patroxy presents to clients (and on the stats listener)
    std::string key;       ///< its private key
    std::string client_ca; ///< CAs client certificates must chain to
    client_verify_mode client_verify = client_verify_mode::none;
    std::string server_ca;   ///< CAs the servers' certificates must chain to (verify-ca, verify-full)
    std::string server_cert; ///< a client certificate patroxy presents to servers (optional)
    std::string server_key;
    std::string server_name; ///< the name verify-full expects; empty: the member's host
    tls_version min_version = tls_version::v1_2;
    std::string ciphers;      ///< TLS 1.2 cipher list (OpenSSL syntax); empty: OpenSSL's default
    std::string ciphersuites; ///< TLS 1.3 suites; empty: OpenSSL's default
    /// Session tickets on the client leg (patroxy is the server there), so a reconnecting client
    /// skips the full handshake; the ticket key rotates every ticket_lifetime.
    bool session_tickets = true;
    duration ticket_lifetime = std::chrono::hours(1);
    std::string api_ca;   ///< CAs for https:// Patroni APIs; empty: the system's trust store
    std::string api_cert; ///< a client certificate for the Patroni API (restapi.verify_client)
    std::string api_key;

    bool operator==(const tls_settings&) const = default;
};

/// One member's settings on one listener (HAProxy's per-`server` options, which belong to a
/// section, not to the server: the same member may be a backup on one listener only).
struct member_options {
    std::optional<std::uint32_t> weight; ///< overrides member::weight on this listener
    /// Takes sessions only while no non-backup member is eligible (HAProxy's `backup`).
    bool backup = false;
    /// Live sessions this member takes from this listener; 0 = no limit (HAProxy's server
    /// `maxconn`). When every eligible member is full, a new client waits in the queue.
    std::uint32_t max_connections = 0;
    /// Starts in maintenance (HAProxy's `disabled`); the stats page or the runtime API brings it back.
    bool disabled = false;

    bool operator==(const member_options&) const = default;
};

/// The admin (runtime API) socket: HAProxy's `stats socket`.
enum class admin_level {
    user,     ///< show commands only
    operator_,///< show, and clear counters
    admin,    ///< everything, including enable/disable/set server
};

struct admin_socket_settings {
    std::string path;              ///< a Unix socket path
    std::optional<unsigned> mode;  ///< permission bits (e.g. 0660); nullopt: the umask decides
    std::string user;              ///< owner to set; empty: the process's
    std::string group;
    admin_level level = admin_level::admin; ///< HAProxy's default for a stats socket is operator; patroxy's JSON default is admin
    duration timeout = std::chrono::seconds(10); ///< an idle connection is closed after this

    bool operator==(const admin_socket_settings&) const = default;
};

struct listener {
    std::string name;
    endpoint bind;
    /// Static routing: member names from cluster.members. Empty when `role` is set.
    std::vector<std::string> servers;
    std::optional<listener_role> role;
    balance_mode balance = balance_mode::roundrobin;
    tls_mode tls = tls_mode::passthrough;
    client_tls_mode client_tls = client_tls_mode::prefer;
    /// Default: prefer on a terminating listener, disable otherwise.
    server_tls_mode server_tls = server_tls_mode::disable;
    tls_settings tls_options; ///< the top-level tls object with this listener's overrides applied
    std::uint32_t max_connections = 10000;
    duration queue_timeout = std::chrono::seconds(30);
    std::optional<std::uint64_t> max_lag; ///< bytes
    bool fallback_to_primary = false;
    lag_action on_lag = lag_action::keep;
    /// Patroni's `tag_<name>=<value>` filter: only members whose tag `name` is published with
    /// this value (as text; `true` tags as "true") are eligible. Empty: no filter.
    std::map<std::string, std::string> tags;
    /// role primary only: a standby cluster's leader is eligible too (Patroni's /leader, which
    /// answers 200 on the holder of the leader lock, standby or not).
    bool standby_leader = false;
    /// Per member (by name): backup, weight, maxconn, disabled on this listener.
    std::map<std::string, member_options> member_settings;
    /// When a non-backup member becomes eligible again, close the sessions on backup members
    /// (HAProxy's `on-marked-up shutdown-backup-sessions`).
    bool shutdown_backup_sessions = false;

    bool operator==(const listener&) const = default; ///< a reload replaces a listener that differs
};

/// Where a configured password came from: the key that gave it. --print-config writes the same
/// key back, so a password kept in a file or in the environment is never copied into its output.
struct secret_origin {
    enum class kind {
        inline_text, ///< "password": the text itself is in the config
        file,        ///< "password_file": the file's content, one trailing newline dropped
        env,         ///< "password_env": the environment variable's value
    };
    kind from = kind::inline_text;
    std::string name; ///< the file's path or the variable's name; empty for inline_text

    bool operator==(const secret_origin&) const = default;
};

/// Optional libpq confirmation that the leader is out of recovery, as a monitoring user.
struct sql_check_settings {
    std::string user;
    std::string password;
    secret_origin password_origin{};
    std::string database = "postgres";

    bool operator==(const sql_check_settings&) const = default;
};

struct health_settings {
    duration interval = std::chrono::seconds(1);
    duration fast_interval = std::chrono::milliseconds(100);
    duration timeout = std::chrono::seconds(1);
    unsigned fall = 3;
    unsigned rise = 2;
    std::optional<sql_check_settings> sql_check;

    bool operator==(const health_settings&) const = default;
};

struct stats_auth {
    std::string user;
    std::string password; ///< empty when password_hash is set
    secret_origin password_origin{};
    /// A crypt(3) SHA-512 hash ("$6$[rounds=N$]salt$hash", HAProxy's userlist `password`): the
    /// password given is checked against it, and the password itself is kept nowhere.
    std::string password_hash{};

    bool operator==(const stats_auth&) const = default;
};

struct stats_settings {
    endpoint bind;
    /// Where the HTML page is served (HAProxy's `stats uri`); the other routes are relative to
    /// nothing and stay where they are (/stats.json, /stats.csv, /metrics, /health).
    std::string uri = "/";
    duration refresh = std::chrono::seconds(10);
    std::optional<stats_auth> auth;
    std::string realm = "patroxy"; ///< the Basic auth realm
    /// Admin forms (drain/maint) accepted: HAProxy's `stats admin if TRUE`. nullopt: when auth is set.
    std::optional<bool> admin;
    bool hide_version = false; ///< the page does not show patroxy's version
    bool tls = false;         ///< HTTPS, with tls_options' cert and key (and client_ca/client_verify)
    tls_settings tls_options; ///< the top-level tls object with the stats object's overrides

    bool operator==(const stats_settings&) const = default;
};

struct timeouts {
    duration connect = std::chrono::seconds(4);
    duration startup = std::chrono::seconds(10);
    duration client_idle = std::chrono::minutes(30);
    duration server_idle = std::chrono::minutes(30);

    bool operator==(const timeouts&) const = default;
};

struct limits {
    /// Largest regular message accepted in either direction, length word included.
    /// PostgreSQL's own limit for most messages is 1 GB.
    std::uint32_t max_message = 1024u * 1024u * 1024u;

    bool operator==(const limits&) const = default;
};

/// How verbose the log is: lines below the level are dropped.
enum class log_level { debug, info, warning, error };

/// How each log line is written: "<time> <LEVEL> <text>" or one JSON object per line.
enum class log_format { text, json };

/// The `log` object: how patroxy writes its log (stderr, or journald under systemd).
struct log_settings {
    log_level level = log_level::info; ///< the command line's --log-level wins over it
    log_format format = log_format::text;
    /// One line per client session at its close, like HAProxy's `option tcplog`. On by default
    /// in the native format (README.md "Logging" says why); a haproxy.cfg turns it on with
    /// `option tcplog` only, as HAProxy does.
    bool sessions = true;
    /// Writes with no primary to go to for longer than this is an error line: Patroni's defaults
    /// (ttl 30 s, loop_wait 10 s) elect a new leader within 40 s of a crash, and a planned
    /// switchover within seconds, so past it something needs a person.
    duration no_primary_alarm = std::chrono::seconds(40);

    bool operator==(const log_settings&) const = default;
};

/// Basic auth for the Patroni REST API (Patroni's restapi.authentication).
struct api_auth {
    std::string user;
    std::string password;
    secret_origin password_origin{};

    bool operator==(const api_auth&) const = default;
};

struct config {
    std::string scope;
    std::vector<member> members;
    bool discover = false;
    /// How often member host names are resolved again, so a container that comes back with a
    /// new address is followed; nullopt: every health.interval. (HAProxy's `hold valid`.)
    std::optional<duration> resolve_interval;
    std::optional<patroxy::config::api_auth> api_auth; ///< sent with every Patroni API request
    tls_settings tls;                 ///< the top-level tls object
    health_settings health;
    std::vector<listener> listeners;
    std::optional<stats_settings> stats;
    // Qualified: a member named like its type must not use the unqualified name (changes meaning).
    patroxy::config::timeouts timeouts;
    patroxy::config::limits limits;
    std::optional<admin_socket_settings> admin_socket;
    log_settings log;
    /// Client sessions across all listeners; 0 = no limit beyond each listener's (HAProxy's global `maxconn`).
    std::uint32_t max_connections = 0;
    unsigned workers = 0;  ///< event-loop threads; 0 = one per core
    unsigned retries = 2;  ///< further members tried after a failed backend connect

    /// The member with this name, or nullptr.
    const member* find_member(std::string_view name) const noexcept;

    /// Field by field; what tests of the readers and the writer compare.
    bool operator==(const config&) const = default;
};

/// One problem in a config file: where (JSON pointer such as "/listeners/1/bind") and what was
/// expected there.
struct config_error {
    std::string path;
    std::string message;
};

/// "<path>: <message>", or just the message for whole-file problems.
std::string to_string(const config_error& e);

struct load_result {
    std::optional<config> value;      ///< set iff errors is empty
    std::vector<config_error> errors; ///< all problems found, not just the first
    /// Directives read but without effect (haproxy.cfg), each "file:line: why"; the config is
    /// still valid. Printed by `patroxy -c` and logged at start and on reload.
    std::vector<std::string> warnings;
};

/// Parses and validates native JSON config text.
[[nodiscard]] load_result parse_config(std::string_view json_text);

/// Reads a file and parses it: as haproxy.cfg when its first meaningful line is a section keyword
/// (config/haproxy/haproxy_reader.hpp), as JSON otherwise. An unreadable file is one error with
/// an empty path.
[[nodiscard]] load_result load_config_file(const std::string& path);

/// "250ms", "1s", "5m", "2h" -> duration; nullopt when malformed or negative. A whole number and
/// a unit, no space; a bare "0" is accepted. Values too large for std::chrono::nanoseconds are
/// rejected too, so callers can convert to any clock's duration without overflow.
std::optional<duration> parse_duration(std::string_view text);

/// "512B", "16kB", "1MB", "2GB" (1 kB = 1024 B, as PostgreSQL) -> bytes; nullopt when malformed.
/// Units are case-sensitive as in PostgreSQL, no space before the unit; a bare "0" is accepted.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The inverse of parse_duration(): `d` in the largest unit that holds it exactly ("1500ms",
/// "90s", "2h"), "0" for zero. `d` must not be negative; no config holds one.
std::string duration_text(duration d);

/// The inverse of parse_size(): the largest unit that holds `bytes` exactly ("16kB", "1536B"),
/// "0" for zero.
std::string size_text(std::uint64_t bytes);

/// Added: "host:port" or "[v6-address]:port" -> endpoint; nullopt unless the host is non-empty
/// (brackets required around IPv6 addresses) and the port is 1..65535.
std::optional<endpoint> parse_endpoint(std::string_view text);

/// Added: the endpoint as it would be written in the config, "[::1]:5000" for IPv6.
std::string to_string(const endpoint& e);

/// Canonical names as accepted in the config ("read-only", not "read_only"); aliases such as
/// "leader" map back to "primary".
std::string_view to_string(listener_role r) noexcept;
std::string_view to_string(balance_mode b) noexcept;
std::string_view to_string(tls_mode t) noexcept;
std::string_view to_string(client_tls_mode t) noexcept;
std::string_view to_string(server_tls_mode t) noexcept;
std::string_view to_string(client_verify_mode v) noexcept;
std::string_view to_string(tls_version v) noexcept;
std::string_view to_string(lag_action a) noexcept;
std::string_view to_string(admin_level l) noexcept;
std::string_view to_string(log_level l) noexcept;
std::string_view to_string(log_format f) noexcept;

} // namespace patroxy::config
