// One epoll loop over non-blocking libpq connections (level-triggered, as bench/loadgen does). A
// client starts with PQconnectStart at its time slot, is driven by PQconnectPoll until it is
// connected, sends its query, reads the result and is finished at once.
#include "bench/storm/storm.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <regex>
#include <stdexcept>

#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

namespace patroxy::bench {
namespace {

using clock = std::chrono::steady_clock;

/// Descriptors the storm needs besides its clients (stdio, epoll, libpq's own).
constexpr rlim_t spare_descriptors = 64;

void raise_descriptor_limit(std::size_t clients)
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) throw std::runtime_error("getrlimit failed");
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) throw std::runtime_error("setrlimit failed");
    if (limit.rlim_cur < clients + spare_descriptors)
        throw std::runtime_error("the descriptor limit (" + std::to_string(limit.rlim_cur) + ") is below " +
                                 std::to_string(clients + spare_descriptors) + ": raise ulimit -Hn");
}

enum class phase { waiting, connecting, querying, done };

struct client {
    PGconn* conn = nullptr;
    int fd = -1;
    phase at = phase::waiting;
    std::uint32_t events = 0; ///< as registered with epoll
    std::string outcome;      ///< set by a failure or by the query's result
    std::string detail;
};

class storm {
public:
    explicit storm(const storm_options& o) : o_(o), clients_(o.clients)
    {
        report_.clients.resize(o.clients);
        epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    }
    storm(const storm&) = delete;
    storm& operator=(const storm&) = delete;
    ~storm()
    {
        for (auto& c : clients_)
            if (c.conn) PQfinish(c.conn);
        ::close(epfd_);
    }

    storm_report run();

private:
    [[nodiscard]] std::chrono::microseconds since_start() const
    {
        return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start_);
    }
    [[nodiscard]] clock::time_point slot(std::size_t i) const
    {
        return start_ + o_.spread * static_cast<long>(i) / static_cast<long>(o_.clients);
    }
    void start(std::size_t i);
    void drive(std::size_t i);
    void drive_connect(std::size_t i);
    void drive_query(std::size_t i);
    void watch(std::size_t i, std::uint32_t events);
    void finish(std::size_t i, std::string outcome, std::string detail = {});
    void fail_from_connection(std::size_t i);

    const storm_options& o_;
    std::vector<client> clients_;
    storm_report report_;
    int epfd_ = -1;
    clock::time_point start_{};
    std::size_t open_ = 0;
    std::size_t finished_ = 0;
};

std::string first_line(const char* text)
{
    std::string s = text ? text : "";
    s = s.substr(0, s.find('\n'));
    return s;
}

void storm::start(std::size_t i)
{
    auto& c = clients_[i];
    report_.clients[i].started = since_start();
    report_.last_start = report_.clients[i].started;
    c.conn = PQconnectStart(o_.conninfo.c_str());
    if (!c.conn) {
        finish(i, "other", "PQconnectStart: out of memory");
        return;
    }
    // Verbose errors carry the SQLSTATE in the text ("FATAL:  57P03: ..."): libpq has no other way
    // to tell the code of an ErrorResponse received while connecting.
    PQsetErrorVerbosity(c.conn, PQERRORS_VERBOSE);
    ++open_;
    report_.peak_open = std::max(report_.peak_open, open_);
    if (PQstatus(c.conn) == CONNECTION_BAD) {
        fail_from_connection(i);
        return;
    }
    c.at = phase::connecting;
    watch(i, EPOLLOUT); // libpq: after PQconnectStart, act as if PQconnectPoll said WRITING
}

void storm::watch(std::size_t i, std::uint32_t events)
{
    auto& c = clients_[i];
    const int fd = PQsocket(c.conn);
    if (fd != c.fd && c.fd >= 0) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr); // libpq may change it
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    if (fd != c.fd) {
        c.fd = fd;
        c.events = events;
        if (fd >= 0 && ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
            throw std::runtime_error(std::string("epoll_ctl add: ") + std::strerror(errno));
    } else if (events != c.events) {
        c.events = events;
        if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0)
            throw std::runtime_error(std::string("epoll_ctl mod: ") + std::strerror(errno));
    }
}

void storm::finish(std::size_t i, std::string outcome, std::string detail)
{
    auto& c = clients_[i];
    if (c.fd >= 0) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    if (c.conn) {
        PQfinish(c.conn);
        c.conn = nullptr;
        --open_;
    }
    c.fd = -1;
    c.at = phase::done;
    auto& r = report_.clients[i];
    r.outcome = std::move(outcome);
    r.detail = std::move(detail);
    r.ended = since_start();
    ++finished_;
}

void storm::fail_from_connection(std::size_t i)
{
    const std::string message = PQerrorMessage(clients_[i].conn);
    finish(i, classify_failure(message), first_line(message.c_str()));
}

void storm::drive(std::size_t i)
{
    if (clients_[i].at == phase::connecting)
        drive_connect(i);
    else if (clients_[i].at == phase::querying)
        drive_query(i);
}

void storm::drive_connect(std::size_t i)
{
    auto& c = clients_[i];
    switch (PQconnectPoll(c.conn)) {
    case PGRES_POLLING_READING: watch(i, EPOLLIN); return;
    case PGRES_POLLING_WRITING: watch(i, EPOLLOUT); return;
    case PGRES_POLLING_FAILED: fail_from_connection(i); return;
    case PGRES_POLLING_OK:
        if (!PQsendQuery(c.conn, o_.query.c_str())) {
            fail_from_connection(i);
            return;
        }
        c.at = phase::querying;
        watch(i, EPOLLIN);
        return;
    default: return;
    }
}

void storm::drive_query(std::size_t i)
{
    auto& c = clients_[i];
    if (!PQconsumeInput(c.conn)) {
        fail_from_connection(i);
        return;
    }
    while (!PQisBusy(c.conn)) {
        PGresult* r = PQgetResult(c.conn);
        if (!r) {
            if (c.outcome.empty()) c.outcome = "other", c.detail = "no result";
            finish(i, std::move(c.outcome), std::move(c.detail));
            return;
        }
        if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK) {
            if (c.outcome.empty()) c.outcome = "served";
        } else if (c.outcome.empty() || c.outcome == "served") {
            const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            c.outcome = code ? std::string("sqlstate ") + code : classify_failure(PQresultErrorMessage(r));
            c.detail = first_line(PQresultErrorMessage(r));
        }
        PQclear(r);
    }
}

storm_report storm::run()
{
    start_ = clock::now();
    const auto give_up = start_ + o_.spread + o_.client_timeout;
    std::size_t next = 0;
    std::array<epoll_event, 256> events{};
    while (finished_ < o_.clients) {
        const auto now = clock::now();
        while (next < o_.clients && slot(next) <= now) start(next++);
        if (now >= give_up) break;
        int wait_ms = 100;
        if (next < o_.clients)
            wait_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slot(next) - now).count());
        const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), std::max(wait_ms, 0));
        if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        for (int k = 0; k < n; ++k) drive(static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64));
        // A client past its own timeout is a hang, whatever the others do.
        for (std::size_t i = 0; i < next; ++i)
            if (clients_[i].at != phase::done && clock::now() - slot(i) > o_.client_timeout) finish(i, "hang");
    }
    for (std::size_t i = 0; i < o_.clients; ++i)
        if (clients_[i].at != phase::done) finish(i, "hang");
    return std::move(report_);
}

} // namespace

std::string classify_failure(const std::string& message)
{
    static const std::regex coded(R"((FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): )");
    std::smatch m;
    if (std::regex_search(message, m, coded)) return "sqlstate " + m[2].str();
    if (message.find("server closed the connection unexpectedly") != std::string::npos ||
        message.find("Connection reset by peer") != std::string::npos ||
        message.find("SSL SYSCALL error: EOF") != std::string::npos)
        return "closed";
    if (message.find("Connection refused") != std::string::npos) return "refused";
    return "other";
}

storm_report run_storm(const storm_options& options)
{
    raise_descriptor_limit(options.clients);
    storm s(options);
    return s.run();
}

} // namespace patroxy::bench
