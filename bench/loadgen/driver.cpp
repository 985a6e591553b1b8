// One loadgen thread: a level-triggered epoll loop over non-blocking libpq connections. Each
// client is a small state machine (connecting -> waiting for results -> next transaction), so
// thousands of connections cost one thread and no blocking call.
#include "bench/loadgen/driver.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <sys/epoll.h>
#include <unistd.h>

namespace patroxy::bench {

namespace {

/// The pgbench -S statement; pgbench-select sends it as text, prepared and pipeline bind $1.
constexpr const char* pgbench_sql_prefix = "SELECT abalance FROM pgbench_accounts WHERE aid = ";
constexpr const char* pgbench_sql_prepared = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
constexpr const char* statement_name = "patroxy_bench";
/// Rows per COPY IN chunk handed to PQputCopyData (a chunk is one CopyData message).
constexpr std::size_t copy_in_chunk_target = 64 * 1024;
/// How long in-flight transactions may finish after the window before they are abandoned.
constexpr auto drain_grace = std::chrono::seconds(2);

enum class stage {
    closed,     ///< no connection (never opened, finished, or failed)
    connecting, ///< PQconnectPoll in progress
    waiting,    ///< a command was sent; collecting its results
    copy_out,   ///< receiving CopyData
    copy_in,    ///< sending CopyData
    holding,    ///< idle mode: open, nothing to do until the hold ends
    ready,      ///< connected and between transactions (only once the window has ended)
};

/// Why the results being collected were asked for.
enum class purpose { none, prepare, transaction, probe, copy };

struct client {
    PGconn* conn = nullptr;
    int fd = -1;
    std::uint32_t events = 0; ///< as registered with epoll
    stage st = stage::closed;
    purpose why = purpose::none;
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    bool want_write = false;   ///< libpq has output it could not send yet
    bool result_error = false; ///< an error result arrived for the current command
    unsigned nulls = 0;        ///< consecutive NULL results (pipeline mode)
    bool copy_end_sent = false;
    std::uint64_t copy_left = 0;  ///< copy-in bytes still to send
    std::uint64_t copy_moved = 0; ///< payload bytes moved by this copy
    clock_type::time_point tx_start;
};

/// xorshift64*: a fast, seeded source for the random aid.
class random_source {
public:
    explicit random_source(std::uint64_t seed) noexcept : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
    std::uint64_t next() noexcept
    {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1Dull;
    }

private:
    std::uint64_t state_;
};

class driver {
public:
    driver(const options& opts, run_timeline& timeline, unsigned clients, std::uint64_t seed, thread_result& out)
        : o_(opts), tl_(timeline), out_(out), clients_(clients), rng_(seed)
    {
        epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
        if (o_.mode == workload::copy_in) {
            const std::size_t rows = std::max<std::size_t>(1, copy_in_chunk_target / o_.copy_row_bytes);
            copy_chunk_.reserve(rows * o_.copy_row_bytes);
            for (std::size_t r = 0; r < rows; ++r) {
                copy_chunk_.append(o_.copy_row_bytes - 1, 'x');
                copy_chunk_.push_back('\n');
            }
        }
        if (o_.mode == workload::copy_out) {
            // PostgreSQL generates the rows itself; the stub backend reads the two numbers.
            const std::uint64_t rows = std::max<std::uint64_t>(1, o_.copy_bytes / o_.copy_row_bytes / clients);
            copy_out_sql_ = "COPY (SELECT repeat('x', " + std::to_string(o_.copy_row_bytes - 1) +
                            ") FROM generate_series(1, " + std::to_string(rows) + ")) TO STDOUT";
        }
        out_.latencies_ns.reserve(std::min<std::uint64_t>(o_.max_transactions, 1u << 20));
    }

    ~driver()
    {
        for (auto& c : clients_) close(c);
        ::close(epfd_);
    }

    driver(const driver&) = delete;
    driver& operator=(const driver&) = delete;

    void run();

private:
    bool time_based() const noexcept
    {
        return o_.mode != workload::copy_out && o_.mode != workload::copy_in && o_.mode != workload::idle;
    }

    void start_connect(client& c);
    void step_connect(client& c);
    void on_connected(client& c);
    void on_event(client& c, std::uint32_t events);
    void progress(client& c);
    void drain_results(client& c);
    void command_done(client& c);
    void begin_transaction(client& c);
    void finish_transaction(client& c, bool ok);
    void pull_copy(client& c);
    void push_copy(client& c);
    /// The result of PQputCopyData / PQputCopyEnd: true when accepted; otherwise the client
    /// now waits for the socket (0) or has failed (-1).
    bool copy_call_accepted(client& c, int result, const char* what);
    bool send_started(client& c, int sent, purpose why);
    void flush(client& c);
    void watch(client& c);
    void fail(client& c, const std::string& what);
    void close(client& c);
    void note_error(const std::string& what);
    bool record(clock_type::time_point start, clock_type::time_point now);
    std::size_t index_of(const client& c) const noexcept { return static_cast<std::size_t>(&c - clients_.data()); }

    // Idle mode.
    void open_more_idle();
    void idle_opened(client& c, bool ok);
    void probe_all_held();

    const options& o_;
    run_timeline& tl_;
    thread_result& out_;
    std::vector<client> clients_;
    random_source rng_;
    int epfd_ = -1;
    bool stopping_ = false;
    std::string copy_chunk_;
    std::string copy_out_sql_;
    std::array<char, 96> sql_{};
    // Idle mode.
    std::size_t next_to_open_ = 0;
    unsigned connecting_ = 0;
    std::size_t opened_or_failed_ = 0;
    bool ready_announced_ = false;
    bool probing_ = false;
};

void driver::note_error(const std::string& what)
{
    ++out_.errors;
    if (out_.first_error.empty()) {
        out_.first_error = what;
        while (!out_.first_error.empty() && (out_.first_error.back() == '\n' || out_.first_error.back() == ' '))
            out_.first_error.pop_back();
    }
}

bool driver::record(clock_type::time_point start, clock_type::time_point now)
{
    if (now < tl_.warm_end || now > tl_.end) return false;
    if (tl_.counted.fetch_add(1, std::memory_order_relaxed) >= o_.max_transactions) {
        std::int64_t expected = 0;
        tl_.closed_at_ns.compare_exchange_strong(expected, run_timeline::to_ns(now));
        return false;
    }
    out_.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count());
    ++out_.transactions;
    return true;
}

void driver::watch(client& c)
{
    if (c.conn == nullptr) return;
    const int fd = PQsocket(c.conn);
    std::uint32_t wanted = 0;
    if (c.st == stage::connecting)
        wanted = c.poll == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT;
    else
        wanted = EPOLLIN | (c.want_write ? EPOLLOUT : 0u);
    if (fd == c.fd && wanted == c.events) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.u64 = index_of(c);
    if (fd != c.fd) {
        // libpq may switch sockets while connecting (another address); the old one is closed,
        // which already removed it from the epoll set.
        if (c.fd >= 0) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
        c.fd = fd;
        if (fd >= 0 && ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
            throw std::runtime_error(std::string("epoll_ctl add: ") + std::strerror(errno));
    } else if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
        throw std::runtime_error(std::string("epoll_ctl mod: ") + std::strerror(errno));
    }
    c.events = wanted;
}

void driver::close(client& c)
{
    if (c.conn == nullptr) return;
    if (c.fd >= 0) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    c.fd = -1;
    c.events = 0;
    PQfinish(c.conn);
    c.conn = nullptr;
    c.st = stage::closed;
    c.want_write = false;
}

void driver::fail(client& c, const std::string& what)
{
    // Idle mode: a session failing before its first answer still counts as one opened (or not).
    const bool opening = c.st == stage::connecting || (c.st == stage::waiting && c.why == purpose::probe && !probing_);
    note_error(what);
    close(c);
    if (o_.mode == workload::idle) {
        if (opening) idle_opened(c, false);
        return;
    }
    // Connect-per-transaction clients go on with a new connection; the others are done.
    if (o_.mode == workload::connect && !stopping_) start_connect(c);
}

void driver::start_connect(client& c)
{
    c.tx_start = clock_type::now();
    c.conn = PQconnectStart(o_.conninfo.c_str());
    if (c.conn == nullptr) {
        note_error("PQconnectStart: out of memory");
        if (o_.mode == workload::idle) idle_opened(c, false);
        return;
    }
    c.st = stage::connecting;
    c.poll = PGRES_POLLING_WRITING; // as the libpq docs say to assume after PQconnectStart
    c.fd = -1;
    c.events = 0;
    if (PQstatus(c.conn) == CONNECTION_BAD) {
        fail(c, std::string("connect: ") + PQerrorMessage(c.conn));
        return;
    }
    watch(c);
}

void driver::step_connect(client& c)
{
    c.poll = PQconnectPoll(c.conn);
    switch (c.poll) {
    case PGRES_POLLING_OK:
        on_connected(c);
        return;
    case PGRES_POLLING_FAILED:
        fail(c, std::string("connect: ") + PQerrorMessage(c.conn));
        return;
    default:
        watch(c);
        return;
    }
}

bool driver::send_started(client& c, int sent, purpose why)
{
    if (sent != 1) {
        fail(c, std::string("send: ") + PQerrorMessage(c.conn));
        return false;
    }
    c.st = stage::waiting;
    c.why = why;
    c.result_error = false;
    c.nulls = 0;
    flush(c);
    return c.conn != nullptr;
}

void driver::on_connected(client& c)
{
    if (PQsetnonblocking(c.conn, 1) != 0) {
        fail(c, std::string("PQsetnonblocking: ") + PQerrorMessage(c.conn));
        return;
    }
    switch (o_.mode) {
    case workload::prepared:
    case workload::pipeline:
        send_started(c, PQsendPrepare(c.conn, statement_name, pgbench_sql_prepared, 1, nullptr), purpose::prepare);
        return;
    case workload::copy_out:
        c.copy_moved = 0;
        c.tx_start = clock_type::now();
        send_started(c, PQsendQuery(c.conn, copy_out_sql_.c_str()), purpose::copy);
        return;
    case workload::copy_in: {
        const std::uint64_t share = o_.copy_bytes / clients_.size();
        c.copy_left = std::max<std::uint64_t>(1, share / o_.copy_row_bytes) * o_.copy_row_bytes;
        c.copy_moved = 0;
        c.copy_end_sent = false;
        c.tx_start = clock_type::now();
        send_started(c, PQsendQuery(c.conn, o_.copy_in_sql.c_str()), purpose::copy);
        return;
    }
    case workload::idle:
        send_started(c, PQsendQuery(c.conn, "SELECT 1"), purpose::probe);
        return;
    default:
        begin_transaction(c);
        return;
    }
}

void driver::begin_transaction(client& c)
{
    if (stopping_) {
        c.st = stage::ready;
        watch(c);
        return;
    }
    if (o_.mode != workload::connect) c.tx_start = clock_type::now(); // connect: since the connect began
    char aid[16];
    std::snprintf(aid, sizeof aid, "%u", static_cast<unsigned>(rng_.next() % o_.accounts + 1));
    const char* const params[1] = {aid};
    int sent = 0;
    switch (o_.mode) {
    case workload::pgbench_select:
        std::snprintf(sql_.data(), sql_.size(), "%s%s", pgbench_sql_prefix, aid);
        sent = PQsendQuery(c.conn, sql_.data());
        break;
    case workload::prepared:
        sent = PQsendQueryPrepared(c.conn, statement_name, 1, params, nullptr, nullptr, 0);
        break;
    case workload::pipeline:
        sent = 1;
        for (unsigned i = 0; i < o_.pipeline_depth && sent == 1; ++i) {
            if (i > 0) std::snprintf(aid, sizeof aid, "%u", static_cast<unsigned>(rng_.next() % o_.accounts + 1));
            sent = PQsendQueryPrepared(c.conn, statement_name, 1, params, nullptr, nullptr, 0);
        }
        if (sent == 1) sent = PQpipelineSync(c.conn);
        break;
    default: // select1, connect
        sent = PQsendQuery(c.conn, "SELECT 1");
        break;
    }
    send_started(c, sent, purpose::transaction);
}

void driver::flush(client& c)
{
    const int r = PQflush(c.conn);
    if (r < 0) {
        fail(c, std::string("flush: ") + PQerrorMessage(c.conn));
        return;
    }
    c.want_write = r == 1;
    watch(c);
}

void driver::on_event(client& c, std::uint32_t events)
{
    if (c.conn == nullptr) return;
    if (c.st == stage::connecting) {
        step_connect(c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && PQconsumeInput(c.conn) == 0) {
        fail(c, std::string("read: ") + PQerrorMessage(c.conn));
        return;
    }
    if (c.want_write) {
        // libpq's rule for non-blocking sends: flush again on either readiness.
        flush(c);
        if (c.conn == nullptr) return;
    }
    progress(c);
}

void driver::progress(client& c)
{
    switch (c.st) {
    case stage::waiting:
        drain_results(c);
        return;
    case stage::copy_out:
        pull_copy(c);
        return;
    case stage::copy_in:
        if (!c.want_write) push_copy(c);
        return;
    case stage::holding:
    case stage::ready:
        if (PQstatus(c.conn) == CONNECTION_BAD) fail(c, std::string("session lost: ") + PQerrorMessage(c.conn));
        return;
    default:
        return;
    }
}

void driver::drain_results(client& c)
{
    while (c.st == stage::waiting && c.conn != nullptr) {
        if (PQisBusy(c.conn)) return;
        PGresult* r = PQgetResult(c.conn);
        if (r == nullptr) {
            // In pipeline mode a NULL only ends one query's results; the Sync ends the batch.
            if (o_.mode == workload::pipeline && c.why == purpose::transaction && ++c.nulls <= o_.pipeline_depth)
                continue;
            command_done(c);
            return;
        }
        c.nulls = 0;
        const ExecStatusType status = PQresultStatus(r);
        switch (status) {
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            break;
        case PGRES_COPY_OUT:
            PQclear(r);
            c.st = stage::copy_out;
            pull_copy(c);
            return;
        case PGRES_COPY_IN:
            PQclear(r);
            c.st = stage::copy_in;
            push_copy(c);
            return;
        case PGRES_PIPELINE_SYNC:
            PQclear(r);
            command_done(c);
            return;
        default:
            c.result_error = true;
            note_error(std::string(PQresStatus(status)) + ": " + PQresultErrorMessage(r));
            break;
        }
        PQclear(r);
    }
}

void driver::command_done(client& c)
{
    const bool ok = !c.result_error;
    c.result_error = false;
    switch (c.why) {
    case purpose::prepare:
        if (!ok) {
            fail(c, "prepare failed");
            return;
        }
        if (o_.mode == workload::pipeline && PQenterPipelineMode(c.conn) != 1) {
            fail(c, std::string("PQenterPipelineMode: ") + PQerrorMessage(c.conn));
            return;
        }
        begin_transaction(c);
        return;
    case purpose::transaction:
        finish_transaction(c, ok);
        return;
    case purpose::probe:
        if (probing_) {
            if (ok) ++out_.sessions_verified;
            close(c);
        } else {
            idle_opened(c, ok);
        }
        return;
    case purpose::copy: {
        const auto now = clock_type::now();
        if (ok) {
            ++out_.transactions;
            ++out_.all_transactions;
            out_.bytes += c.copy_moved;
            out_.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.tx_start).count());
            out_.copy_begin = std::min(out_.copy_begin, c.tx_start);
            out_.copy_end = std::max(out_.copy_end, now);
        }
        close(c);
        return;
    }
    case purpose::none:
        return;
    }
}

void driver::finish_transaction(client& c, bool ok)
{
    const auto now = clock_type::now();
    if (ok) {
        ++out_.all_transactions;
        record(c.tx_start, now);
    }
    if (o_.mode == workload::connect) {
        close(c);
        if (!stopping_) start_connect(c);
        return;
    }
    begin_transaction(c);
}

void driver::pull_copy(client& c)
{
    for (;;) {
        char* row = nullptr;
        const int n = PQgetCopyData(c.conn, &row, 1);
        if (n > 0) {
            c.copy_moved += static_cast<std::uint64_t>(n);
            PQfreemem(row);
            continue;
        }
        if (n == 0) return; // wait for more input
        if (n == -1) {      // COPY done; its CommandComplete follows as a result
            c.st = stage::waiting;
            drain_results(c);
            return;
        }
        fail(c, std::string("copy out: ") + PQerrorMessage(c.conn));
        return;
    }
}

bool driver::copy_call_accepted(client& c, int result, const char* what)
{
    if (result == 1) return true;
    if (result == 0) { // non-blocking and libpq's buffer is full: wait until the socket drains
        c.want_write = true;
        watch(c);
    } else {
        fail(c, std::string(what) + ": " + PQerrorMessage(c.conn));
    }
    return false;
}

void driver::push_copy(client& c)
{
    while (c.copy_left > 0) {
        // Backpressure: libpq grows its buffer instead of refusing data, so hand it the next
        // chunk only once everything before has reached the socket.
        flush(c);
        if (c.conn == nullptr || c.want_write) return;
        const auto n = static_cast<int>(std::min<std::uint64_t>(copy_chunk_.size(), c.copy_left));
        if (!copy_call_accepted(c, PQputCopyData(c.conn, copy_chunk_.data(), n), "copy in")) return;
        c.copy_left -= static_cast<std::uint64_t>(n);
        c.copy_moved += static_cast<std::uint64_t>(n);
    }
    if (!c.copy_end_sent) {
        if (!copy_call_accepted(c, PQputCopyEnd(c.conn, nullptr), "copy end")) return;
        c.copy_end_sent = true;
    }
    c.st = stage::waiting;
    flush(c);
    if (c.conn != nullptr) drain_results(c);
}

void driver::open_more_idle()
{
    while (connecting_ < o_.connect_concurrency && next_to_open_ < clients_.size()) {
        client& c = clients_[next_to_open_++];
        ++connecting_;
        start_connect(c);
    }
}

void driver::idle_opened(client& c, bool ok)
{
    --connecting_;
    ++opened_or_failed_;
    if (ok) {
        ++out_.sessions_open;
        ++out_.all_transactions;
        record(c.tx_start, clock_type::now());
        c.st = stage::holding;
        c.why = purpose::none;
        watch(c);
    } else if (c.conn != nullptr) {
        note_error("session did not answer its first query");
        close(c);
    }
    open_more_idle();
}

void driver::probe_all_held()
{
    probing_ = true;
    for (auto& c : clients_) {
        if (c.st != stage::holding) continue;
        send_started(c, PQsendQuery(c.conn, "SELECT 1"), purpose::probe);
    }
}

void driver::run()
{
    if (o_.mode == workload::idle) {
        open_more_idle();
    } else {
        for (auto& c : clients_) start_connect(c);
    }
    std::array<epoll_event, 256> events{};
    clock_type::time_point stop_at = clock_type::time_point::max();
    for (;;) {
        const auto now = clock_type::now();
        if (now >= tl_.hard_end) {
            std::size_t running = 0;
            for (const auto& c : clients_)
                if (c.conn != nullptr && c.st != stage::ready) ++running;
            if (running > 0) note_error("time limit reached with " + std::to_string(running) + " clients still busy");
            return;
        }
        bool busy = false;
        for (const auto& c : clients_) {
            if (c.conn != nullptr && c.st != stage::ready && c.st != stage::holding) {
                busy = true;
                break;
            }
        }
        if (time_based()) {
            if (!stopping_ && (now >= tl_.end || tl_.closed_at_ns.load(std::memory_order_relaxed) != 0)) {
                stopping_ = true;
                stop_at = now;
            }
            if (stopping_ && (!busy || now >= stop_at + drain_grace)) return;
        } else if (o_.mode == workload::idle) {
            if (!ready_announced_ && opened_or_failed_ == clients_.size()) {
                ready_announced_ = true;
                if (tl_.threads_ready.fetch_add(1) + 1 == tl_.threads) {
                    const auto hold_end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                                  std::chrono::duration<double>(o_.duration_s));
                    tl_.hold_end_ns.store(run_timeline::to_ns(hold_end));
                    std::fprintf(stderr, "READY idle sessions=%llu\n",
                                 static_cast<unsigned long long>(tl_.counted.load()));
                    std::fflush(stderr);
                }
            }
            const auto hold_end_ns = tl_.hold_end_ns.load();
            if (ready_announced_ && !probing_ && hold_end_ns != 0 && run_timeline::to_ns(now) >= hold_end_ns) {
                probe_all_held();
                continue; // the probes make the clients busy again
            }
            if (probing_ && !busy) return;
        } else if (!busy) {
            return; // copies: every client has finished (or failed)
        }

        int timeout_ms = 50;
        if (time_based() && !stopping_)
            timeout_ms = static_cast<int>(std::clamp<std::int64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(tl_.end - now).count() + 1, 1, 50));
        const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        }
        for (int i = 0; i < n; ++i) {
            const auto& ev = events[static_cast<std::size_t>(i)];
            on_event(clients_[ev.data.u64], ev.events);
        }
    }
}

} // namespace

void run_clients(const options& opts, run_timeline& timeline, unsigned clients, std::uint64_t seed,
                 thread_result& out)
{
    driver d(opts, timeline, clients, seed, out);
    d.run();
}

} // namespace patroxy::bench
