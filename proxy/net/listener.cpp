// The accept loop. The acceptor lives on the control thread; each socket is accepted directly
// into the chosen worker's io_context, as in Asio's http/server2.
#include "proxy/net/listener.hpp"

#include "proxy/net/worker_pool.hpp"
#include "proxy/session/session.hpp"
#include "proxy/support/log.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

namespace patroxy::proxy {

asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, listener_runtime& listener, worker_pool& workers,
                                  session_env& env)
{
    const auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);
    for (;;) {
        worker& target = workers.least_loaded();
        // The peer's address comes with the accept: no getpeername() per connection.
        asio::ip::tcp::endpoint peer;
        auto [ec, socket] = co_await acceptor.async_accept(target.context(), peer, nothrow);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or similar: say so and back off instead of spinning.
            log_line(log_level::error) << "listener=" << listener.cfg.name << " accept failed: " << ec.message();
            asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
            co_await pause.async_wait(nothrow);
            continue;
        }
        listener.counters.accepted.fetch_add(1, std::memory_order_relaxed);
        start_session(std::move(socket), peer, listener, target, env);
    }
}

} // namespace patroxy::proxy
