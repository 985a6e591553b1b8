// The Patroni poller: asks every member `GET /patroni` once per interval (once for all
// listeners), asks a healthy member `GET /cluster` for the DCS view, and publishes a new
// ClusterSnapshot after every answer. While the leader is missing or failing it polls every
// fast_interval, so a new leader is routed a fraction of a second after Patroni promotes it.
// Members given by host name are looked up again every resolve_interval (else every interval).
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"
#include "health/http/http_client.hpp"
#include "health/patroni/patroni_status.hpp"
#include "health/resolve/host_resolver.hpp"
#include "health/snapshot/derive_snapshot.hpp"
#include "health/snapshot/incident_levels.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace patroxy::health {

class patroni_poller {
public:
    /// Receives every new snapshot, on the poller's executor.
    using publish_fn = std::function<void(const snapshot_ptr&)>;
    /// Receives one line per event worth an operator's attention. `level` is "info", "warning"
    /// or "error"; `kind` names what happened, for the stats page's event list: "member_up",
    /// "member_down", "leader", "incident", "discovered", "sql_check", "dcs", "polling",
    /// "resolve", "config", "bug".
    using event_fn = std::function<void(std::string_view level, std::string_view kind, const std::string& text)>;
    /// Builds the client-side TLS context for https:// APIs from the config's tls settings
    /// (api_ca, api_cert, api_key, min_version); nullptr and `error` when a file does not load.
    /// The proxy passes proxy/tls's make_api_context: health holds no TLS policy of its own.
    using api_tls_fn =
        std::function<std::shared_ptr<asio::ssl::context>(const config::tls_settings& settings, std::string& error)>;

    /// `make_api_tls` is called when the first https:// member appears and again on every
    /// reconfigure(); without it an https:// member is reported and not checked. `lookup` looks
    /// up members' PostgreSQL host names (empty: getaddrinfo on Asio's resolver thread); tests
    /// pass their own to script the answers.
    patroni_poller(asio::any_io_executor executor, const config::config& cfg, publish_fn publish, event_fn event,
                   api_tls_fn make_api_tls = {}, lookup_fn lookup = {});
    patroni_poller(const patroni_poller&) = delete;
    patroni_poller& operator=(const patroni_poller&) = delete;

    /// Starts one check loop per member with an API, one address loop per member given by host
    /// name, and the DCS loop. Publishes a first snapshot at once (members never checked: static
    /// listeners route, role listeners wait; members by host name wait for their first answer).
    void start();
    /// Stops the loops (they end at their next wake-up).
    void stop();

    /// Applies a reloaded config (SIGHUP): the listeners (eligibility is derived for them, in
    /// the order given, from the next snapshot on), the health settings (from each loop's next
    /// check), `discover`, and members new by name (checked from now on). Members removed from
    /// the config or changed keep their place, because member indices stay stable for the life
    /// of the process; their names are returned so the caller can say a restart is needed.
    /// The TLS material of https:// APIs is read again (the files may have been replaced) and
    /// used for new connections, and `api_auth` from the next request on; when the material does
    /// not load, the previous one stays and an error event says why.
    std::vector<std::string> reconfigure(const config::config& cfg);

    [[nodiscard]] const snapshot_ptr& current() const noexcept { return current_; }
    /// True while polling every fast_interval.
    [[nodiscard]] bool fast() const noexcept { return fast_; }

private:
    struct member_record {
        member_observation observation;
        asio::ip::tcp::endpoint endpoint; ///< unset while observation.address_error says why
        /// For a host given by name; none for an IP literal, which is never looked up.
        std::unique_ptr<host_resolver> resolver;
        std::optional<http_url> api;
        std::unique_ptr<http_client> client;
        bool discovered = false;
    };

    asio::awaitable<void> member_loop(member_record& m);
    /// Looks the member's host name up every resolve_interval (else every interval) and
    /// rebuilds the snapshot when the answer changes what sessions connect to.
    asio::awaitable<void> address_loop(member_record& m);
    void record_address(member_record& m, lookup_result answer);
    /// Spawns the loops a member needs: checks when it has an API, lookups when it has a name.
    void start_loops(member_record& m);
    /// health.sql_check: asks the member's PostgreSQL whether it is in recovery when it reports
    /// itself primary (`role`), and records the answer in its observation.
    asio::awaitable<void> check_sql(member_record& m, pg_role role);
    asio::awaitable<void> dcs_loop();
    asio::awaitable<void> pause_after(std::chrono::steady_clock::time_point started, asio::steady_timer& timer);
    [[nodiscard]] probe_result check_result(const http_client& client, std::error_code ec, const http_response& response,
                                            std::chrono::milliseconds took, std::optional<patroni_status>& status) const;
    void record_check(member_record& m, const probe_result& r, std::optional<patroni_status> status);
    [[nodiscard]] member_record* dcs_source();
    void discover(const cluster_view& view);
    member_record& add_member(config::member m, bool discovered);
    /// TLS and credentials for `api`: the URL's own user info, else cluster.api_auth; nullopt
    /// for an https:// API while no TLS context can be built.
    [[nodiscard]] std::optional<http_access> access_for(const http_url& api);
    /// The context for https:// APIs, built on first need; nullptr (and an error event) when it
    /// cannot be.
    [[nodiscard]] std::shared_ptr<asio::ssl::context> api_tls();
    void rebuild();
    void spawn(asio::awaitable<void> loop, std::string what);

    asio::any_io_executor executor_;
    config::config cfg_;
    check_thresholds thresholds_;
    http_limits limits_;
    publish_fn publish_;
    event_fn event_;
    api_tls_fn make_api_tls_;
    lookup_fn lookup_; ///< for members' host names; empty: getaddrinfo
    std::shared_ptr<asio::ssl::context> api_tls_; ///< shared by every https:// client

    std::list<member_record> members_; ///< stable addresses: each loop holds a reference
    std::optional<cluster_view> dcs_;
    std::unique_ptr<http_client> dcs_client_;
    std::string dcs_client_member_;

    snapshot_ptr current_;
    std::uint64_t generation_ = 0;
    bool follows_roles_; ///< some listener routes by role: the primary matters
    bool fast_ = false;
    bool dcs_asked_ = false;        ///< GET /cluster has been tried at least once
    bool incidents_logged_ = false; ///< the incidents of current_ have been logged
    primary_outage outage_;         ///< the error line when writes have had nowhere to go too long
    bool stopped_ = false;
    /// Never expires; cancelled to wake every sleeping loop when fast polling starts (the address
    /// loops too: a leader that went missing may have come back under a new address).
    asio::steady_timer wake_;
};

} // namespace patroxy::health
