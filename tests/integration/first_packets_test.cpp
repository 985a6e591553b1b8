// The first bytes of a session: what a client sends together with its StartupMessage, and
// servers that take the connection but never get as far as answering it. Against the shared
// PostgreSQL servers, with raw sockets for the bytes libpq would not send in one write.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <list>
#include <string>
#include <vector>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;
using steady = std::chrono::steady_clock;

pg_bytes::byte_buffer postgres_startup() { return pg_bytes::startup({{"user", "postgres"}, {"database", "postgres"}}); }

/// The text of a one-column DataRow: int16 column count, int32 length, the bytes.
std::string data_row_text(const backend_message& m)
{
    if (m.type != 'D' || m.body.size() <= 6) return {};
    return std::string(reinterpret_cast<const char*>(m.body.data()) + 6, m.body.size() - 6);
}

/// Reads messages until the second ReadyForQuery (the startup's, then the query's) and returns
/// their types and the text of the one-column DataRow, if any.
struct query_replies {
    std::string types;
    std::string value;
};

query_replies read_through_second_ready(raw_connection& raw)
{
    query_replies out;
    int ready = 0;
    while (ready < 2) {
        const auto m = raw.read_message(5s);
        if (!m) break;
        out.types += m->type;
        if (m->type == 'Z') ++ready;
        if (m->type == 'E') break;
        if (m->type == 'D') out.value = data_row_text(*m);
    }
    return out;
}

/// A TCP listener on loopback that never accepts: its kernel completes the handshake and takes
/// the bytes, and nothing answers them. With `fill_queue` its accept queue is filled first, so
/// the next SYN goes unanswered and a connect stays in progress.
class silent_server {
public:
    explicit silent_server(bool fill_queue)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, fill_queue ? 0 : 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw std::runtime_error("silent_server: cannot listen");
        port_ = ntohs(addr.sin_port);
        if (!fill_queue) return;
        // Some kernels queue one more than the backlog: connect until a SYN goes unanswered.
        for (int i = 0; i < 6; ++i) {
            const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            fillers_.push_back(c);
            if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) continue;
            pollfd p{c, POLLOUT, 0};
            if (::poll(&p, 1, 100) == 0) return; // this SYN got no answer: the queue is full
        }
        throw std::runtime_error("silent_server: the accept queue never filled");
    }
    ~silent_server()
    {
        for (int c : fillers_) ::close(c);
        if (fd_ >= 0) ::close(fd_);
    }
    silent_server(const silent_server&) = delete;
    silent_server& operator=(const silent_server&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::vector<int> fillers_;
};

/// What became of two sessions through a listener over {silent, pg1} with a 500 ms connect
/// timeout: round-robin tries the silent member first for one of them.
struct silent_member_outcome {
    int served_by_pg1 = 0;                  ///< sessions that connected, to pg1
    steady::duration slowest{};             ///< the longest connect of the two
    bool failure_logged = false;            ///< patroxy logged the silent member's failure
    std::string log;
};

silent_member_outcome connect_past_silent_member(bool fill_queue, const std::string& expected_log)
{
    silent_server silent(fill_queue);
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("first_lsn", port, {"silent", "pg1"})});
    config.members.emplace_back("silent", silent.port());
    config.connect_timeout = "500ms";
    patroxy_process proxy(PATROXY_BINARY, config);

    silent_member_outcome out;
    for (int i = 0; i < 2; ++i) {
        const auto start = steady::now();
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        out.slowest = std::max(out.slowest, steady::now() - start);
        if (PQstatus(conn.get()) == CONNECTION_OK && server_port(conn.get()) == shared_pg_server(0).port())
            ++out.served_by_pg1;
    }
    out.failure_logged = proxy.wait_for_log(expected_log, 2s);
    out.log = proxy.log();
    return out;
}

} // namespace

TEST_CASE("first packets: a StartupMessage and a Query in one write are both answered", "[proxy][startup]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("pipelined", port, {"pg1"})}));
    raw_connection raw(port);
    REQUIRE(raw.send(pg_bytes::concat({postgres_startup(), pg_bytes::query("SELECT 'sent with the startup'")})));
    const auto replies = read_through_second_ready(raw);
    INFO("message types: " << replies.types << "\n" << proxy.log());
    CHECK(replies.value == "sent with the startup");
    CHECK(replies.types.back() == 'Z');
    // The relay goes on as usual after the pipelined query.
    REQUIRE(raw.send(pg_bytes::query("SELECT 'next'")));
    std::string value;
    for (auto m = raw.read_message(5s); m && m->type != 'Z'; m = raw.read_message(5s))
        if (m->type == 'D') value = data_row_text(*m);
    CHECK(value == "next");
}

TEST_CASE("first packets: an SSLRequest answered 'N' with the StartupMessage and a Query behind it", "[proxy][startup]")
{
    // PostgreSQL goes on with the bytes behind a declined SSLRequest; so does patroxy, which
    // answers it itself on a tls=disable listener (and a GSSENCRequest on any listener).
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("pipelined_ssl", port, {"pg1"})});
    config.listeners[0].tls = "disable";
    patroxy_process proxy(PATROXY_BINARY, config);
    for (const auto& request : {pg_bytes::ssl_request(), pg_bytes::gssenc_request()}) {
        raw_connection raw(port);
        REQUIRE(raw.send(pg_bytes::concat({request, postgres_startup(), pg_bytes::query("SELECT 'behind the request'")})));
        const auto answer = raw.read_exact(1, 5s);
        REQUIRE(answer.has_value());
        CHECK(static_cast<char>((*answer)[0]) == 'N');
        const auto replies = read_through_second_ready(raw);
        INFO("message types: " << replies.types << "\n" << proxy.log());
        CHECK(replies.value == "behind the request");
    }
}

TEST_CASE("first packets: a member that takes the connection and never answers the startup is skipped after "
          "timeouts.connect",
          "[proxy][startup]")
{
    const auto out = connect_past_silent_member(false, "did not answer the startup within the connect timeout");
    INFO(out.log);
    CHECK(out.served_by_pg1 == 2);
    CHECK(out.failure_logged);
    // One session waited the connect timeout for the silent member, and not much longer.
    CHECK(out.slowest >= 450ms);
    CHECK(out.slowest < 3s);
}

TEST_CASE("first packets: a member whose handshake never completes is skipped after timeouts.connect",
          "[proxy][startup]")
{
    const auto out = connect_past_silent_member(true, "connect timed out");
    INFO(out.log);
    CHECK(out.served_by_pg1 == 2);
    CHECK(out.failure_logged);
    CHECK(out.slowest >= 450ms);
    CHECK(out.slowest < 3s);
}
