// The poller's loops. Each member has its own loop, so a hanging member delays nobody else; the
// DCS loop reads GET /cluster from the primary (or any member that answers); a member given by
// host name has an address loop beside its check loop. Every answer rebuilds the snapshot with
// derive_snapshot() and hands it to publish_.
#include "health/poller/patroni_poller.hpp"

#include "health/sql/sql_probe.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

namespace patroxy::health {
namespace {

using clock = std::chrono::steady_clock;
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

check_code code_of(std::error_code ec)
{
    if (ec == make_error_code(http_errc::connect_failed)) return check_code::l4con;
    if (ec == make_error_code(http_errc::connect_timeout)) return check_code::l4tout;
    if (ec == make_error_code(http_errc::tls_timeout)) return check_code::l6tout;
    if (ec == make_error_code(http_errc::tls_failed)) return check_code::l6rsp;
    if (ec == make_error_code(http_errc::response_timeout)) return check_code::l7tout;
    return check_code::l7rsp;
}

bool is_primary_member(const snapshot_ptr& s, const std::string& name)
{
    return s && s->primary && s->members[*s->primary].name == name;
}

/// Since when each listener has had nobody eligible: kept from the previous snapshot while it
/// stays empty, now when it just became empty.
void carry_empty_since(const cluster_snapshot* previous, cluster_snapshot& next)
{
    next.empty_since.assign(next.eligible.size(), {});
    const auto now = std::chrono::system_clock::now();
    for (std::size_t l = 0; l < next.eligible.size(); ++l) {
        if (!next.eligible[l].empty()) continue;
        const bool was_empty = previous && l < previous->empty_since.size() &&
                               previous->empty_since[l] != std::chrono::system_clock::time_point{};
        next.empty_since[l] = was_empty ? previous->empty_since[l] : now;
    }
}

bool uses_https(const config::member& m)
{
    const auto url = parse_http_url(m.api);
    return url && url->https;
}

bool any_role_listener(const config::config& cfg)
{
    return std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                       [](const config::listener& l) { return l.role.has_value(); });
}

} // namespace

patroni_poller::patroni_poller(asio::any_io_executor executor, const config::config& cfg, publish_fn publish,
                               event_fn event, api_tls_fn make_api_tls, lookup_fn lookup)
    : executor_(std::move(executor)),
      cfg_(cfg),
      thresholds_(thresholds_from(cfg.health)),
      publish_(std::move(publish)),
      event_(std::move(event)),
      make_api_tls_(std::move(make_api_tls)),
      lookup_(std::move(lookup)),
      follows_roles_(any_role_listener(cfg)),
      outage_(cfg.log.no_primary_alarm),
      wake_(executor_, asio::steady_timer::time_point::max())
{
    limits_.connect_timeout = cfg.health.timeout;
    limits_.response_timeout = cfg.health.timeout;
    for (const auto& m : cfg_.members) add_member(m, false);
}

std::vector<std::string> patroni_poller::reconfigure(const config::config& cfg)
{
    // Members are compared with what is being checked, not with the last file: a member
    // changed twice is still reported.
    outage_.set_alarm_after(cfg.log.no_primary_alarm);
    std::vector<std::string> kept;
    for (const auto& was : cfg_.members) {
        const auto* now = cfg.find_member(was.name);
        if (!now || now->host != was.host || now->port != was.port || now->api != was.api || now->weight != was.weight)
            kept.push_back(was.name);
    }
    auto checked = std::move(cfg_.members);
    cfg_ = cfg;
    cfg_.members = std::move(checked);
    thresholds_ = thresholds_from(cfg.health);
    limits_.connect_timeout = cfg.health.timeout; // for clients made from now on
    limits_.response_timeout = cfg.health.timeout;
    follows_roles_ = any_role_listener(cfg);
    // Certificates get replaced under the same file names: read them again whenever https is
    // in use. Existing clients take the new context for their next connection.
    const bool https = std::any_of(members_.begin(), members_.end(),
                                   [](const member_record& m) { return m.api && m.api->https; }) ||
                       std::any_of(cfg.members.begin(), cfg.members.end(), uses_https);
    if (https && make_api_tls_) {
        std::string error;
        if (auto fresh = make_api_tls_(cfg_.tls, error))
            api_tls_ = std::move(fresh);
        else if (api_tls_) // without a previous one, api_tls() reports it when a member needs it
            event_("error", "config", "reload: TLS for the Patroni API: " + error + "; the previous certificates stay in use");
    }
    for (auto& m : members_) {
        auto access = m.client ? access_for(*m.api) : std::nullopt;
        if (!access) continue;
        if (dcs_client_ && m.observation.member.name == dcs_client_member_) dcs_client_->set_access(*access);
        m.client->set_access(std::move(*access));
    }
    for (const auto& m : cfg.members) {
        const bool known = std::any_of(members_.begin(), members_.end(),
                                       [&m](const member_record& r) { return r.observation.member.name == m.name; });
        if (known) continue;
        cfg_.members.push_back(m);
        auto& record = add_member(m, false);
        if (!stopped_) start_loops(record);
    }
    rebuild();
    return kept;
}

patroni_poller::member_record& patroni_poller::add_member(config::member m, bool discovered)
{
    auto& record = members_.emplace_back();
    std::error_code not_literal;
    const auto address = asio::ip::make_address(m.host, not_literal);
    if (!not_literal) {
        record.endpoint = {address, m.port};
    } else {
        // Looked up by the address loop, never here: getaddrinfo would block the control thread.
        record.resolver = std::make_unique<host_resolver>(executor_, m.host, m.port, lookup_);
        record.observation.address_error = m.host + " has not been looked up yet";
    }
    record.api = m.api.empty() ? std::nullopt : parse_http_url(m.api);
    // The URL itself stays out of the line: it may carry a password.
    if (!m.api.empty() && !record.api)
        event_("error", "config", "member=" + m.name + " has an api URL that is not a usable http(s) URL; it is not checked");
    if (record.api) {
        if (auto access = access_for(*record.api))
            record.client = std::make_unique<http_client>(executor_, record.api->host, record.api->port, limits_,
                                                          std::move(*access));
        else
            event_("error", "config", "member=" + m.name + " has an https API but no TLS context; it is not checked");
    }
    record.discovered = discovered;
    record.observation.member = std::move(m);
    return record;
}

std::optional<http_access> patroni_poller::access_for(const http_url& api)
{
    http_access access;
    access.credentials = api.credentials ? api.credentials : cfg_.api_auth;
    if (api.https) {
        access.tls = api_tls();
        if (!access.tls) return std::nullopt;
    }
    return access;
}

std::shared_ptr<asio::ssl::context> patroni_poller::api_tls()
{
    if (api_tls_ || !make_api_tls_) return api_tls_;
    std::string error;
    api_tls_ = make_api_tls_(cfg_.tls, error);
    if (!api_tls_) event_("error", "config", "TLS for the Patroni API: " + error);
    return api_tls_;
}

void patroni_poller::start()
{
    rebuild();
    for (auto& m : members_) start_loops(m);
    if (std::any_of(members_.begin(), members_.end(), [](const member_record& m) { return m.client != nullptr; }))
        spawn(dcs_loop(), "DCS loop");
}

void patroni_poller::stop()
{
    stopped_ = true;
    wake_.cancel();
    for (auto& m : members_)
        if (m.resolver) m.resolver->cancel();
}

void patroni_poller::start_loops(member_record& m)
{
    if (m.client) spawn(member_loop(m), "check loop of " + m.observation.member.name);
    if (m.resolver) spawn(address_loop(m), "address loop of " + m.observation.member.name);
}

void patroni_poller::spawn(asio::awaitable<void> loop, std::string what)
{
    asio::co_spawn(executor_, std::move(loop), [this, what = std::move(what)](std::exception_ptr e) {
        if (!e || stopped_) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            event_("error", "bug", "BUG: the " + what + " ended: " + ex.what());
        }
    });
}

asio::awaitable<void> patroni_poller::member_loop(member_record& m)
{
    asio::steady_timer timer(executor_);
    while (!stopped_) {
        const auto started = clock::now();
        auto [ec, response] = co_await m.client->get("/patroni");
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
        std::optional<patroni_status> status;
        const auto result = check_result(*m.client, ec, response, took, status);
        // Inside the iteration, so the snapshot built from this answer already has the SQL verdict.
        if (cfg_.health.sql_check && status) {
            const pg_role role = status->role;
            co_await check_sql(m, role);
        }
        record_check(m, result, std::move(status));
        co_await pause_after(started, timer);
    }
}

asio::awaitable<void> patroni_poller::check_sql(member_record& m, pg_role role)
{
    auto& obs = m.observation;
    if (role != pg_role::primary) {
        // Replicas are not asked; forgetting the last verdict means a later promotion is
        // confirmed by a fresh check, never by one from before.
        obs.sql_in_recovery.reset();
        obs.sql_error.clear();
        co_return;
    }
    // libpq resolves a name with a blocking getaddrinfo(): hand it the address looked up
    // already, and nothing while there is none (the member is not routable then anyway).
    if (!obs.address_error.empty()) {
        obs.sql_in_recovery.reset();
        obs.sql_error = "not asked: " + obs.address_error;
        co_return;
    }
    const std::string host = m.endpoint.address().to_string();
    auto probe = probe_recovery(executor_, host, obs.member.port, *cfg_.health.sql_check, cfg_.health.timeout);
    const sql_probe_result r = co_await std::move(probe);
    if (r.ok) {
        if (!obs.sql_error.empty()) event_("info", "sql_check", "member=" + obs.member.name + " SQL check answers again");
        obs.sql_in_recovery = r.in_recovery;
        obs.sql_error.clear();
        co_return;
    }
    // One line per new failure, not one per fast poll while it lasts.
    if (r.error != obs.sql_error) event_("warning", "sql_check", "member=" + obs.member.name + " SQL check failed: " + r.error);
    obs.sql_in_recovery.reset();
    obs.sql_error = r.error;
}

asio::awaitable<void> patroni_poller::address_loop(member_record& m)
{
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(executor_);
    while (!stopped_) {
        const auto started = clock::now();
        // No longer than a check may take: a name server that does not answer leaves the member
        // unroutable, never this loop stuck (the late answer is picked up by the next round).
        timer.expires_after(cfg_.health.timeout);
        auto answer = co_await m.resolver->resolve(timer);
        if (stopped_) co_return;
        if (answer.error != asio::error::operation_aborted) record_address(m, std::move(answer));
        // HAProxy's `hold valid`. Fast polling wakes this loop too: a leader that went missing
        // may be back under a new address.
        timer.expires_at(started + cfg_.resolve_interval.value_or(cfg_.health.interval));
        co_await (timer.async_wait(nothrow) || wake_.async_wait(nothrow));
    }
}

void patroni_poller::record_address(member_record& m, lookup_result answer)
{
    auto& obs = m.observation;
    const std::string prefix = "member " + obs.member.name + ": ";
    if (answer.error) {
        const std::string reason =
            answer.error == asio::error::timed_out
                ? "no answer within " + std::to_string(cfg_.health.timeout.count()) + " ms"
                : answer.error.message();
        std::string error = "cannot resolve " + obs.member.host + ": " + reason;
        if (error == obs.address_error) return; // one line per new failure, not one per round
        event_("warning", "resolve", prefix + error);
        // The endpoint stays as the last address known, for the "was" of the next change;
        // the address error keeps every new session away from it.
        obs.address_error = std::move(error);
        rebuild();
        return;
    }
    const auto& found = answer.endpoints;
    // A name with several addresses (IPv4 and IPv6, round-robin DNS) keeps the one in use while
    // it is among them, so new sessions do not hop between addresses from one lookup to the next.
    const bool same = std::find(found.begin(), found.end(), m.endpoint) != found.end();
    const bool was_unresolved = !obs.address_error.empty();
    if (same && !was_unresolved) return;
    const bool first = m.endpoint.port() == 0;
    const auto previous = m.endpoint;
    if (!same) m.endpoint = found.front();
    const std::string now = m.endpoint.address().to_string();
    if (first)
        event_("info", "resolve", prefix + obs.member.host + " resolves to " + now);
    else if (same)
        event_("info", "resolve", prefix + obs.member.host + " resolves again to " + now);
    else
        event_("info", "resolve", prefix + obs.member.host + " now resolves to " + now + " (was " +
                                      previous.address().to_string() + ")");
    obs.address_error.clear();
    rebuild();
}

probe_result patroni_poller::check_result(const http_client& client, std::error_code ec, const http_response& response,
                                          std::chrono::milliseconds took,
                                          std::optional<patroni_status>& status) const
{
    probe_result r;
    r.duration = took;
    if (ec) {
        r.code = code_of(ec);
        r.detail = client.describe(ec);
        return r;
    }
    r.http_status = static_cast<unsigned>(response.status);
    if (response.status != 200) {
        // Patroni answers GET /patroni with 200 whatever the member's state; anything else is
        // a broken API (a proxy in between, a crashed handler), not an answer about the member.
        r.code = check_code::l7sts;
        r.detail = "HTTP " + std::to_string(response.status);
        if (response.status == 401) r.detail += " (credentials missing or refused: cluster.api_auth)";
        return r;
    }
    auto decoded = decode_patroni_status(response.body);
    if (!decoded.value) {
        r.code = check_code::l7rsp;
        r.detail = decoded.error;
        return r;
    }
    r.code = check_code::l7ok;
    status = std::move(decoded.value);
    return r;
}

void patroni_poller::record_check(member_record& m, const probe_result& r, std::optional<patroni_status> status)
{
    auto& obs = m.observation;
    const bool was_up = is_up(obs.health.status);
    const bool was_checked = obs.health.status != health_status::unchecked;
    obs.health = next_health(obs.health, r, thresholds_, clock::now());
    // A definitive answer acts at once; a failed check keeps the last answer for display, and
    // rise/fall decide whether the member still counts.
    if (status) obs.status = std::move(status);

    const bool now_up = is_up(obs.health.status);
    if (now_up != was_up || !was_checked)
        event_(now_up ? "info" : "warning", now_up ? "member_up" : "member_down", "member=" + obs.member.name + " is " + (now_up ? "UP" : "DOWN") + ": " +
                                                std::string(to_string(r.code)) +
                                                (r.detail.empty() ? "" : " (" + r.detail + ")"));
    rebuild();
}

asio::awaitable<void> patroni_poller::dcs_loop()
{
    asio::steady_timer timer(executor_);
    while (!stopped_) {
        const auto started = clock::now();
        if (auto* source = dcs_source()) {
            if (!dcs_client_ || dcs_client_member_ != source->observation.member.name) {
                // The source has a client, so its access could be built: it cannot be nullopt here.
                dcs_client_ = std::make_unique<http_client>(executor_, source->api->host, source->api->port, limits_,
                                                            access_for(*source->api).value_or(http_access{}));
                dcs_client_member_ = source->observation.member.name;
            }
            auto [ec, response] = co_await dcs_client_->get("/cluster");
            dcs_asked_ = true;
            if (!ec && response.status == 200) {
                auto decoded = decode_cluster_view(response.body);
                if (decoded.value) {
                    if (cfg_.discover) discover(*decoded.value);
                    dcs_ = std::move(decoded.value);
                    rebuild();
                } else {
                    event_("warning", "dcs", "GET /cluster from " + dcs_client_member_ + ": " + decoded.error);
                }
            }
            // A failed read leaves the last view in place; the next round asks another member
            // if this one went down meanwhile.
        }
        co_await pause_after(started, timer);
    }
}

patroni_poller::member_record* patroni_poller::dcs_source()
{
    // Ask the primary first (its view is the freshest), then any member that is up.
    member_record* fallback = nullptr;
    for (auto& m : members_) {
        if (!m.client) continue;
        if (is_primary_member(current_, m.observation.member.name)) return &m;
        if (!fallback && is_up(m.observation.health.status)) fallback = &m;
    }
    if (fallback) return fallback;
    for (auto& m : members_)
        if (m.client) return &m; // nobody is up: keep asking, in config order
    return nullptr;
}

void patroni_poller::discover(const cluster_view& view)
{
    for (const auto& dm : view.members) {
        const bool known = std::any_of(members_.begin(), members_.end(), [&](const member_record& m) {
            return m.observation.member.name == dm.name;
        });
        if (known || dm.host.empty() || !dm.port || dm.api_url.empty()) continue;
        config::member m;
        m.name = dm.name;
        m.host = dm.host;
        m.port = *dm.port;
        // api_url names the /patroni endpoint; the client is given host and port only.
        m.api = dm.api_url;
        auto& record = add_member(std::move(m), true);
        event_("info", "discovered", "member=" + dm.name + " discovered from the DCS at " + dm.host + ":" +
                           std::to_string(*dm.port));
        start_loops(record);
    }
}

void patroni_poller::rebuild()
{
    std::vector<member_observation> observations;
    observations.reserve(members_.size());
    for (const auto& m : members_) observations.push_back(m.observation);

    auto next = std::make_shared<cluster_snapshot>(derive_snapshot(cfg_.listeners, observations, dcs_, ++generation_,
                                                                    cfg_.health.sql_check.has_value()));
    std::size_t i = 0;
    for (const auto& m : members_) next->members[i++].endpoint = m.endpoint;
    carry_empty_since(current_.get(), *next);

    // Incidents explain why writes have nowhere to go: only worth a line where a listener
    // follows the primary, and only once the DCS has been asked (before that, "no DCS view" is
    // just startup).
    // ... and once every member with an API has answered or failed a first check, so that
    // "DCS leader node1 is down" does not stand for "node1 was not asked yet".
    const bool all_checked = std::all_of(members_.begin(), members_.end(), [](const member_record& m) {
        return !m.client || m.observation.health.status != health_status::unchecked;
    });
    if (follows_roles_ && dcs_asked_ && all_checked) {
        for (const auto& inc : new_incidents(incidents_logged_ ? current_.get() : nullptr, *next))
            if (inc.kind != incident_kind::no_address) // the address loop has said it already
                event_(incident_level(inc.kind), "incident", inc.text);
        incidents_logged_ = true;
        std::string why;
        for (const auto& inc : next->incidents) why += (why.empty() ? "" : "; ") + inc.text;
        if (auto line = outage_.observe(next->primary.has_value(), std::chrono::steady_clock::now(), why))
            event_(line->level, "incident", line->text);
    }
    if (current_ && current_->primary != next->primary) {
        const auto name = [](const snapshot_ptr& s) {
            return s->primary ? s->members[*s->primary].name : std::string("none");
        };
        const snapshot_ptr next_ptr = next;
        event_("info", "leader", "primary changed from " + name(current_) + " to " + name(next_ptr));
    }

    // Poll fast while writes have nowhere to go or the primary is failing its checks.
    bool fast = false;
    if (follows_roles_) {
        fast = !next->primary || next->members[*next->primary].health.consecutive_failures > 0;
    }
    if (fast != fast_) {
        fast_ = fast;
        event_("info", "polling", fast ? "polling every fast_interval until a single primary is confirmed"
                            : "a single primary is confirmed; polling every interval");
        if (fast) wake_.cancel();
    }
    current_ = std::move(next);
    publish_(current_);
}

asio::awaitable<void> patroni_poller::pause_after(clock::time_point started, asio::steady_timer& timer)
{
    using namespace asio::experimental::awaitable_operators;
    // Wake early when fast polling starts, but never check more often than fast_interval.
    timer.expires_at(started + (fast_ ? cfg_.health.fast_interval : cfg_.health.interval));
    co_await (timer.async_wait(nothrow) || wake_.async_wait(nothrow));
    if (stopped_) co_return;
    const auto earliest = started + cfg_.health.fast_interval;
    if (clock::now() < earliest) {
        timer.expires_at(earliest);
        co_await timer.async_wait(nothrow);
    }
}

} // namespace patroxy::health
