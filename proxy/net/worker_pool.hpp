// The event-loop threads. Each worker owns one io_context; a session is accepted into one worker
// and never leaves its thread, so the data path needs no locks or strands (STYLE.md section 2).
#pragma once

#include "health/cluster_snapshot.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace patroxy::proxy {

class worker {
public:
    explicit worker(unsigned id) : id_(id) {}

    [[nodiscard]] unsigned id() const noexcept { return id_; }
    [[nodiscard]] asio::io_context& context() noexcept { return context_; }

    /// The snapshot sessions route by. Read and written on this worker's thread only.
    [[nodiscard]] const health::snapshot_ptr& snapshot() const noexcept { return snapshot_; }
    void set_snapshot(health::snapshot_ptr s) noexcept { snapshot_ = std::move(s); }

    /// Live sessions on this worker (read by other threads to pick the least loaded).
    std::atomic<std::uint32_t> sessions{0};

private:
    friend class worker_pool;
    unsigned id_;
    asio::io_context context_{1}; // concurrency hint 1: exactly one thread runs it
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::thread thread_;
    health::snapshot_ptr snapshot_;
};

class worker_pool {
public:
    /// `count` workers; 0 means one per hardware thread.
    explicit worker_pool(unsigned count);
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    void start();
    /// Lets each loop run out of work and joins the threads.
    void stop_when_idle();
    /// Stops every loop now and joins the threads.
    void stop_now();

    /// The worker with the fewest live sessions: long-lived connections would otherwise pile
    /// up on whichever worker accepted during a burst.
    [[nodiscard]] worker& least_loaded() noexcept;

    /// Hands a new snapshot to every worker (each installs it on its own thread).
    void publish(const health::snapshot_ptr& snapshot);

    [[nodiscard]] std::uint64_t total_sessions() const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }

private:
    void join();
    std::vector<std::unique_ptr<worker>> workers_;
};

} // namespace patroxy::proxy
