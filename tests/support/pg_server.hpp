// A real PostgreSQL 15 server for the integration tier (PgBouncer's test-fixture idea): initdb into a
// fresh temp dir, postgres on 127.0.0.1 with a free port and trust auth, removed again afterwards.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "tests/support/patroxy_process.hpp"

namespace patroxy::test {

/// Where the Debian postgresql-15 package puts its server binaries.
inline constexpr std::string_view pg_bin_dir = "/usr/lib/postgresql/15/bin";

struct pg_server_options {
    /// ssl = on, with a self-signed certificate made by the `openssl` CLI in the data dir, or
    /// with ssl_cert_file and ssl_key_file when they are set (copied into the data dir).
    bool ssl = false;
    std::string ssl_cert_file;
    std::string ssl_key_file;
    /// pg_hba.conf lines put before the fixture's "trust" ones (e.g. a scram-sha-256 user).
    std::vector<std::string> hba;
    /// Extra postgresql.conf lines ("name = value"); later lines win over the fixture's defaults.
    std::vector<std::string> settings;
};

/// One postgres server. The constructor returns once it accepts connections (bounded PQping
/// polling) and throws with the server log otherwise. As root (CI), initdb and postgres run as the
/// `postgres` OS user and the temp dir is chowned to it. The destructor stops the postmaster by the
/// PID it forked (SIGINT = fast shutdown, then SIGQUIT, then SIGKILL) and removes the temp dir.
class pg_server {
public:
    explicit pg_server(pg_server_options options = {});
    /// Starts several servers at once (their initdb and startup overlap); all are ready on return.
    [[nodiscard]] static std::vector<std::unique_ptr<pg_server>> start_many(const std::vector<pg_server_options>& options);
    pg_server(const pg_server&) = delete;
    pg_server& operator=(const pg_server&) = delete;
    ~pg_server();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
    [[nodiscard]] pid_t pid() const noexcept { return postmaster_.pid(); }
    /// libpq conninfo for this server as the superuser `postgres`; `extra` is appended.
    [[nodiscard]] std::string conninfo(std::string_view extra = {}) const;
    /// The server's log so far (its stderr).
    [[nodiscard]] std::string log() const;

private:
    struct deferred {};
    /// Makes the temp dir and spawns initdb without waiting for it.
    pg_server(pg_server_options options, deferred);
    /// Waits for initdb, writes postgresql.conf (and the certificate), spawns postgres.
    void start_postmaster();
    /// Bounded PQping polling until the server accepts connections.
    void wait_ready();
    void stop();
    [[nodiscard]] std::string data_dir() const { return dir_ + "/data"; }

    pg_server_options options_;
    std::string dir_;
    std::uint16_t port_ = 0;
    subprocess initdb_;
    subprocess postmaster_;
};

/// libpq conninfo for 127.0.0.1:`port` (a server or a patroxy listener) as user `postgres`,
/// database `postgres`; `extra` is appended ("sslmode=require", ...).
[[nodiscard]] std::string conninfo_for(std::uint16_t port, std::string_view extra = {});

/// One of two servers (index 0 or 1) shared by all tests of a binary, both with ssl = on, started
/// on first use and stopped at exit, so the suite pays for initdb only twice.
[[nodiscard]] pg_server& shared_pg_server(std::size_t index);

/// A patroxy config whose members pg1 and pg2 are the two shared servers, with `listeners`.
[[nodiscard]] proxy_config shared_cluster_config(std::vector<listener_spec> listeners);

struct pq_conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct pq_result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using pq_conn = std::unique_ptr<PGconn, pq_conn_deleter>;
using pq_result = std::unique_ptr<PGresult, pq_result_deleter>;

/// PQconnectdb wrapped; check PQstatus() yourself, a failed connection is returned too.
[[nodiscard]] inline pq_conn pq_connect(const std::string& conninfo) { return pq_conn(PQconnectdb(conninfo.c_str())); }

/// PQexec wrapped.
[[nodiscard]] inline pq_result pq_exec(PGconn* c, const std::string& sql) { return pq_result(PQexec(c, sql.c_str())); }

/// The SQLSTATE and message of the ErrorResponse an idle session received (libpq hands it to
/// the notice receiver while no query is under way), such as patroxy's 57P01 before a kill.
[[nodiscard]] std::pair<std::string, std::string> idle_error(PGconn* c);

/// The first column of the first row of `sql`; throws std::runtime_error with libpq's message when
/// the query fails or returns no row.
[[nodiscard]] std::string query_value(PGconn* c, const std::string& sql);

// Probes of sessions through a patroxy listener, for the routing and stats tests.

/// A libpq session through a patroxy listener (plaintext).
[[nodiscard]] pq_conn connect_via(std::uint16_t listener_port);

/// The server port a session is on (`inet_server_port()`), or nullopt when it is not usable.
[[nodiscard]] std::optional<std::uint16_t> server_port(PGconn* c);

/// A session through `listener_port` that landed on the server at `pg_port` (round-robin may need
/// a few tries), or a null handle.
[[nodiscard]] pq_conn session_on(std::uint16_t listener_port, std::uint16_t pg_port, int tries = 8);

/// The servers `n` new sessions through `listener_port`, one after another, reach (0: refused).
[[nodiscard]] std::multiset<std::uint16_t> servers_reached(std::uint16_t listener_port, std::size_t n);

/// True once the session's socket has something to read (data or EOF) within `timeout`: an idle
/// session only gets that when patroxy ends it.
[[nodiscard]] bool becomes_readable(PGconn* c, std::chrono::milliseconds timeout);

} // namespace patroxy::test
