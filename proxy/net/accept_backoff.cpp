#include "proxy/net/accept_backoff.hpp"

#include "proxy/support/log.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>

#include <sys/resource.h>

namespace patroxy::proxy {
namespace {

/// " (the descriptor limit is N: raise LimitNOFILE or ulimit -n)" when the failure is the
/// process's own limit, which is what an operator can change.
std::string limit_hint(std::error_code failure)
{
    // By value: Asio's system category does not map its codes to std::errc.
    if (failure.value() != EMFILE) return {};
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    return " (the descriptor limit is " + std::to_string(limit.rlim_cur) + ": raise LimitNOFILE or ulimit -n)";
}

} // namespace

std::chrono::milliseconds accept_backoff_wait(unsigned failures) noexcept
{
    auto wait = accept_backoff::first_wait;
    for (unsigned i = 1; i < failures && wait < accept_backoff::longest_wait; ++i) wait *= 2;
    return std::min(wait, accept_backoff::longest_wait);
}

task<void> accept_backoff::wait(std::error_code failure)
{
    if (failures_++ == 0) {
        since_ = std::chrono::steady_clock::now();
        pauses_.fetch_add(1, std::memory_order_relaxed);
        log_line(log_level::error) << who_ << " accepts paused: " << failure.message() << limit_hint(failure)
                                   << "; new connections wait in the backlog, retrying every "
                                   << accept_backoff::longest_wait.count() << " ms at most";
    }
    steady_deadline timer(co_await asio::this_coro::executor, accept_backoff_wait(failures_));
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable_t<io_executor>{}));
}

void accept_backoff::succeeded()
{
    if (failures_ == 0) return;
    const auto paused_for =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since_);
    log_line(log_level::warning) << who_ << " accepts resumed after " << paused_for.count() << " ms (" << failures_
                                 << " failed tries)";
    failures_ = 0;
}

} // namespace patroxy::proxy
