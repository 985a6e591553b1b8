// Wiring: the control io_context on the main thread (signals, the health poller, the stats
// listener), N workers for sessions, each accepting on its own socket of every listener. Also the
// reload: SIGHUP reads the config file again; new listeners bind, removed ones close, changed
// ones are replaced, and live sessions stay.
#include "proxy/app/application.hpp"

#include "health/poller/patroni_poller.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/app/stats_collector.hpp"
#include "proxy/app/stats_routes.hpp"
#include "proxy/net/listener.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/routing/disabled_members.hpp"
#include "proxy/session/listener_runtime.hpp"
#include "proxy/session/session.hpp"
#include "proxy/stats/event_log.hpp"
#include "proxy/stats/http_server.hpp"
#include "proxy/support/log.hpp"
#include "proxy/support/log_config.hpp"
#include "proxy/tls/handshake_failure.hpp"
#include "proxy/tls/tls_context.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

namespace patroxy::proxy {
namespace {

using asio::ip::tcp;

/// How long SIGTERM waits for live sessions before closing them.
constexpr auto drain_grace = std::chrono::seconds(30);

std::string describe(const config::endpoint& e) { return e.host + ":" + std::to_string(e.port); }

/// Resolves `e` for binding; nullopt (and a log line naming `what`) when it cannot be.
std::optional<tcp::endpoint> resolve_bind(asio::io_context& io, const config::endpoint& e, const std::string& what)
{
    std::error_code ec;
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(e.host, std::to_string(e.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
        log_line(log_level::error) << what << " cannot resolve " << describe(e) << ": " << (ec ? ec.message() : "no address");
        return std::nullopt;
    }
    return results.begin()->endpoint();
}

/// Binds the listening sockets of `l` on every worker; nullptr, and a readable error, on failure.
std::unique_ptr<listener_sockets> bind_listener(const config::listener& l, asio::io_context& io, worker_pool& workers)
{
    const std::string what = "listener=" + l.name;
    const auto endpoint = resolve_bind(io, l.bind, what);
    if (!endpoint) return nullptr;
    std::error_code ec;
    auto sockets = listener_sockets::bind(*endpoint, workers, ec);
    if (!sockets) {
        log_line(log_level::error) << what << " cannot listen on " << describe(l.bind) << ": " << ec.message();
        return nullptr;
    }
    log_line(log_level::info) << what << " listening on " << sockets->local_endpoint() << " (" << workers.size()
                              << " sockets, one per worker)";
    return sockets;
}

log_level level_named(std::string_view level)
{
    return level == "error" ? log_level::error : level == "warning" ? log_level::warning : log_level::info;
}

/// Whether the listener's members can change, so a client may be held for a better snapshot.
bool listener_can_queue(const config::config& cfg, const config::listener& l)
{
    return l.role.has_value() || std::any_of(l.servers.begin(), l.servers.end(), [&cfg](const std::string& name) {
               const auto* m = cfg.find_member(name);
               return m && !m->api.empty();
           });
}

/// `l`'s TLS contexts, read from the files now. The config was checked (tls::check_material) just
/// before, so a context missing here means a file changed in between: logged, and the sessions
/// that need it are refused with that reason.
std::shared_ptr<const listener_tls> make_listener_tls(const config::listener& l)
{
    auto contexts = std::make_shared<listener_tls>();
    std::string error;
    if (l.tls == config::tls_mode::terminate) {
        contexts->client_leg = tls::make_server_context(l.tls_options, tls::server_protocol::postgresql, error);
        if (!contexts->client_leg) log_line(log_level::error) << "listener=" << l.name << " TLS: " << error;
    }
    if (l.server_tls != config::server_tls_mode::disable) {
        contexts->server_leg = tls::make_server_leg_context(l.tls_options, l.server_tls, error);
        if (!contexts->server_leg) log_line(log_level::error) << "listener=" << l.name << " server_tls: " << error;
    }
    return contexts;
}

} // namespace

/// The proxy's long-lived parts, owned in the order they must be destroyed in reverse: sessions
/// still alive when the workers stop refer to the environment and the listeners.
class application {
public:
    application(const config::config& cfg, std::string config_path);
    int run();

private:
    struct bound_listener {
        listener_runtime* runtime = nullptr;
        std::unique_ptr<listener_sockets> sockets;
        bool accepting = false;
    };

    /// Binds `l`'s address; clients queue in the backlog until start_accepting().
    bool open_listener(const config::listener& l, std::size_t slot, const listener_runtime* previous);
    /// Starts the accept loops of the listeners opened since the last call. Called after the
    /// poller has published a snapshot that knows them: that snapshot's hand-over to each
    /// worker is then queued ahead of the accept loop, so no client of a new listener is routed
    /// by a snapshot without its slot (and answered 57P03).
    void start_accepting();
    void close_listener(bound_listener& b);
    [[nodiscard]] config::config poller_config(const config::config& cfg) const;
    [[nodiscard]] std::size_t slot_of(const std::string& name);
    bool start_stats(const config::config& cfg);
    /// The runtime API socket as `cfg` has it (none, or a new one replacing the old); false
    /// when it is configured and cannot be opened.
    bool start_admin(const config::config& cfg);
    [[nodiscard]] admin::backend admin_backend();
    void reload();
    void warn_restart_needed(const config::config& next) const;
    /// Puts the members a listener's config disables (or no longer disables) in their state,
    /// once `snapshot` knows them (disabled_members.hpp).
    void apply_disabled_members(const health::snapshot_ptr& snapshot);
    [[nodiscard]] std::string set_admin(std::string_view listener, std::string_view member, stats::admin_state state);
    void on_event(std::string_view level, std::string_view kind, const std::string& text);
    void schedule_sample();
    void watch_signals();
    void stop_accepting();

    config::config cfg_;
    const std::string config_path_;
    asio::io_context control_{1};
    cancel_registry cancels_;
    session_env env_;
    stats::event_log events_;
    std::list<listener_runtime> runtimes_;  ///< every listener ever opened, retired ones included
    std::vector<config::listener> slots_; ///< eligibility index -> listener config; names never move
    worker_pool workers_;
    /// The open listeners, by name. After workers_: their sockets belong to the workers'
    /// io_contexts and must go first.
    std::map<std::string, bound_listener> bound_;
    stats_collector collector_;
    std::optional<health::patroni_poller> poller_;
    std::optional<stats::http_server> stats_server_;
    std::unique_ptr<admin::admin_server> admin_server_;
    const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
    asio::steady_timer sample_timer_{control_};
    asio::signal_set signals_{control_, SIGTERM, SIGINT, SIGHUP};
    bool ready_ = false;
    bool immediate_ = false;
};

application::application(const config::config& cfg, std::string config_path)
    : cfg_(cfg),
      config_path_(std::move(config_path)),
      env_{.timeouts = cfg.timeouts, .max_message = cfg.limits.max_message, .retries = cfg.retries, .cancels = cancels_},
      workers_(cfg.workers),
      collector_(runtimes_, env_, workers_, events_)
{
    env_.workers = &workers_;
    env_.max_connections.store(cfg_.max_connections, std::memory_order_relaxed);
    env_.log_sessions.store(cfg_.log.sessions, std::memory_order_relaxed);
    collector_.configure(cfg_);
}

std::size_t application::slot_of(const std::string& name)
{
    for (std::size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].name == name) return i;
    return slots_.size();
}

config::config application::poller_config(const config::config& cfg) const
{
    // The poller derives eligibility per slot: a listener keeps its index for the life of the
    // process, so a session of a removed or replaced listener is still judged by its own rules.
    auto copy = cfg;
    copy.listeners = slots_;
    return copy;
}

bool application::open_listener(const config::listener& l, std::size_t slot, const listener_runtime* previous)
{
    auto sockets = bind_listener(l, control_, workers_);
    if (!sockets) return false;
    auto& runtime = runtimes_.emplace_back();
    runtime.cfg = l;
    runtime.tls.store(make_listener_tls(l));
    runtime.index = slot;
    runtime.can_queue = listener_can_queue(cfg_, l);
    if (previous) // an operator's drain/maint survives a reload
        for (std::size_t i = 0; i < max_tracked_members; ++i)
            runtime.admin[i].store(previous->admin[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
    runtime.pending_disabled = disabled_changes(previous ? &previous->cfg : nullptr, l);
    if (const auto& snapshot = collector_.snapshot())
        (void)apply_disabled(runtime.pending_disabled, *snapshot, runtime.admin);
    bound_[l.name] = bound_listener{&runtime, std::move(sockets)};
    return true;
}

void application::start_accepting()
{
    for (auto& [name, b] : bound_) {
        if (b.accepting) continue;
        b.sockets->start(name, [runtime = b.runtime, &env = env_](tcp_socket socket, const asio::ip::tcp::endpoint& peer,
                                                                   worker& target) {
            runtime->counters.accepted.fetch_add(1, std::memory_order_relaxed);
            start_session(std::move(socket), peer, *runtime, target, env);
        }, b.runtime->counters.accept_pauses);
        b.accepting = true;
    }
}

void application::close_listener(bound_listener& b)
{
    b.sockets->close();
    b.runtime->retired = true;
}

bool application::start_stats(const config::config& cfg)
{
    if (stats_server_) {
        stats_server_->stop();
        stats_server_.reset();
    }
    if (!cfg.stats) return true;
    std::optional<stats::basic_credentials> auth;
    if (cfg.stats->auth)
        auth = stats::basic_credentials{cfg.stats->auth->user, cfg.stats->auth->password, cfg.stats->auth->password_hash};
    const bool admin = cfg.stats->admin.value_or(auth.has_value()); // HAProxy's `stats admin if TRUE`
    stats_backend backend{
        .view = [this] { return collector_.collect(); },
        .set_admin = [this](std::string_view l, std::string_view m, stats::admin_state s) { return set_admin(l, m, s); },
        .ready = [this] { return ready_ && collector_.snapshot() != nullptr; },
        .admin_allowed = admin,
        .page_uri = cfg.stats->uri,
    };
    auto& server = stats_server_.emplace(control_.get_executor(), stats::http_server_limits{}, auth,
                                         [backend](const stats::http_request& r) { return serve_stats_request(r, backend); });
    server.set_realm(cfg.stats->realm);
    if (cfg.stats->tls) {
        std::string error;
        auto context = tls::make_server_context(cfg.stats->tls_options, tls::server_protocol::http, error);
        if (!context) {
            log_line(log_level::error) << "stats listener TLS: " << error;
            stats_server_.reset();
            return false;
        }
        server.use_tls(std::move(context), [this](const stats::tls_handshake_failure& f) {
            const auto kind = tls::classify(f.error, f.ssl);
            collector_.count_stats_tls_failure(tls::to_string(kind));
            // Probes and scanners (connect and close, silence, plain HTTP) stay at debug; a client
            // refused for its certificate, version or ciphers is the operator's business.
            const bool noise = kind == tls::handshake_failure::timeout || kind == tls::handshake_failure::closed ||
                               kind == tls::handshake_failure::not_tls;
            log_line(noise ? log_level::debug : log_level::info)
                << "stats listener: TLS handshake from " << f.client << " failed (" << tls::to_string(kind)
                << "): " << tls::describe(f.error, f.ssl);
        });
    }
    const auto endpoint = resolve_bind(control_, cfg.stats->bind, "stats listener");
    if (!endpoint) return false;
    if (auto ec = server.listen(*endpoint)) {
        log_line(log_level::error) << "stats listener cannot listen on " << describe(cfg.stats->bind) << ": "
                                   << ec.message();
        stats_server_.reset();
        return false;
    }
    server.start();
    log_line(log_level::info) << "stats listener on " << server.local_endpoint() << (cfg.stats->tls ? " over HTTPS" : "")
                              << (auth ? " (basic auth)" : " (no auth)") << ", page at " << cfg.stats->uri
                              << (admin ? ", admin actions enabled" : ", admin actions disabled");
    return true;
}

admin::backend application::admin_backend()
{
    return admin::backend{
        .view = [this] { return collector_.collect(); },
        .process =
            [this] {
                admin::process_info info;
                std::array<char, 256> host{};
                if (::gethostname(host.data(), host.size() - 1) == 0) info.node = host.data();
                info.threads = static_cast<unsigned>(workers_.size());
                // Without a global limit, the listeners' limits add up to the process's.
                info.max_connections = cfg_.max_connections;
                if (info.max_connections == 0)
                    for (const auto& l : cfg_.listeners) info.max_connections += l.max_connections;
                rlimit files{};
                if (::getrlimit(RLIMIT_NOFILE, &files) == 0) info.fd_limit = files.rlim_cur;
                info.started = started_;
                info.listening = bound_.size() + (stats_server_ ? 1 : 0) + (admin_server_ ? 1 : 0);
                return info;
            },
        .sessions =
            [this] {
                std::mutex mutex;
                std::vector<admin::session_row> all;
                workers_.run_on_each_and_wait([&mutex, &all](worker& w) {
                    auto rows = describe_sessions(w);
                    std::lock_guard lock(mutex);
                    all.insert(all.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
                });
                return all;
            },
        .set_admin = [this](std::string_view l, std::string_view m, stats::admin_state s) { return set_admin(l, m, s); },
    };
}

bool application::start_admin(const config::config& cfg)
{
    const auto& wanted = cfg.admin_socket;
    // The same path: the old socket goes first, the new one takes its place. Another path: the
    // old one stays until the new one is up, so a failed reload loses nothing.
    if (admin_server_ && (!wanted || admin_server_->settings().path == wanted->path)) {
        admin_server_->stop();
        admin_server_.reset();
    }
    if (!wanted) return true;
    auto next = std::make_unique<admin::admin_server>(control_.get_executor(), admin_backend());
    if (auto error = next->open(*wanted); !error.empty()) {
        log_line(log_level::error) << error
                                   << (admin_server_ ? "; the admin socket stays at " + admin_server_->settings().path : "");
        return false;
    }
    if (admin_server_) admin_server_->stop();
    admin_server_ = std::move(next);
    admin_server_->start();
    log_line(log_level::info) << "admin socket (runtime API) on " << wanted->path << ", level "
                              << config::to_string(wanted->level);
    return true;
}

std::string application::set_admin(std::string_view listener, std::string_view member, stats::admin_state state)
{
    const auto& snapshot = collector_.snapshot();
    if (!snapshot) return "no cluster snapshot yet";
    std::optional<std::uint32_t> index;
    for (std::uint32_t i = 0; i < snapshot->members.size(); ++i)
        if (snapshot->members[i].name == member) index = i;
    if (!index || *index >= max_tracked_members) return "unknown member '" + std::string(member) + "'";
    if (listener != "*" && !bound_.count(std::string(listener))) return "unknown listener '" + std::string(listener) + "'";
    // Every version of the listener: the sessions of one a reload replaced are still its own.
    std::vector<listener_runtime*> targets;
    for (auto& runtime : runtimes_)
        if (listener == "*" || runtime.cfg.name == listener) targets.push_back(&runtime);

    const std::string member_name(member);
    for (auto* runtime : targets) {
        runtime->admin[*index].store(static_cast<std::uint8_t>(state), std::memory_order_relaxed);
        if (state == stats::admin_state::maint)
            workers_.run_on_each([runtime, member_name](worker& w) { close_sessions_in_maintenance(w, runtime, member_name); });
    }
    // Clients queued for a member that is ready again look at the snapshot once more, and a
    // non-backup member back in service replaces the backups (shutdown_backup_sessions).
    if (state == stats::admin_state::ready) workers_.publish(snapshot, &close_replaced_backup_sessions);
    const std::string where = listener == "*" ? std::string("every listener") : "listener " + std::string(listener);
    const std::string text = "member " + member_name + " set to " + stats::to_string(state) + " on " + where;
    log_line(log_level::warning) << "admin: " << text;
    events_.add("admin", text);
    return {};
}

void application::on_event(std::string_view level, std::string_view kind, const std::string& text)
{
    log_line(level_named(level)) << text;
    // Polling-speed changes are the poller's own business; the page lists what operators act on.
    if (kind != "polling") events_.add(kind, text);
}

void application::schedule_sample()
{
    sample_timer_.expires_after(std::chrono::seconds(1));
    sample_timer_.async_wait([this](const std::error_code& ec) {
        if (ec) return;
        collector_.sample();
        schedule_sample();
    });
}

void application::warn_restart_needed(const config::config& next) const
{
    std::vector<std::string> fixed;
    if (next.workers != cfg_.workers) fixed.emplace_back("workers");
    if (next.timeouts.connect != cfg_.timeouts.connect || next.timeouts.startup != cfg_.timeouts.startup ||
        next.timeouts.client_idle != cfg_.timeouts.client_idle || next.timeouts.server_idle != cfg_.timeouts.server_idle)
        fixed.emplace_back("timeouts");
    if (next.limits.max_message != cfg_.limits.max_message) fixed.emplace_back("limits");
    if (next.retries != cfg_.retries) fixed.emplace_back("retries");
    if (next.scope != cfg_.scope) fixed.emplace_back("cluster.scope");
    for (const auto& what : fixed)
        log_line(log_level::warning) << "reload: '" << what << "' changed; it takes effect at the next restart";
}

void application::apply_disabled_members(const health::snapshot_ptr& snapshot)
{
    if (!snapshot) return;
    for (auto& runtime : runtimes_)
        if (!runtime.retired && !runtime.pending_disabled.empty())
            (void)apply_disabled(runtime.pending_disabled, *snapshot, runtime.admin);
}

void application::reload()
{
    auto loaded = config::load_config_file(config_path_);
    for (const auto& w : loaded.warnings) log_line(log_level::warning) << "reload: " << w; // "file:line: why"
    std::vector<std::string> problems;
    for (const auto& e : loaded.errors) problems.push_back(config::to_string(e));
    if (loaded.value) tls::check_material(*loaded.value, problems);
    if (!problems.empty()) {
        std::string text = "reload of " + config_path_ + " refused, still running the previous config:";
        for (const auto& p : problems) text += " " + p + ";";
        log_line(log_level::error) << text;
        events_.add("reload", text);
        collector_.count_reload_failure();
        return;
    }
    auto next = std::move(*loaded.value);
    warn_restart_needed(next);
    env_.max_connections.store(next.max_connections, std::memory_order_relaxed);
    apply_log_config(next.log);
    env_.log_sessions.store(next.log.sessions, std::memory_order_relaxed);

    // Listeners: close the removed and the changed ones first, so a changed one can bind its
    // address again; then open the new and the changed ones.
    std::map<std::string, const listener_runtime*> replaced;
    for (auto it = bound_.begin(); it != bound_.end();) {
        const auto wanted = std::find_if(next.listeners.begin(), next.listeners.end(),
                                         [&it](const config::listener& l) { return l.name == it->first; });
        const bool same = wanted != next.listeners.end() && *wanted == it->second.runtime->cfg &&
                          listener_can_queue(next, *wanted) == it->second.runtime->can_queue;
        if (same) {
            // Certificates and keys are read again: renewed files take effect for new sessions,
            // live ones keep what they started with.
            it->second.runtime->tls.store(make_listener_tls(*wanted));
            ++it;
            continue;
        }
        log_line(log_level::info) << "reload: listener=" << it->first
                                  << (wanted == next.listeners.end() ? " removed" : " changed")
                                  << "; its live sessions stay";
        replaced[it->first] = it->second.runtime;
        close_listener(it->second);
        it = bound_.erase(it);
    }
    const auto old_cfg = std::exchange(cfg_, next);
    std::size_t opened = 0;
    for (const auto& l : cfg_.listeners) {
        if (bound_.count(l.name)) continue;
        const auto slot = slot_of(l.name);
        if (slot == slots_.size())
            slots_.push_back(l);
        else
            slots_[slot] = l;
        const auto previous = replaced.find(l.name);
        if (open_listener(l, slot, previous == replaced.end() ? nullptr : previous->second)) ++opened;
    }
    const auto kept = poller_->reconfigure(poller_config(cfg_));
    start_accepting();
    for (const auto& name : kept)
        log_line(log_level::warning) << "reload: member " << name
                                     << " was removed or changed; it stays as it was until the next restart";
    if (old_cfg.stats != cfg_.stats) {
        if (!start_stats(cfg_)) log_line(log_level::error) << "reload: the stats listener could not be restarted";
    } else if (cfg_.stats && cfg_.stats->tls && stats_server_) {
        // Same settings, but the certificate files may have been renewed: read them again.
        std::string error;
        if (auto context = tls::make_server_context(cfg_.stats->tls_options, tls::server_protocol::http, error))
            stats_server_->renew_tls(std::move(context));
        else
            log_line(log_level::error) << "reload: the stats listener keeps its certificate: " << error;
    }
    if (old_cfg.admin_socket != cfg_.admin_socket && !start_admin(cfg_))
        log_line(log_level::error) << "reload: the admin socket could not be opened";
    collector_.configure(cfg_);
    collector_.count_reload();
    const std::string text = "configuration reloaded from " + config_path_ + ": " + std::to_string(bound_.size()) +
                             " listener(s), " + std::to_string(opened) + " opened or replaced";
    log_line(log_level::info) << text;
    events_.add("reload", text);
}

void application::stop_accepting()
{
    for (auto& [name, b] : bound_) close_listener(b);
    if (stats_server_) stats_server_->stop();
    if (admin_server_) admin_server_->stop();
    sample_timer_.cancel();
    poller_->stop();
}

void application::watch_signals()
{
    signals_.async_wait([this](const std::error_code& ec, int signo) {
        if (ec) return;
        if (signo == SIGHUP) {
            log_line(log_level::info) << "SIGHUP: reloading " << config_path_;
            reload();
            watch_signals();
            return;
        }
        immediate_ = signo == SIGINT;
        log_line(log_level::info) << (immediate_ ? "SIGINT: stopping now" : "SIGTERM: no new connections, draining");
        stop_accepting();
        if (immediate_) control_.stop();
    });
}

int application::run()
{
    for (const auto& l : cfg_.listeners) {
        slots_.push_back(l);
        if (!open_listener(l, slots_.size() - 1, nullptr)) return 1;
    }
    // The poller publishes every snapshot to the workers; each worker then closes the sessions
    // whose member lost its place (kill_policy.hpp).
    poller_.emplace(
        control_.get_executor(), poller_config(cfg_),
        [this](const health::snapshot_ptr& s) {
            apply_disabled_members(s); // before any session can be routed by `s`
            collector_.on_snapshot(s);
            workers_.publish(s, &close_sessions_leaving);
        },
        [this](std::string_view level, std::string_view kind, const std::string& text) { on_event(level, kind, text); },
        &tls::make_api_context); // https:// member APIs; rebuilt by every reconfigure()
    poller_->start(); // publishes the first snapshot before any session can be accepted
    start_accepting();
    if (!start_stats(cfg_)) return 1;
    if (!start_admin(cfg_)) return 1;
    workers_.start();
    ready_ = true;
    schedule_sample();
    log_line(log_level::info) << "patroxy started: " << bound_.size() << " listener(s), " << workers_.size()
                              << " worker(s), " << cfg_.members.size() << " member(s)";
    watch_signals();
    ::signal(SIGPIPE, SIG_IGN);

    // Runs until the signal handler has closed the acceptors (and, for SIGINT, stopped the loop).
    control_.run();

    if (!immediate_) {
        // Drain: live sessions finish on their own, up to the grace period.
        const auto until = std::chrono::steady_clock::now() + drain_grace;
        while (workers_.total_sessions() > 0 && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (workers_.total_sessions() > 0)
            log_line(log_level::warning) << "drain grace period over; closing " << workers_.total_sessions()
                                         << " session(s)";
    }
    workers_.stop_now();
    log_line(log_level::info) << "patroxy stopped";
    return 0;
}

int run_proxy(const config::config& cfg, const std::string& config_path)
{
    application app(cfg, config_path);
    return app.run();
}

} // namespace patroxy::proxy
