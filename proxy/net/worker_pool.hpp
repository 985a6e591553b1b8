// The event-loop threads. Each worker owns one io_context; a session is accepted into one worker
// and never leaves its thread, so the data path needs no locks or strands (STYLE.md section 2).
#pragma once

#include "health/cluster_snapshot.hpp"
#include "proxy/net/buffer_pool.hpp"
#include "proxy/net/drained_reads.hpp"
#include "proxy/net/io_types.hpp"
#include "proxy/support/intrusive_list.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace patroxy::proxy {

class client_session;
struct listener_runtime;

/// The lists a session is in, told apart by tag (support/intrusive_list.hpp).
struct live_list_tag;
struct setup_list_tag;
using live_session_list = intrusive_list<client_session, live_list_tag>;
using setup_session_list = intrusive_list<client_session, setup_list_tag>;

/// A timer that walks a list of sessions now and then (session/deadline_sweeps.cpp), and
/// whether it is armed.
struct session_sweep {
    explicit session_sweep(asio::io_context& context) : timer(context) {}
    steady_deadline timer;
    bool running = false;
};

class worker {
public:
    explicit worker(unsigned id) : id_(id) {}

    [[nodiscard]] unsigned id() const noexcept { return id_; }
    [[nodiscard]] asio::io_context& context() noexcept { return context_; }

    /// The snapshot sessions route by. Read and written on this worker's thread only.
    [[nodiscard]] const health::snapshot_ptr& snapshot() const noexcept { return snapshot_; }

    /// Installs a new snapshot and wakes every session queued in wait_for_snapshot().
    void set_snapshot(health::snapshot_ptr s)
    {
        snapshot_ = std::move(s);
        snapshot_signal_.cancel();
    }

    /// A timer that never expires; installing a snapshot cancels every wait on it, so a queued
    /// session wakes to look at the new snapshot (Asio's timer-as-condition-variable idiom).
    [[nodiscard]] asio::steady_timer& snapshot_signal() noexcept { return snapshot_signal_; }

    /// Live sessions on this worker, so that a snapshot change can close those on a member
    /// that lost its role. Touched on this worker's thread only.
    [[nodiscard]] live_session_list& live_sessions() noexcept { return live_sessions_; }
    /// The live sessions still in startup or connect, whose deadlines are short. This thread only.
    [[nodiscard]] setup_session_list& setup_sessions() noexcept { return setup_sessions_; }

    /// Relay buffers lent to this worker's sessions while they move bytes. Loans on this
    /// thread only; the counts may be read anywhere.
    [[nodiscard]] buffer_pool& buffers() noexcept { return buffers_; }
    [[nodiscard]] const buffer_pool& buffers() const noexcept { return buffers_; }

    /// The relay's reads on this worker's sockets (drained_reads.hpp).
    [[nodiscard]] drained_reads& reads() noexcept { return reads_; }

    /// The timers that check the deadlines of all of this worker's sessions: the relay's idle
    /// deadlines over every live session, and the startup and connect deadlines over the
    /// setup sessions, more often (session/deadline_sweeps.cpp). This thread only.
    [[nodiscard]] session_sweep& idle_sweep() noexcept { return idle_sweep_; }
    [[nodiscard]] session_sweep& setup_sweep() noexcept { return setup_sweep_; }

    /// Live sessions on this worker (read by other threads for the drain and the stats).
    std::atomic<std::uint32_t> sessions{0};
    /// Connections another worker accepted and handed to this one, on their way to becoming
    /// sessions here: load already, so the rest of the accepting worker's batch sees them.
    std::atomic<std::uint32_t> arriving{0};
    /// Sessions and arriving connections: what the accept balances by. Any thread.
    [[nodiscard]] std::uint64_t load() const noexcept
    {
        return std::uint64_t{sessions.load(std::memory_order_relaxed)} + arriving.load(std::memory_order_relaxed);
    }

private:
    friend class worker_pool;
    /// Runs the context on this worker's thread until it stops.
    void run();

    unsigned id_;
    // Declared before the io_context, so they outlive it: destroying the context destroys the
    // handlers still pending, and with them the sessions, which leave these on the way out.
    live_session_list live_sessions_;
    setup_session_list setup_sessions_;
    /// 32 KiB: a whole startup packet (at most 10000 bytes) fits, and a COPY moves in few
    /// syscalls. Up to 64 idle buffers (2 MiB) are kept for the next busy sessions.
    buffer_pool buffers_{32 * 1024, 64};
    asio::io_context context_{1}; // concurrency hint 1: exactly one thread runs it
    drained_reads reads_{context_};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::thread thread_;
    health::snapshot_ptr snapshot_;
    asio::steady_timer snapshot_signal_{context_, asio::steady_timer::time_point::max()};
    session_sweep idle_sweep_{context_};
    session_sweep setup_sweep_{context_};
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

    /// Hands a new snapshot to every worker: each installs it on its own thread, then calls
    /// `after(worker, previous, current)` there (to close sessions that lost their member).
    using after_install = void (*)(worker&, const health::snapshot_ptr& previous, const health::snapshot_ptr& current);
    void publish(const health::snapshot_ptr& snapshot, after_install after = nullptr);

    /// A slot of one of `listener`'s members has freed: runs `wake(worker, listener)` on every
    /// worker's own thread, to wake one session waiting there for such a slot. `listener` is
    /// only compared, never read (the listener may be gone by then). Any thread.
    using slot_waker = void (*)(worker&, const listener_runtime* listener);
    void wake_queued(slot_waker wake, const listener_runtime* listener);

    /// Runs `fn(worker)` on every worker's own thread (e.g. to close some of its sessions).
    void run_on_each(std::function<void(worker&)> fn);
    /// The same, and returns once every worker has run it (at once, on this thread, before
    /// start() or after the workers stopped). For what the caller must see done, such as
    /// listening sockets closed before their address is bound again. Not on a worker thread.
    void run_on_each_and_wait(const std::function<void(worker&)>& fn);

    /// Live sessions over all workers, with the connections on their way to one (the drain
    /// waits for those too).
    [[nodiscard]] std::uint64_t total_sessions() const noexcept;
    /// The worker a new session should go to: `accepting`, unless another has fewer sessions
    /// (then the one with the fewest). The kernel spreads connections over the workers'
    /// SO_REUSEPORT sockets by a hash of their addresses, not by load: 8 clients landed 6 and 2
    /// as often as 4 and 4, and the busier worker set the pace and the tail latency.
    [[nodiscard]] worker& least_loaded(worker& accepting) noexcept;
    /// Relay buffers over all workers: lent out, and kept for reuse. Any thread.
    struct buffer_counts {
        std::size_t in_use = 0;
        std::size_t free = 0;
        std::size_t buffer_size = 0;
    };
    [[nodiscard]] buffer_counts relay_buffers() const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }
    /// The worker with id `i` (0 <= i < size()).
    [[nodiscard]] worker& at(std::size_t i) noexcept { return *workers_[i]; }

private:
    void join();
    std::vector<std::unique_ptr<worker>> workers_;
    bool running_ = false; ///< between start() and a stop; changed on the control thread only
    /// wake_queued() posts only between start() and a stop: a session destroyed with its
    /// worker's io_context must not post into a context already gone.
    std::atomic<bool> wakes_{false};
};

} // namespace patroxy::proxy
