// What the control thread's small servers share (the stats listener's HTTP server, the runtime
// API's Unix socket): racing one operation against a deadline, the accept loop that hands each
// socket to its owner, and the coroutine that runs one connection. Header-only, so the leaf
// libraries that run those servers (proxy/stats, proxy/admin) use it without linking the proxy.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

namespace patroxy::proxy::control {

/// Completion token that reports errors as values (STYLE.md section 4).
inline constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

/// Runs `op` until it completes or `timer` (already set) expires; nullopt when the timer won
/// (expiry, or a cancel of the timer). `op` is taken by reference so that no class-type
/// temporary sits in the caller's co_await expression (GCC 12 mishandles those).
template <typename... R>
asio::awaitable<std::optional<std::tuple<R...>>> before_deadline(asio::awaitable<std::tuple<R...>>& op,
                                                                  asio::steady_timer& timer)
{
    using namespace asio::experimental::awaitable_operators;
    auto wait = timer.async_wait(nothrow_awaitable);
    auto race = std::move(op) || std::move(wait);
    auto result = co_await std::move(race);
    std::optional<std::tuple<R...>> out;
    if (result.index() == 0) out = std::get<0>(std::move(result));
    co_return out;
}

/// Accepts on `acceptor` until it is closed or `stopped()` says so, handing each new socket to
/// `take(socket)`. An accept that fails otherwise (out of descriptors) pauses 100 ms instead of
/// spinning on the error. The caller keeps `acceptor` alive across the await.
template <typename Acceptor, typename Stopped, typename Take>
asio::awaitable<void> accept_each(Acceptor& acceptor, Stopped stopped, Take take)
{
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow_awaitable);
        if (stopped() || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await pause.async_wait(nothrow_awaitable);
            continue;
        }
        take(std::move(socket));
    }
}

/// A connection coroutine's exception is a bug in its server (or bad_alloc). The leaf libraries
/// have no logger, and rethrowing would stop the control thread's io_context; the connection is
/// closed by its destructor either way.
inline void ignore_exception(const std::exception_ptr&) noexcept {}

/// Runs `connection->run()` on `executor`, the connection kept alive by the coroutine's frame.
template <typename Executor, typename Connection>
void spawn_connection(const Executor& executor, std::shared_ptr<Connection> connection)
{
    asio::co_spawn(
        executor, [](std::shared_ptr<Connection> c) -> asio::awaitable<void> { co_await c->run(); }(std::move(connection)),
        ignore_exception);
}

} // namespace patroxy::proxy::control
