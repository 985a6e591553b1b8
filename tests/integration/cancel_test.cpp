// CancelRequest routing: a cancel reaches exactly the server whose BackendKeyData the session got,
// on any listener of the same patroxy; an unknown key is dropped and its connection closed.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

#include <future>
#include <map>
#include <random>
#include <thread>

#include <poll.h>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;
using steady = std::chrono::steady_clock;

/// Direct connections to both shared servers, by port, to watch and clean up backends.
struct monitors {
    std::map<std::uint16_t, pq_conn> by_port;

    monitors()
    {
        for (std::size_t i = 0; i < 2; ++i) {
            auto& s = shared_pg_server(i);
            by_port.emplace(s.port(), pq_connect(s.conninfo("sslmode=disable")));
            if (PQstatus(by_port.at(s.port()).get()) != CONNECTION_OK)
                throw std::runtime_error("monitor connection failed");
        }
    }

    /// True once backend `pid` on the server at `port` sleeps in pg_sleep (bounded polling).
    bool wait_sleeping(std::uint16_t port, int pid, std::chrono::milliseconds timeout)
    {
        const auto deadline = steady::now() + timeout;
        const std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid) +
                                " AND state = 'active' AND wait_event = 'PgSleep'";
        while (steady::now() < deadline) {
            if (query_value(by_port.at(port).get(), sql) == "1")
                return true;
            std::this_thread::sleep_for(5ms);
        }
        return false;
    }

    /// Ends backend `pid` so a failed cancel does not leave a 30 s sleep behind.
    void terminate(std::uint16_t port, int pid)
    {
        (void)query_value(by_port.at(port).get(), "SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
    }
};

/// What a PQsendQuery'd statement ended with.
struct query_outcome {
    bool finished = false;
    ExecStatusType status = PGRES_EMPTY_QUERY;
    std::string sqlstate;
    std::chrono::milliseconds waited{0};
};

/// Reads all results of the running statement, waiting at most `timeout` (PQisBusy + poll).
query_outcome wait_query(PGconn* c, std::chrono::milliseconds timeout)
{
    const auto start = steady::now();
    const auto deadline = start + timeout;
    query_outcome out;
    for (;;) {
        if (PQconsumeInput(c) == 0)
            break;
        if (!PQisBusy(c)) {
            PGresult* r = PQgetResult(c);
            if (r == nullptr) {
                out.finished = true;
                break;
            }
            if (out.status == PGRES_EMPTY_QUERY || PQresultStatus(r) == PGRES_FATAL_ERROR) {
                out.status = PQresultStatus(r);
                const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                out.sqlstate = state != nullptr ? state : "";
            }
            PQclear(r);
            continue;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        if (left.count() <= 0)
            break;
        pollfd p{PQsocket(c), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
    out.waited = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    return out;
}

/// PQcancel on its own thread: a proxy that never closes the cancel connection makes this return
/// false after `timeout` instead of hanging the suite (the thread ends when patroxy stops).
bool send_cancel(PGconn* c, std::chrono::milliseconds timeout)
{
    PGcancel* cancel = PQgetCancel(c);
    if (cancel == nullptr)
        return false;
    auto done = std::make_shared<std::promise<bool>>();
    auto sent = done->get_future();
    std::thread([cancel, done] {
        char err[256];
        const int ok = PQcancel(cancel, err, sizeof err);
        PQfreeCancel(cancel);
        done->set_value(ok == 1);
    }).detach();
    return sent.wait_for(timeout) == std::future_status::ready && sent.get();
}

} // namespace

TEST_CASE("PQcancel through a round-robin listener cancels within 1 s twenty times in a row", "[proxy][cancel]")
{
    monitors mon;
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("rr", port, {"pg1", "pg2"})}));

    int cancelled = 0;
    std::map<std::uint16_t, int> per_server;
    for (int i = 0; i < 20; ++i) {
        INFO("iteration " << i);
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        const auto backend_port = server_port(conn.get()).value();
        const int pid = PQbackendPID(conn.get());
        ++per_server[backend_port];

        REQUIRE(PQsendQuery(conn.get(), "SELECT pg_sleep(30)") == 1);
        REQUIRE(mon.wait_sleeping(backend_port, pid, 5s));

        const auto start = steady::now();
        const bool sent = send_cancel(conn.get(), 1s);
        CHECK(sent);
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(1s - (steady::now() - start));
        const auto outcome = wait_query(conn.get(), std::max(left, std::chrono::milliseconds(0)));
        const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
        INFO("ended: " << outcome.finished << " after " << total.count() << " ms, sqlstate " << outcome.sqlstate);
        CHECK(outcome.finished);
        CHECK(outcome.sqlstate == "57014");
        if (outcome.finished && outcome.sqlstate == "57014")
            ++cancelled;
        else
            mon.terminate(backend_port, pid);
        // The session itself survives a cancel.
        if (outcome.finished)
            CHECK(query_value(conn.get(), "SELECT 'alive'") == "alive");
    }
    CHECK(cancelled == 20);
    CHECK(per_server.size() == 2); // both servers took part
}

TEST_CASE("a CancelRequest with an unknown key is dropped and its connection closed", "[proxy][cancel]")
{
    monitors mon;
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("one", port, {"pg1"})}));

    auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    const int pid = PQbackendPID(conn.get());
    REQUIRE(PQsendQuery(conn.get(), "SELECT pg_sleep(1.5)") == 1);
    REQUIRE(mon.wait_sleeping(shared_pg_server(0).port(), pid, 5s));

    std::mt19937 rng(4242);
    // The real PID with a made-up key, and a made-up PID: neither is a registered key.
    for (const std::int32_t target : {pid, static_cast<std::int32_t>(rng() & 0x3fffffff)}) {
        INFO("cancel for pid " << target);
        raw_connection raw(port);
        REQUIRE(raw.send(pg_bytes::cancel_request(target, static_cast<std::int32_t>(rng()))));
        const auto closed = raw.wait_closed(3s);
        REQUIRE(closed.has_value());
        CHECK(*closed == 0); // silently: no reply bytes
    }

    // The statement was not cancelled: it completes normally.
    const auto outcome = wait_query(conn.get(), 10s);
    CHECK(outcome.finished);
    CHECK(outcome.status == PGRES_TUPLES_OK);
    CHECK(outcome.sqlstate.empty());
    CHECK(proxy.running());
}

TEST_CASE("a CancelRequest sent to another listener of the same patroxy reaches the right server", "[proxy][cancel]")
{
    monitors mon;
    const auto port_a = free_port();
    const auto port_b = free_port();
    // Listener b only knows pg2: the cancel for a pg1 session must be routed by key, not listener.
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("cancel_a", port_a, {"pg1"}),
                                                                 listener_spec("cancel_b", port_b, {"pg2"})}));

    // libpq hides the secret key, so this session speaks the protocol itself.
    raw_connection session(port_a);
    const auto replies = session.startup(5s);
    REQUIRE_FALSE(replies.empty());
    REQUIRE(replies.back().type == 'Z');
    const auto key = find_backend_key(replies);
    REQUIRE(key.has_value());

    REQUIRE(session.send(pg_bytes::query("SELECT pg_sleep(30)")));
    REQUIRE(mon.wait_sleeping(shared_pg_server(0).port(), key->pid, 5s));

    const auto start = steady::now();
    {
        raw_connection cancel(port_b);
        REQUIRE(cancel.send(pg_bytes::cancel_request(key->pid, key->key)));
        CHECK(cancel.wait_closed(3s).has_value());
    }
    // Expect ErrorResponse 57014 then ReadyForQuery, within 1 s of sending the cancel.
    std::optional<backend_message> error;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(1s - (steady::now() - start));
        auto m = session.read_message(std::max(left, std::chrono::milliseconds(0)));
        if (!m)
            break;
        if (m->type == 'E')
            error = std::move(m);
        else if (m->type == 'Z')
            break;
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    INFO("waited " << waited.count() << " ms");
    if (!error)
        mon.terminate(shared_pg_server(0).port(), key->pid);
    REQUIRE(error.has_value());
    CHECK(error_fields(*error)['C'] == "57014");
    CHECK(waited < 1s);
}
