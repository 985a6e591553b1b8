// The worker pool with real threads: snapshots published from the control thread reach every
// worker whole and in order, work run on each worker is seen done by the caller, and the counts
// the stats read from another thread (live sessions, relay buffers) add up while the workers
// change them. Written to be run under ThreadSanitizer too (ctest label `threads`), where a
// missing hand-off between the threads is a report, not a flaky number.
#include "proxy/net/worker_pool.hpp"

#include <asio/post.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

using patroxy::health::cluster_snapshot;
using patroxy::health::snapshot_ptr;
using patroxy::proxy::pooled_buffer;
using patroxy::proxy::worker;
using patroxy::proxy::worker_pool;

namespace {

constexpr unsigned pool_size = 4;

/// What each worker's after-install hook saw: (previous, current) generations, in order. Each
/// slot is written on its worker's thread only and read after the threads were joined.
struct installs {
    std::array<std::vector<std::pair<std::uint64_t, std::uint64_t>>, pool_size> seen;
};
installs* recorded = nullptr; // publish() takes a plain function pointer: no captures

void record_install(worker& w, const snapshot_ptr& previous, const snapshot_ptr& current)
{
    recorded->seen.at(w.id()).emplace_back(previous ? previous->generation : 0, current->generation);
}

/// On `w`'s thread: takes a session and two relay buffers, gives them back, and posts itself
/// again, `left` times; then counts itself finished.
void churn(worker& w, std::atomic<int>& finished, int left)
{
    if (left == 0) {
        finished.fetch_add(1);
        return;
    }
    w.sessions.fetch_add(1);
    {
        std::array<pooled_buffer, 2> loan{w.buffers().acquire(), w.buffers().acquire()};
        w.sessions.fetch_sub(1);
    }
    asio::post(w.context(), [&w, &finished, left] { churn(w, finished, left - 1); });
}

snapshot_ptr snapshot_of(std::uint64_t generation)
{
    auto s = std::make_shared<cluster_snapshot>();
    s->generation = generation;
    s->members.resize(3); // some heap behind it, so a torn hand-off would show
    return s;
}

} // namespace

TEST_CASE("worker pool: snapshots published from the control thread reach every worker in order",
          "[component][threads]")
{
    installs log;
    recorded = &log;
    constexpr std::uint64_t published = 300;
    worker_pool pool(pool_size);
    pool.start();
    // Meanwhile this thread also reads what each worker holds, on that worker's thread: the
    // generation a worker routes by never goes backwards.
    // Per worker: the workers run the read at the same time.
    std::array<std::uint64_t, pool_size> last_read{};
    std::array<bool, pool_size> went_backwards{};
    for (std::uint64_t g = 1; g <= published; ++g) {
        pool.publish(snapshot_of(g), &record_install);
        if (g % 25 == 0) {
            pool.run_on_each_and_wait([&](worker& w) {
                const auto now = w.snapshot() ? w.snapshot()->generation : 0;
                went_backwards.at(w.id()) = went_backwards.at(w.id()) || now < last_read.at(w.id());
                last_read.at(w.id()) = now;
            });
        }
    }
    pool.stop_when_idle(); // runs what was posted, then joins: the records are complete
    recorded = nullptr;

    for (unsigned id = 0; id < pool_size; ++id) {
        INFO("worker " << id);
        CHECK_FALSE(went_backwards.at(id));
        const auto& seen = log.seen.at(id);
        REQUIRE(seen.size() == published);
        for (std::uint64_t g = 1; g <= published; ++g) CHECK(seen[g - 1] == std::pair{g - 1, g});
        CHECK(pool.at(id).snapshot()->generation == published);
        // By the last read, every worker had installed the 300th snapshot: each read ran after it.
        CHECK(last_read.at(id) == published);
    }
}

TEST_CASE("worker pool: run_on_each_and_wait returns after every worker ran the work, on its own thread",
          "[component][threads]")
{
    worker_pool pool(pool_size);
    pool.start();
    std::array<std::thread::id, pool_size> ran_on{};
    std::array<int, pool_size> runs{}; // plain ints: each written by one worker, read after the wait
    for (int round = 0; round < 50; ++round) {
        pool.run_on_each_and_wait([&](worker& w) {
            ran_on.at(w.id()) = std::this_thread::get_id();
            ++runs.at(w.id());
        });
        for (unsigned id = 0; id < pool_size; ++id) REQUIRE(runs.at(id) == round + 1);
    }
    for (unsigned id = 0; id < pool_size; ++id) {
        CHECK(ran_on.at(id) != std::this_thread::get_id());
        for (unsigned other = id + 1; other < pool_size; ++other) CHECK(ran_on.at(id) != ran_on.at(other));
    }
    pool.stop_now();
}

TEST_CASE("worker pool: session counts and relay buffers read from another thread add up while workers change them",
          "[component][threads]")
{
    worker_pool pool(pool_size);
    pool.start();
    constexpr int rounds = 200;
    std::atomic<int> finished{0};
    pool.run_on_each([&finished](worker& w) { churn(w, finished, rounds); });
    // The stats' reads, meanwhile: never more than the workers could hold at once.
    bool over = false;
    while (finished.load() < static_cast<int>(pool_size)) {
        const auto buffers = pool.relay_buffers();
        over = over || pool.total_sessions() > pool_size || buffers.in_use > 2 * pool_size;
        (void)pool.least_loaded(pool.at(0));
        std::this_thread::yield();
    }
    pool.stop_when_idle();
    CHECK_FALSE(over);
    CHECK(pool.total_sessions() == 0);
    const auto buffers = pool.relay_buffers();
    CHECK(buffers.in_use == 0);
    CHECK(buffers.free == 2 * pool_size); // each worker keeps its two for the next loan
    CHECK(buffers.buffer_size == 32 * 1024);
}
