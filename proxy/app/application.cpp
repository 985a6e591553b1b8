// Wiring: control io_context on the main thread (acceptors, signals), N workers for sessions.
#include "proxy/app/application.hpp"

#include "health/poller/patroni_poller.hpp"
#include "proxy/net/listener.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/session/session.hpp"
#include "proxy/support/log.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <csignal>
#include <list>
#include <memory>

namespace patroxy::proxy {
namespace {

using asio::ip::tcp;
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

/// How long SIGTERM waits for live sessions before closing them.
constexpr auto drain_grace = std::chrono::seconds(30);

std::string describe(const config::endpoint& e) { return e.host + ":" + std::to_string(e.port); }

/// Opens and binds an acceptor; a readable error on failure.
bool bind_acceptor(tcp::acceptor& acceptor, const config::listener& l)
{
    std::error_code ec;
    tcp::resolver resolver(acceptor.get_executor());
    const auto results = resolver.resolve(l.bind.host, std::to_string(l.bind.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
        log_line(log_level::error) << "listener=" << l.name << " cannot resolve " << describe(l.bind) << ": "
                                   << (ec ? ec.message() : "no address");
        return false;
    }
    const auto endpoint = results.begin()->endpoint();
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        log_line(log_level::error) << "listener=" << l.name << " cannot listen on " << describe(l.bind) << ": "
                                   << ec.message();
        return false;
    }
    log_line(log_level::info) << "listener=" << l.name << " listening on " << endpoint;
    return true;
}

} // namespace

int run_proxy(const config::config& cfg)
{
    // Declared before the workers: sessions still alive when the workers are destroyed refer
    // to these, so they must outlive the worker pool.
    asio::io_context control(1);
    cancel_registry cancels;
    session_env env{.timeouts = cfg.timeouts, .max_message = cfg.limits.max_message, .retries = cfg.retries, .cancels = cancels};
    std::list<listener_runtime> listeners; // stable addresses: sessions keep references
    std::list<tcp::acceptor> acceptors;
    worker_pool workers(cfg.workers);
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
        auto& l = listeners.emplace_back();
        l.cfg = cfg.listeners[i];
        l.index = i;
        l.can_queue = l.cfg.role.has_value() ||
                      std::any_of(l.cfg.servers.begin(), l.cfg.servers.end(), [&cfg](const std::string& name) {
                          const auto* m = cfg.find_member(name);
                          return m && !m->api.empty();
                      });
        auto& acceptor = acceptors.emplace_back(control);
        if (!bind_acceptor(acceptor, l.cfg)) return 1;
    }

    // The poller publishes every snapshot to the workers; each worker then closes the sessions
    // whose member lost its place (kill_policy.hpp).
    health::patroni_poller poller(
        control.get_executor(), cfg,
        [&workers](const health::snapshot_ptr& s) { workers.publish(s, &close_sessions_leaving); },
        [](std::string_view level, const std::string& text) {
            const auto lvl = level == "error" ? log_level::error : level == "warning" ? log_level::warning
                                                                                      : log_level::info;
            log_line(lvl) << text;
        });
    poller.start(); // publishes the first snapshot before any session can be accepted
    workers.start();
    log_line(log_level::info) << "patroxy started: " << listeners.size() << " listener(s), " << workers.size()
                              << " worker(s), " << cfg.members.size() << " member(s)";

    auto listener_it = listeners.begin();
    for (auto& acceptor : acceptors) {
        asio::co_spawn(control, accept_loop(acceptor, *listener_it++, workers, env), asio::detached);
    }

    bool immediate = false;
    asio::signal_set signals(control, SIGTERM, SIGINT);
    signals.async_wait([&](const std::error_code& ec, int signo) {
        if (ec) return;
        immediate = signo == SIGINT;
        log_line(log_level::info) << (immediate ? "SIGINT: stopping now" : "SIGTERM: no new connections, draining");
        for (auto& a : acceptors) {
            std::error_code ignored;
            a.close(ignored);
        }
        poller.stop();
        if (immediate) control.stop();
    });
    ::signal(SIGPIPE, SIG_IGN);

    // Runs until the signal handler has closed the acceptors (and, for SIGINT, stopped the loop).
    control.run();

    if (!immediate) {
        // Drain: live sessions finish on their own, up to the grace period.
        const auto until = std::chrono::steady_clock::now() + drain_grace;
        while (workers.total_sessions() > 0 && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (workers.total_sessions() > 0)
            log_line(log_level::warning) << "drain grace period over; closing " << workers.total_sessions()
                                         << " session(s)";
    }
    workers.stop_now();
    log_line(log_level::info) << "patroxy stopped";
    return 0;
}

} // namespace patroxy::proxy
