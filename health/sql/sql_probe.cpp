// probe_recovery(): libpq's asynchronous connection and query API (PQconnectPoll, PQsendQuery,
// PQconsumeInput/PQisBusy/PQgetResult) with the waiting done by asio on libpq's socket, raced
// against a timer so a member that accepts and then hangs costs at most the health timeout.
#include "health/sql/sql_probe.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>

namespace patroxy::health {
namespace {

using clock = std::chrono::steady_clock;
using wait_type = asio::posix::descriptor_base::wait_type;
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

/// A libpq connection and the descriptor its socket is awaited with. libpq owns the fd: the
/// descriptor holds it only during one wait (libpq may replace the socket inside PQconnectPoll,
/// e.g. when it falls back from SSL or to the next address, and the new one can reuse the number),
/// and it is released, never closed, before PQfinish().
struct pq_link {
    PGconn* conn = nullptr;
    asio::posix::stream_descriptor socket;

    explicit pq_link(asio::any_io_executor ex) : socket(std::move(ex)) {}
    pq_link(const pq_link&) = delete;
    pq_link& operator=(const pq_link&) = delete;
    ~pq_link()
    {
        if (socket.is_open()) socket.release();
        if (conn != nullptr) PQfinish(conn);
    }
};

struct pq_result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using pq_result = std::unique_ptr<PGresult, pq_result_deleter>;

/// libpq's last error on `conn`, without the trailing newline it always adds.
std::string pq_error(const PGconn* conn)
{
    std::string text = PQerrorMessage(conn);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text.empty() ? "libpq reported an error without a message" : text;
}

/// Waits until libpq's current socket is ready for `what`. Returns why not, or "" when ready.
/// PQsocket() is read afresh for every wait because the fd can change between polls.
asio::awaitable<std::string> wait_socket(pq_link& link, wait_type what)
{
    const int fd = PQsocket(link.conn);
    if (fd < 0) co_return std::string("libpq has no socket");
    std::error_code ec;
    link.socket.assign(fd, ec);
    if (ec) co_return "cannot watch the libpq socket: " + ec.message();
    auto [wait_ec] = co_await link.socket.async_wait(what, nothrow);
    link.socket.release();
    if (wait_ec) co_return wait_ec.message();
    co_return std::string();
}

/// Reads the answer to SELECT pg_is_in_recovery() into `r`.
void read_answer(const PGresult* res, sql_probe_result& r)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        std::string text = PQresultErrorMessage(res);
        while (!text.empty() && text.back() == '\n') text.pop_back();
        r.error = text.empty() ? std::string(PQresStatus(PQresultStatus(res))) : text;
        return;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0) != 0) {
        r.error = "unexpected answer to SELECT pg_is_in_recovery()";
        return;
    }
    const std::string_view value = PQgetvalue(res, 0, 0);
    if (value != "t" && value != "f") {
        r.error = "unexpected answer to SELECT pg_is_in_recovery(): " + std::string(value);
        return;
    }
    r.ok = true;
    r.in_recovery = value == "t";
}

/// The connection handshake and the query, on a connection PQconnectStartParams() began.
/// Ends at the first failure; the caller bounds it in time and cleans up.
asio::awaitable<sql_probe_result> converse(pq_link& link)
{
    sql_probe_result r;
    // libpq: before the first PQconnectPoll(), act as if it had returned PGRES_POLLING_WRITING.
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
        if (poll == PGRES_POLLING_FAILED) {
            r.error = pq_error(link.conn);
            co_return r;
        }
        if (poll == PGRES_POLLING_READING || poll == PGRES_POLLING_WRITING) {
            const wait_type what = poll == PGRES_POLLING_READING ? wait_type::wait_read : wait_type::wait_write;
            std::string waited = co_await wait_socket(link, what);
            if (!waited.empty()) {
                r.error = std::move(waited);
                co_return r;
            }
        }
        poll = PQconnectPoll(link.conn);
    }

    // Non-blocking from here on, so neither the query nor PQfinish()'s Terminate can block on send.
    if (PQsetnonblocking(link.conn, 1) != 0 || PQsendQuery(link.conn, "SELECT pg_is_in_recovery()") == 0) {
        r.error = pq_error(link.conn);
        co_return r;
    }
    for (;;) {
        const int flushed = PQflush(link.conn);
        if (flushed == 0) break;
        if (flushed < 0) {
            r.error = pq_error(link.conn);
            co_return r;
        }
        std::string waited = co_await wait_socket(link, wait_type::wait_write);
        if (!waited.empty()) {
            r.error = std::move(waited);
            co_return r;
        }
    }

    // Every result must be read (libpq's rule), the last being null; the first failure wins.
    bool answered = false;
    for (;;) {
        if (PQisBusy(link.conn) == 0) {
            const pq_result res(PQgetResult(link.conn));
            if (!res) break;
            if (!answered) read_answer(res.get(), r);
            answered = true;
            continue;
        }
        std::string waited = co_await wait_socket(link, wait_type::wait_read);
        if (!waited.empty()) {
            r.error = std::move(waited);
            r.ok = false;
            co_return r;
        }
        if (PQconsumeInput(link.conn) == 0) {
            r.error = pq_error(link.conn);
            r.ok = false;
            co_return r;
        }
    }
    if (!answered) r.error = "no answer to SELECT pg_is_in_recovery()";
    co_return r;
}

/// libpq's connect_timeout is whole seconds and at least 2; it only matters if libpq ever waits
/// itself, since our timer bounds the whole check.
std::string connect_timeout_seconds(std::chrono::milliseconds timeout)
{
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(timeout).count();
    return std::to_string(std::max<decltype(seconds)>(seconds, 2));
}

} // namespace

asio::awaitable<sql_probe_result> probe_recovery(asio::any_io_executor ex, std::string host, std::uint16_t port,
                                                 config::sql_check_settings settings,
                                                 std::chrono::milliseconds timeout)
{
    using namespace asio::experimental::awaitable_operators;
    const auto started = clock::now();
    const std::string port_text = std::to_string(port);
    const std::string timeout_text = connect_timeout_seconds(timeout);
    // GSS encryption is disabled: a health check has no Kerberos ticket, and trying costs a round trip.
    const char* const keywords[] = {"host",   "port",            "user",             "password",
                                    "dbname", "connect_timeout", "application_name", "gssencmode",
                                    nullptr};
    const char* const values[] = {host.c_str(),     port_text.c_str(),    settings.user.c_str(),
                                  settings.password.c_str(), settings.database.c_str(), timeout_text.c_str(),
                                  "patroxy-health", "disable",            nullptr};

    sql_probe_result r;
    pq_link link(ex);
    link.conn = PQconnectStartParams(keywords, values, 0);
    if (link.conn == nullptr) {
        r.error = "libpq could not allocate a connection";
    } else if (PQstatus(link.conn) == CONNECTION_BAD) {
        r.error = pq_error(link.conn);
    } else {
        asio::steady_timer timer(ex, timeout);
        auto work = converse(link);
        auto deadline = timer.async_wait(asio::use_awaitable);
        auto outcome = co_await (std::move(work) || std::move(deadline));
        if (outcome.index() == 0) {
            r = std::get<0>(std::move(outcome));
        } else {
            r.error = "timeout after " + std::to_string(timeout.count()) + " ms";
        }
    }
    r.duration = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
    co_return r;
}

} // namespace patroxy::health
