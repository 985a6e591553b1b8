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
        // DataRow: int16 column count, int32 length, the bytes.
        if (m->type == 'D' && m->body.size() > 6)
            for (auto it = m->body.begin() + 6; it != m->body.end(); ++it) out.value += static_cast<char>(*it);
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

/// Two sessions through a listener over {silent, pg1} with a 500 ms connect timeout: each is
/// served by pg1, one of them (round-robin) after trying the silent member first.
void check_silent_member_is_skipped(bool fill_queue, const std::string& expected_log)
{
    silent_server silent(fill_queue);
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("first_lsn", port, {"silent", "pg1"})});
    config.members.emplace_back("silent", silent.port());
    config.connect_timeout = "500ms";
    patroxy_process proxy(PATROXY_BINARY, config);

    auto slowest = steady::duration::zero();
    for (int i = 0; i < 2; ++i) {
        const auto start = steady::now();
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        slowest = std::max(slowest, steady::now() - start);
        INFO("session " << i << ": " << PQerrorMessage(conn.get()) << "\n" << proxy.log());
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        CHECK(server_port(conn.get()) == shared_pg_server(0).port());
    }
    INFO(proxy.log());
    CHECK(proxy.wait_for_log(expected_log, 2s));
    // One session waited the connect timeout for the silent member, and not much longer.
    CHECK(slowest >= 450ms);
    CHECK(slowest < 3s);
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
        if (m->type == 'D' && m->body.size() > 6) value.assign(reinterpret_cast<const char*>(m->body.data()) + 6, m->body.size() - 6);
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
    check_silent_member_is_skipped(false, "did not answer the startup within the connect timeout");
}

TEST_CASE("first packets: a member whose handshake never completes is skipped after timeouts.connect",
          "[proxy][startup]")
{
    check_silent_member_is_skipped(true, "connect timed out");
}
