// Starting, feeding and stopping the worker threads.
#include "proxy/net/worker_pool.hpp"

#include "proxy/support/log.hpp"

#include <asio/post.hpp>

#include <condition_variable>
#include <mutex>

namespace patroxy::proxy {

void worker::run()
{
    // Session handlers keep exceptions for bugs (STYLE.md section 4). One that escapes anyway
    // is logged, and the worker goes on serving every other session.
    for (;;) {
        try {
            context_.run();
            return;
        } catch (const std::exception& e) {
            log_line(log_level::error) << "worker=" << id_ << " BUG: unhandled exception in a handler: " << e.what();
        }
    }
}

worker_pool::worker_pool(unsigned count)
{
    if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < count; ++i) workers_.push_back(std::make_unique<worker>(i));
}

worker_pool::~worker_pool() { stop_now(); }

void worker_pool::start()
{
    running_ = true;
    wakes_.store(true, std::memory_order_release);
    for (auto& w : workers_) {
        w->guard_.emplace(w->context_.get_executor());
        w->thread_ = std::thread([&target = *w] { target.run(); });
    }
}

void worker_pool::stop_when_idle()
{
    running_ = false;
    wakes_.store(false, std::memory_order_release);
    for (auto& w : workers_) w->guard_.reset();
    join();
}

void worker_pool::stop_now()
{
    running_ = false;
    wakes_.store(false, std::memory_order_release);
    for (auto& w : workers_) {
        w->guard_.reset();
        w->context_.stop();
    }
    join();
}

void worker_pool::join()
{
    for (auto& w : workers_)
        if (w->thread_.joinable()) w->thread_.join();
}

void worker_pool::publish(const health::snapshot_ptr& snapshot, after_install after)
{
    for (auto& w : workers_) {
        asio::post(w->context_, [&target = *w, snapshot, after] {
            auto previous = target.snapshot();
            target.set_snapshot(snapshot);
            if (after) after(target, previous, snapshot);
        });
    }
}

void worker_pool::wake_queued(slot_waker wake, const listener_runtime* listener)
{
    if (!wakes_.load(std::memory_order_acquire)) return;
    for (auto& w : workers_) asio::post(w->context_, [&target = *w, wake, listener] { wake(target, listener); });
}

void worker_pool::run_on_each(std::function<void(worker&)> fn)
{
    for (auto& w : workers_) asio::post(w->context_, [&target = *w, fn] { fn(target); });
}

void worker_pool::run_on_each_and_wait(const std::function<void(worker&)>& fn)
{
    if (!running_) {
        for (auto& w : workers_) fn(*w);
        return;
    }
    std::mutex mutex;
    std::condition_variable all_done;
    std::size_t pending = workers_.size();
    for (auto& w : workers_) {
        asio::post(w->context_, [&target = *w, &fn, &mutex, &all_done, &pending] {
            fn(target);
            std::lock_guard lock(mutex);
            if (--pending == 0) all_done.notify_one();
        });
    }
    // A worker runs short handlers only, so this is a matter of microseconds.
    std::unique_lock lock(mutex);
    all_done.wait(lock, [&pending] { return pending == 0; });
}

std::uint64_t worker_pool::total_sessions() const noexcept
{
    std::uint64_t total = 0;
    for (const auto& w : workers_) total += w->load();
    return total;
}

worker& worker_pool::least_loaded(worker& accepting) noexcept
{
    worker* best = &accepting;
    auto fewest = accepting.load();
    for (const auto& w : workers_) {
        const auto n = w->load();
        if (n < fewest) {
            best = w.get();
            fewest = n;
        }
    }
    return *best;
}

worker_pool::buffer_counts worker_pool::relay_buffers() const noexcept
{
    buffer_counts counts;
    for (const auto& w : workers_) {
        counts.in_use += w->buffers().in_use();
        counts.free += w->buffers().free_count();
        counts.buffer_size = w->buffers().buffer_size();
    }
    return counts;
}

} // namespace patroxy::proxy
