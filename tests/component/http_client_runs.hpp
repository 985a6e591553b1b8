// Driving http_client from a test: run one get() on a test-owned io_context to completion (with
// how long it took), the short limits the component tests use, and a bounded wait on the context.
#pragma once

#include "health/http/http_client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>

namespace patroxy::test {

/// Runs `task` on `io` until it finishes (at most `limit`), rethrowing what it threw.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
    std::optional<T> result;
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e) result = std::move(value);
        done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) io.restart(); // a previous run() may have drained all work
        io.run_one_until(deadline);
    }
    REQUIRE(done);
    if (error) std::rethrow_exception(error);
    return std::move(*result);
}

/// One get() and how long it took.
struct timed_result {
    std::error_code error;
    health::http_response response;
    std::chrono::milliseconds elapsed{0};
};

inline asio::awaitable<timed_result> timed_get(health::http_client& client, std::string target)
{
    const auto start = std::chrono::steady_clock::now();
    auto [ec, response] = co_await client.get(target);
    timed_result out{ec, std::move(response),
                     std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)};
    co_return out;
}

inline timed_result get(asio::io_context& io, health::http_client& client, std::string target = "/patroni")
{
    return run(io, timed_get(client, std::move(target)));
}

/// Connect (and TLS handshake) 500 ms, response 300 ms.
inline health::http_limits short_limits()
{
    health::http_limits limits;
    limits.connect_timeout = std::chrono::milliseconds(500);
    limits.response_timeout = std::chrono::milliseconds(300);
    return limits;
}

/// Yields to the io_context until `done()` or `limit`.
inline bool wait_until(asio::io_context& io, const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(2))
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return done();
}

} // namespace patroxy::test
