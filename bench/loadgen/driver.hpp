// The event loop of one loadgen thread: its share of the clients, each a non-blocking libpq
// connection driven by epoll on PQsocket(), repeating the chosen workload's transaction.
#pragma once

#include "bench/loadgen/options.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace patroxy::bench {

using clock_type = std::chrono::steady_clock;

/// The timeline every thread of one run follows, and the little they share.
struct run_timeline {
    clock_type::time_point start;     ///< clients start connecting
    clock_type::time_point warm_end;  ///< transactions completing from here on are counted
    clock_type::time_point end;       ///< ... up to here; then no new transaction starts
    clock_type::time_point hard_end;  ///< the time limit: whatever is still running is abandoned
    unsigned threads = 1;
    std::atomic<std::uint64_t> counted{0};      ///< transactions counted by all threads
    std::atomic<std::int64_t> closed_at_ns{0};  ///< when max_transactions was reached (0 = not)
    std::atomic<unsigned> threads_ready{0};     ///< idle: threads whose sessions are all open
    std::atomic<std::int64_t> hold_end_ns{0};   ///< idle: set once every thread is ready (0 = not yet)

    static std::int64_t to_ns(clock_type::time_point t) noexcept
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }
};

/// What one thread measured; the threads' results are merged for the report.
struct thread_result {
    std::vector<std::int64_t> latencies_ns; ///< one per counted transaction
    std::uint64_t transactions = 0;         ///< counted in the window
    std::uint64_t all_transactions = 0;     ///< completed without error at any time (warmup included)
    std::uint64_t bytes = 0;                ///< COPY payload moved (counted copies only)
    std::uint64_t errors = 0;
    std::string first_error;
    std::uint64_t sessions_open = 0;        ///< idle: sessions that connected and answered
    std::uint64_t sessions_verified = 0;    ///< idle: sessions still answering after the hold
    clock_type::time_point copy_begin = clock_type::time_point::max();
    clock_type::time_point copy_end = clock_type::time_point::min();
};

/// Runs `clients` connections of the workload in `opts` on the calling thread until the
/// timeline says stop. Throws std::runtime_error only when the loop itself cannot run (epoll).
void run_clients(const options& opts, run_timeline& timeline, unsigned clients, std::uint64_t seed,
                 thread_result& out);

} // namespace patroxy::bench
