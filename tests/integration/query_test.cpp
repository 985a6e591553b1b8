// Queries through patroxy with libpq: simple and extended protocol, transactions, round-robin.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

#include <set>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pb = patroxy::test::pg_bytes;

} // namespace

TEST_CASE("simple query protocol through patroxy", "[proxy][query]")
{
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("q", port, {"pg1", "pg2"})});
    config.extra_args = {"--log-level", "debug"}; // so that routine session events are logged
    patroxy_process proxy(PATROXY_BINARY, config);

    auto conn = pq_connect(conninfo_for(port, "sslmode=disable application_name=it_simple"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);

    CHECK(query_value(conn.get(), "SELECT 1 + 1") == "2");
    CHECK(query_value(conn.get(), "SELECT current_setting('application_name')") == "it_simple");

    // Several statements in one Query message: PQexec keeps the last result.
    CHECK(query_value(conn.get(), "SELECT 1; SELECT 'second'") == "second");

    // A result much larger than any socket buffer, and many rows.
    CHECK(query_value(conn.get(), "SELECT length(repeat('x', 3000000))") == "3000000");
    CHECK(std::string(query_value(conn.get(), "SELECT repeat('ab', 2000000)")).size() == 4000000);
    {
        auto r = pq_exec(conn.get(), "SELECT g, md5(g::text) FROM generate_series(1, 50000) g");
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        CHECK(PQntuples(r.get()) == 50000);
        CHECK(std::string(PQgetvalue(r.get(), 49999, 1)) == "1017bfd4673955ffee4641ad3d481b1c"); // md5('50000')
    }

    // A server error is relayed and the session goes on.
    {
        auto r = pq_exec(conn.get(), "SELECT 1/0");
        REQUIRE(PQresultStatus(r.get()) == PGRES_FATAL_ERROR);
        CHECK(std::string(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) == "22012");
    }
    CHECK(query_value(conn.get(), "SELECT 'still here'") == "still here");

    // NOTICEs pass through too.
    {
        std::vector<std::string> notices;
        // libpq's default receiver ignores its argument, so restoring it with nullptr is exact.
        const auto previous = PQsetNoticeReceiver(conn.get(), nullptr, nullptr);
        PQsetNoticeReceiver(
            conn.get(),
            [](void* arg, const PGresult* n) {
                static_cast<std::vector<std::string>*>(arg)->push_back(PQresultErrorField(n, PG_DIAG_MESSAGE_PRIMARY));
            },
            &notices);
        auto r = pq_exec(conn.get(), "DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$");
        CHECK(PQresultStatus(r.get()) == PGRES_COMMAND_OK);
        CHECK(notices == std::vector<std::string>{"hello from plpgsql"});
        PQsetNoticeReceiver(conn.get(), previous, nullptr);
    }
    conn.reset();

    // The lines about a client carry the session id (one line per event, never per message).
    REQUIRE(proxy.wait_for_log("session=", 3s));
    const auto log = proxy.log();
    std::size_t client_lines = 0;
    for (std::size_t at = 0, end; at < log.size(); at = end + 1) {
        end = std::min(log.find('\n', at), log.size());
        const auto line = log.substr(at, end - at);
        if (line.find("client=") == std::string::npos)
            continue;
        ++client_lines;
        INFO(line);
        CHECK(line.find("session=") != std::string::npos);
    }
    CHECK(client_lines > 0);
    CHECK(client_lines < 20); // a few events, not one line per query or row
}

TEST_CASE("a Terminate ends the session while the client keeps its socket open, after the answers before it",
          "[proxy][query]")
{
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("t", port, {"pg1"})});
    config.extra_args = {"--log-level", "debug"}; // the close line of a client that closed is debug
    patroxy_process proxy(PATROXY_BINARY, config);

    raw_connection raw(port);
    auto startup = raw.startup(5s);
    REQUIRE_FALSE(startup.empty());
    REQUIRE(startup.back().type == 'Z');
    // A query and the Terminate in one write: the relay stops reading the client after the
    // Terminate, but the server's answer to the query still comes back whole.
    REQUIRE(raw.send(pb::concat({pb::query("SELECT 42"), pb::terminate()})));
    std::vector<char> types;
    for (;;) {
        auto m = raw.read_message(5s);
        REQUIRE(m.has_value());
        types.push_back(m->type);
        if (m->type == 'Z') break;
    }
    CHECK(types == std::vector<char>{'T', 'D', 'C', 'Z'});
    // The client never closes; the server's close after the Terminate ends the session.
    CHECK(raw.wait_closed(5s).has_value());
    CHECK(proxy.wait_for_log("client closed", 3s));
}

TEST_CASE("extended query protocol through patroxy", "[proxy][query]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("x", port, {"pg1", "pg2"})}));

    auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);

    SECTION("PQexecParams, text and binary results")
    {
        const char* values[] = {"40", "2"};
        auto r = pq_result(PQexecParams(conn.get(), "SELECT $1::int + $2::int", 2, nullptr, values, nullptr, nullptr, 0));
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == "42");

        const char* one[] = {"1000"};
        auto b = pq_result(PQexecParams(conn.get(), "SELECT $1::int4", 1, nullptr, one, nullptr, nullptr, 1));
        REQUIRE(PQresultStatus(b.get()) == PGRES_TUPLES_OK);
        REQUIRE(PQgetlength(b.get(), 0, 0) == 4);
        const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(b.get(), 0, 0));
        CHECK(((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) == 1000);

        // A NULL parameter and an error in Bind (bad int) leave the session usable.
        const char* null_value[] = {nullptr};
        auto n = pq_result(PQexecParams(conn.get(), "SELECT $1::text IS NULL", 1, nullptr, null_value, nullptr, nullptr, 0));
        REQUIRE(PQresultStatus(n.get()) == PGRES_TUPLES_OK);
        CHECK(std::string(PQgetvalue(n.get(), 0, 0)) == "t");
        const char* bad[] = {"not a number"};
        auto e = pq_result(PQexecParams(conn.get(), "SELECT $1::int", 1, nullptr, bad, nullptr, nullptr, 0));
        CHECK(PQresultStatus(e.get()) == PGRES_FATAL_ERROR);
        CHECK(std::string(PQresultErrorField(e.get(), PG_DIAG_SQLSTATE)) == "22P02");
        CHECK(query_value(conn.get(), "SELECT 'after error'") == "after error");
    }

    SECTION("PQprepare and PQexecPrepared")
    {
        auto prep = pq_result(PQprepare(conn.get(), "it_stmt", "SELECT $1::text || '-' || $2::text", 2, nullptr));
        REQUIRE(PQresultStatus(prep.get()) == PGRES_COMMAND_OK);
        for (int i = 0; i < 100; ++i) {
            const std::string a = std::to_string(i);
            const char* values[] = {a.c_str(), "x"};
            auto r = pq_result(PQexecPrepared(conn.get(), "it_stmt", 2, values, nullptr, nullptr, 0));
            REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
            CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == a + "-x");
        }
        auto desc = pq_result(PQdescribePrepared(conn.get(), "it_stmt"));
        REQUIRE(PQresultStatus(desc.get()) == PGRES_COMMAND_OK);
        CHECK(PQnparams(desc.get()) == 2);
    }

    SECTION("pipeline mode")
    {
        REQUIRE(PQenterPipelineMode(conn.get()) == 1);
        for (int i = 0; i < 50; ++i) {
            const std::string v = std::to_string(i);
            const char* values[] = {v.c_str()};
            REQUIRE(PQsendQueryParams(conn.get(), "SELECT $1::int * 2", 1, nullptr, values, nullptr, nullptr, 0) == 1);
        }
        REQUIRE(PQpipelineSync(conn.get()) == 1);
        for (int i = 0; i < 50; ++i) {
            auto r = pq_result(PQgetResult(conn.get()));
            REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
            CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == std::to_string(i * 2));
            REQUIRE(PQgetResult(conn.get()) == nullptr);
        }
        auto sync = pq_result(PQgetResult(conn.get()));
        CHECK(PQresultStatus(sync.get()) == PGRES_PIPELINE_SYNC);
        REQUIRE(PQexitPipelineMode(conn.get()) == 1);
    }
}

TEST_CASE("transactions through patroxy: rollback hides and commit shows", "[proxy][query]")
{
    const auto port = free_port();
    // One server only, so the observer session sees the same database.
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("tx", port, {"pg1"})}));

    auto writer = pq_connect(conninfo_for(port, "sslmode=disable"));
    auto observer = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(writer.get()) == CONNECTION_OK);
    REQUIRE(PQstatus(observer.get()) == CONNECTION_OK);
    auto exec_ok = [&](PGconn* c, const char* sql) {
        auto r = pq_exec(c, sql);
        INFO(sql << ": " << PQerrorMessage(c));
        REQUIRE(PQresultStatus(r.get()) == PGRES_COMMAND_OK);
    };

    exec_ok(writer.get(), "DROP TABLE IF EXISTS it_tx");
    exec_ok(writer.get(), "CREATE TABLE it_tx (v int)");

    exec_ok(writer.get(), "BEGIN");
    exec_ok(writer.get(), "INSERT INTO it_tx VALUES (1)");
    // libpq learns the transaction status from ReadyForQuery, which patroxy must relay untouched.
    CHECK(PQtransactionStatus(writer.get()) == PQTRANS_INTRANS);
    CHECK(query_value(writer.get(), "SELECT count(*) FROM it_tx") == "1");
    CHECK(query_value(observer.get(), "SELECT count(*) FROM it_tx") == "0");
    exec_ok(writer.get(), "ROLLBACK");
    CHECK(PQtransactionStatus(writer.get()) == PQTRANS_IDLE);
    CHECK(query_value(observer.get(), "SELECT count(*) FROM it_tx") == "0");

    exec_ok(writer.get(), "BEGIN");
    exec_ok(writer.get(), "INSERT INTO it_tx VALUES (2)");
    CHECK(query_value(observer.get(), "SELECT count(*) FROM it_tx") == "0");
    exec_ok(writer.get(), "COMMIT");
    CHECK(query_value(observer.get(), "SELECT string_agg(v::text, ',') FROM it_tx") == "2");

    // A failed transaction: status 'E' until ROLLBACK.
    exec_ok(writer.get(), "BEGIN");
    auto failed = pq_exec(writer.get(), "INSERT INTO it_tx VALUES ('x')");
    CHECK(PQresultStatus(failed.get()) == PGRES_FATAL_ERROR);
    CHECK(PQtransactionStatus(writer.get()) == PQTRANS_INERROR);
    exec_ok(writer.get(), "ROLLBACK");
    CHECK(query_value(observer.get(), "SELECT count(*) FROM it_tx") == "1");

    exec_ok(writer.get(), "DROP TABLE it_tx");
}

TEST_CASE("round-robin over two servers alternates per new session", "[proxy][routing]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("rr", port, {"pg1", "pg2"})}));

    std::vector<std::uint16_t> seen;
    for (int i = 0; i < 6; ++i) {
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        seen.push_back(server_port(conn.get()).value_or(0));
    }
    INFO("server ports in connection order: " << Catch::Detail::stringify(seen));
    const std::set<std::uint16_t> expected{shared_pg_server(0).port(), shared_pg_server(1).port()};
    CHECK(std::set<std::uint16_t>(seen.begin(), seen.end()) == expected);
    for (std::size_t i = 1; i < seen.size(); ++i)
        CHECK(seen[i] != seen[i - 1]);
}

TEST_CASE("round-robin skips a server that refuses connections", "[proxy][routing]")
{
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("rr", port, {"down", "pg1"})});
    config.members.emplace_back("down", free_port()); // nothing listens there
    patroxy_process proxy(PATROXY_BINARY, config);

    for (int i = 0; i < 4; ++i) {
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        INFO("attempt " << i << ": " << PQerrorMessage(conn.get()));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        CHECK(server_port(conn.get()) == shared_pg_server(0).port());
    }
}

TEST_CASE("differential: the same bytes to patroxy and to postgres get the same replies", "[proxy][query]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("diff", port, {"pg1"})}));

    // Simple query, an error, then the extended protocol: Parse, Bind, Describe, Execute, Sync.
    pb::byte_buffer parse, bind, describe, execute;
    pb::put_cstring(parse, "");
    pb::put_cstring(parse, "SELECT $1::int * 3 AS tripled, 'x' AS letter");
    pb::put_u16(parse, 0);
    pb::put_cstring(bind, "");
    pb::put_cstring(bind, "");
    pb::put_u16(bind, 0);      // parameter formats: all text
    pb::put_u16(bind, 1);      // one parameter
    pb::put_i32(bind, 2);      // of two bytes
    pb::put_bytes(bind, "14");
    pb::put_u16(bind, 0);      // result formats: all text
    pb::put_u8(describe, 'P');
    pb::put_cstring(describe, "");
    pb::put_cstring(execute, "");
    pb::put_i32(execute, 0);
    const auto script = pb::concat({pb::query("SELECT 1 AS one, 'two' AS two"), pb::query("SELECT 1/0"),
                                    pb::message('P', parse), pb::message('B', bind), pb::message('D', describe),
                                    pb::message('E', execute), pb::sync()});

    // Replies to the script, up to the third ReadyForQuery (two simple queries, one Sync).
    auto run = [&](std::uint16_t target) {
        raw_connection raw(target);
        auto startup = raw.startup(5s);
        REQUIRE_FALSE(startup.empty());
        REQUIRE(startup.back().type == 'Z');
        REQUIRE(raw.send(script));
        std::vector<backend_message> replies;
        for (int ready = 0; ready < 3;) {
            auto m = raw.read_message(5s);
            REQUIRE(m.has_value());
            ready += m->type == 'Z';
            replies.push_back(std::move(*m));
        }
        (void)raw.send(pb::terminate());
        return std::pair{std::move(startup), std::move(replies)};
    };
    const auto [direct_startup, direct] = run(shared_pg_server(0).port());
    const auto [proxied_startup, proxied] = run(port);

    // Startup: the same message types; bodies equal except BackendKeyData (another backend).
    REQUIRE(proxied_startup.size() == direct_startup.size());
    for (std::size_t i = 0; i < direct_startup.size(); ++i) {
        INFO("startup message " << i << " type " << direct_startup[i].type);
        CHECK(proxied_startup[i].type == direct_startup[i].type);
        if (direct_startup[i].type != 'K')
            CHECK(proxied_startup[i].body == direct_startup[i].body);
    }
    // The script: byte for byte (ErrorResponses compared field by field, for a readable failure).
    REQUIRE(proxied.size() == direct.size());
    for (std::size_t i = 0; i < direct.size(); ++i) {
        INFO("reply " << i << " type " << direct[i].type);
        CHECK(proxied[i].type == direct[i].type);
        if (direct[i].type == 'E')
            CHECK(error_fields(proxied[i]) == error_fields(direct[i]));
        else
            CHECK(proxied[i].body == direct[i].body);
    }
}
