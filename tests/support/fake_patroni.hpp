// A scriptable stand-in for one Patroni member's REST API (fault injection for the health tests):
// its own thread and io_context, 127.0.0.1 on a free port, answering like Patroni 3.0.2 by default
// (HTTP/1.0, JSON, Content-Length, close), over HTTPS when asked (restapi.certfile, optionally
// verify_client: required) and behind basic auth when asked. Plus builders for Patroni-shaped JSON bodies.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace patroxy::test {

/// How the fake misbehaves; applies to requests that arrive after the setter returned.
enum class patroni_fault {
    none,           ///< answer normally
    delay,          ///< wait the configured delay, then answer normally
    hang,           ///< read the request, never answer (the connection stays open until the client closes)
    http_500,       ///< "HTTP/1.0 500 Internal Server Error" with a small JSON body
    garbage,        ///< bytes that are not HTTP, then close
    close_mid_body, ///< headers announcing Content-Length 1000, 10 body bytes, close
    refuse,         ///< not listening (acceptor closed, open connections closed); cleared -> listens on the same port again
};

/// HTTPS for the fake, as Patroni's restapi.certfile / keyfile / cafile + verify_client.
struct fake_patroni_tls {
    std::string cert_file; ///< PEM chain the fake presents
    std::string key_file;
    /// Non-empty: a client certificate chaining to this CA is required (verify_client: required).
    std::string client_ca_file;
    /// Python's ssl module (so Patroni) sets a session id context. Without one, an OpenSSL server
    /// that verifies client certificates answers every resumption attempt with an alert.
    bool session_id_context = true;
};

/// One fake Patroni member. All setters and counters are thread-safe.
class fake_patroni {
public:
    /// Binds 127.0.0.1:0 and starts serving plain HTTP on its own thread.
    fake_patroni();
    /// The same over TLS: every connection starts with a TLS handshake. Throws when the
    /// certificate or key does not load.
    explicit fake_patroni(const fake_patroni_tls& tls);
    fake_patroni(const fake_patroni&) = delete;
    fake_patroni& operator=(const fake_patroni&) = delete;
    /// Stops the thread; open connections are dropped.
    ~fake_patroni();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// "http://127.0.0.1:<port>" ("https://" over TLS), the shape of a member's `api` in patroxy's config.
    [[nodiscard]] std::string api_url() const;

    /// Body of `GET /patroni` (default: a running replica from patroni_json({})).
    void set_patroni_body(std::string json);
    /// Body of `GET /cluster` (default: {"members": []}).
    void set_cluster_body(std::string json);
    /// Status of `GET /patroni` and `GET /cluster` (default 200, as Patroni always answers them).
    void set_status(int status);
    /// Answer for another path (query ignored), e.g. "/primary" -> 200. Unlisted paths get
    /// Patroni's generic answer: 503 with the /patroni body.
    void set_route(std::string path, int status, std::string body);
    /// Changes the fault mode; `delay` is used by patroni_fault::delay. Entering or leaving
    /// `refuse` takes effect before this returns (throws if the port cannot be bound again).
    void set_fault(patroni_fault fault, std::chrono::milliseconds delay = std::chrono::milliseconds{0});
    /// true: answer HTTP/1.1 and keep the connection for more requests (newer Patroni behind a
    /// keep-alive capable server); false (default): Patroni 3.0.2's HTTP/1.0 and close.
    void set_keep_alive(bool keep_alive);
    /// false: send no Content-Length, so the body ends at close (Python's BaseHTTPRequestHandler
    /// without the header); the connection then always closes.
    void set_content_length(bool send);
    /// Non-empty: a request whose Authorization header is not exactly `value` (e.g. "Basic
    /// cGF0cm9uaTpzZWNyZXQ=") gets 401 with a WWW-Authenticate challenge, as Patroni's
    /// restapi.authentication answers. Empty (default): no check.
    void set_required_authorization(std::string value);

    /// Complete requests received for `path` (query ignored), counted before any fault applies.
    [[nodiscard]] std::size_t request_count(std::string_view path) const;
    [[nodiscard]] std::size_t total_requests() const;
    /// TCP connections accepted so far.
    [[nodiscard]] std::size_t connections_accepted() const;
    /// Requests answered 401 by set_required_authorization().
    [[nodiscard]] std::size_t unauthorized_requests() const;
    /// TLS handshakes that failed on the fake's side (no or an untrusted client certificate, a
    /// client that gave up), and those that resumed an earlier session.
    [[nodiscard]] std::size_t tls_handshakes_failed() const;
    [[nodiscard]] std::size_t tls_sessions_resumed() const;
    void reset_counts();
    /// Waits up to `timeout` until request_count(path) >= n; true when reached.
    [[nodiscard]] bool wait_for_requests(std::string_view path, std::size_t n, std::chrono::milliseconds timeout) const;

private:
    struct route {
        int status = 200;
        std::string body;
    };
    struct answer_plan;

    explicit fake_patroni(std::unique_ptr<asio::ssl::context> tls);
    /// Runs `f` on the server thread and waits for it (rethrowing its exception).
    void run_on_server(std::function<void()> f);
    /// One of the counters below, read under the mutex.
    [[nodiscard]] std::size_t counter(const std::size_t& value) const;
    /// Counts the request of `head` and decides its answer.
    [[nodiscard]] answer_plan plan_for(std::string_view head);

    class server; // the coroutines; they only touch what the io thread owns

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    route patroni_;
    route cluster_;
    std::map<std::string, route, std::less<>> routes_;
    patroni_fault fault_ = patroni_fault::none;
    std::chrono::milliseconds delay_{0};
    bool keep_alive_ = false;
    bool content_length_ = true;
    std::string required_authorization_;
    std::map<std::string, std::size_t, std::less<>> counts_;
    std::size_t total_requests_ = 0;
    std::size_t connections_ = 0;
    std::size_t unauthorized_ = 0;
    std::size_t tls_failed_ = 0;
    std::size_t tls_resumed_ = 0;

    std::unique_ptr<asio::ssl::context> tls_; ///< null: plain HTTP; set before the thread starts
    asio::io_context io_;
    std::unique_ptr<server> server_; ///< acceptor and live connections; used on the io thread only
    std::uint16_t port_ = 0;
    std::thread thread_;
};

/// One entry of the leader's `replication` list in GET /patroni.
struct patroni_replication {
    std::string application_name;
    std::string state = "streaming";
    std::string sync_state = "async";
    int sync_priority = 0;
    std::string usename = "replicator";
    std::string client_addr = "127.0.0.1";
};

/// What GET /patroni of one member reports (PATRONI-NOTES.md, Patroni 3.0.2).
struct patroni_member {
    /// "master" (3.0.2's leader), "primary" (newer Patroni), "replica", "standby_leader".
    std::string role = "replica";
    std::string state = "running";
    /// false: the shrunken body of a member whose PostgreSQL is down (state, role,
    /// dcs_last_seen, database_system_identifier, patroni).
    bool postgres_running = true;
    std::int64_t timeline = 1;
    std::uint64_t xlog_location = 67309440;     ///< leader: xlog.location
    std::uint64_t received_location = 67309440; ///< replica: xlog.received_location
    std::uint64_t replayed_location = 67309440; ///< replica: xlog.replayed_location
    bool paused = false;                        ///< replica: xlog.paused
    bool cluster_unlocked = false;              ///< no leader key in the DCS
    nlohmann::json tags = nlohmann::json::object(); ///< e.g. {"nofailover": true}; omitted when empty
    std::vector<patroni_replication> replication;   ///< leader only; omitted when empty
    std::string scope = "demo";
    std::string version = "3.0.2";
    std::int64_t server_version = 150018;
};

/// One member in GET /cluster.
struct cluster_member {
    std::string name;
    std::string role = "replica"; ///< "leader", "replica", "sync_standby", "standby_leader"
    std::string state = "running";
    std::string api_url;          ///< e.g. "http://127.0.0.1:8441/patroni"
    std::string host = "127.0.0.1";
    std::uint16_t port = 5432;
    std::int64_t timeline = 1;
    nlohmann::json lag = nullptr; ///< bytes or "unknown"; omitted when null (as for the leader)
    nlohmann::json tags = nlohmann::json::object(); ///< omitted when empty
};

/// The GET /patroni document for `m`.
[[nodiscard]] nlohmann::json patroni_json(const patroni_member& m);
/// The GET /cluster document; `pause` adds Patroni's top-level "pause": true.
[[nodiscard]] nlohmann::json cluster_json(const std::vector<cluster_member>& members, bool pause = false);

} // namespace patroxy::test
