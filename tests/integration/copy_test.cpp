// Bulk data through patroxy: COPY IN and COPY OUT of more than 100 MiB each, checked end to end with
// an md5 of the exact COPY text stream computed by the client and by the server.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;

constexpr std::size_t min_bytes = 100u * 1024u * 1024u;

/// Incremental md5 (OpenSSL EVP), hex digest like PostgreSQL's md5().
class md5_stream {
public:
    md5_stream() : ctx_(EVP_MD_CTX_new())
    {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr) != 1)
            throw std::runtime_error("EVP md5 unavailable");
    }
    void update(const char* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
    std::string hex()
    {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_.get(), digest.data(), &n);
        std::string out;
        char buf[3];
        for (unsigned i = 0; i < n; ++i) {
            std::snprintf(buf, sizeof buf, "%02x", digest[i]);
            out += buf;
        }
        return out;
    }

private:
    struct deleter {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    std::unique_ptr<EVP_MD_CTX, deleter> ctx_;
};

/// splitmix64: a deterministic, seedable row payload generator.
std::uint64_t splitmix64(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// One COPY text row: "<i>\t<96 hex chars>\n".
void append_row(std::string& out, std::uint64_t i)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += std::to_string(i);
    out += '\t';
    for (std::uint64_t k = 0; k < 6; ++k) {
        std::uint64_t v = splitmix64(i * 6 + k);
        for (int d = 0; d < 16; ++d, v >>= 4)
            out += hex[v & 0xf];
    }
    out += '\n';
}

/// What one COPY did, for the test case to judge.
struct copy_outcome {
    std::string expected_rows; ///< rows the client sent (IN) or the query produces (OUT)
    std::string reported_rows; ///< the row count in COPY's command tag
    std::string stored_rows;   ///< rows in the table afterwards (IN only)
    std::string client_md5;    ///< of the COPY text the client sent or received
    std::string server_md5;    ///< of the same text, rebuilt by the server
    std::size_t bytes = 0;
    std::chrono::steady_clock::duration elapsed{};
};

void exec_ok(PGconn* c, const std::string& sql)
{
    auto r = pq_exec(c, sql);
    INFO(sql << ": " << PQerrorMessage(c));
    REQUIRE(PQresultStatus(r.get()) == PGRES_COMMAND_OK);
}

/// COPY IN of >= 100 MiB to whatever listens on `port` (patroxy, or a server for the baseline).
copy_outcome copy_in(std::uint16_t port)
{
    copy_outcome out;
    auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);

    exec_ok(conn.get(), "DROP TABLE IF EXISTS it_copy_in");
    exec_ok(conn.get(), "CREATE UNLOGGED TABLE it_copy_in (i bigint, t text)");

    const auto start = std::chrono::steady_clock::now();
    auto r = pq_exec(conn.get(), "COPY it_copy_in FROM STDIN");
    REQUIRE(PQresultStatus(r.get()) == PGRES_COPY_IN);

    md5_stream sent;
    std::size_t bytes = 0;
    std::uint64_t rows = 0;
    std::string chunk;
    while (bytes < min_bytes) {
        chunk.clear();
        while (chunk.size() < 64 * 1024)
            append_row(chunk, ++rows);
        sent.update(chunk.data(), chunk.size());
        bytes += chunk.size();
        if (PQputCopyData(conn.get(), chunk.data(), static_cast<int>(chunk.size())) != 1)
            FAIL("PQputCopyData failed after " << bytes << " bytes: " << PQerrorMessage(conn.get()));
    }
    REQUIRE(PQputCopyEnd(conn.get(), nullptr) == 1);
    auto done = pq_result(PQgetResult(conn.get()));
    INFO(PQerrorMessage(conn.get()));
    REQUIRE(PQresultStatus(done.get()) == PGRES_COMMAND_OK);
    out.reported_rows = PQcmdTuples(done.get());
    while (auto* rest = PQgetResult(conn.get()))
        PQclear(rest);
    out.elapsed = std::chrono::steady_clock::now() - start;
    out.bytes = bytes;
    out.expected_rows = std::to_string(rows);
    out.client_md5 = sent.hex();

    // The server rebuilds the exact COPY text from what it stored and hashes it.
    exec_ok(conn.get(), "SET work_mem = '512MB'");
    auto check = pq_exec(conn.get(),
                         "SELECT count(*), md5(string_agg(i::text || E'\\t' || t || E'\\n', '' ORDER BY i)) "
                         "FROM it_copy_in");
    REQUIRE(PQresultStatus(check.get()) == PGRES_TUPLES_OK);
    out.stored_rows = PQgetvalue(check.get(), 0, 0);
    out.server_md5 = PQgetvalue(check.get(), 0, 1);

    exec_ok(conn.get(), "DROP TABLE it_copy_in");
    return out;
}

/// COPY OUT of >= 100 MiB from whatever listens on `port`.
copy_outcome copy_out(std::uint16_t port)
{
    copy_outcome out;
    auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);

    // ~105 bytes a row: 1.1 million rows are a little over 110 MiB.
    constexpr int row_count = 1'100'000;
    const std::string rows_sql = "SELECT i, repeat(md5(i::text), 3) AS t FROM generate_series(1, " +
                                 std::to_string(row_count) + ") i";

    const auto start = std::chrono::steady_clock::now();
    auto r = pq_exec(conn.get(), "COPY (" + rows_sql + ") TO STDOUT");
    REQUIRE(PQresultStatus(r.get()) == PGRES_COPY_OUT);
    md5_stream received;
    std::size_t bytes = 0;
    for (;;) {
        char* buf = nullptr;
        const int n = PQgetCopyData(conn.get(), &buf, 0);
        if (n < 0)
            break;
        received.update(buf, static_cast<std::size_t>(n));
        bytes += static_cast<std::size_t>(n);
        PQfreemem(buf);
    }
    auto done = pq_result(PQgetResult(conn.get()));
    INFO(PQerrorMessage(conn.get()));
    REQUIRE(PQresultStatus(done.get()) == PGRES_COMMAND_OK);
    out.reported_rows = PQcmdTuples(done.get());
    while (auto* rest = PQgetResult(conn.get()))
        PQclear(rest);
    out.elapsed = std::chrono::steady_clock::now() - start;
    out.bytes = bytes;
    out.expected_rows = std::to_string(row_count);
    out.client_md5 = received.hex();

    exec_ok(conn.get(), "SET work_mem = '512MB'");
    out.server_md5 = query_value(
        conn.get(), "SELECT md5(string_agg(i::text || E'\\t' || t || E'\\n', '' ORDER BY i)) FROM (" + rows_sql + ") s");
    return out;
}

/// For a failing check: what moved, and how fast.
std::string describe(const copy_outcome& c)
{
    return std::to_string(c.bytes) + " bytes, " + c.expected_rows + " rows, in " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(c.elapsed).count()) + " ms";
}

} // namespace

TEST_CASE("COPY IN of 100 MiB through patroxy arrives intact", "[proxy][copy]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("copy", port, {"pg1"})}));
    const auto c = copy_in(port);
    INFO(describe(c));
    CHECK(c.reported_rows == c.expected_rows);
    CHECK(c.stored_rows == c.expected_rows);
    CHECK(c.server_md5 == c.client_md5);
    CHECK(c.elapsed < 30s);
}

TEST_CASE("COPY OUT of 100 MiB through patroxy arrives intact", "[proxy][copy]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("copy", port, {"pg2"})}));
    const auto c = copy_out(port);
    INFO(describe(c));
    CHECK(c.reported_rows == c.expected_rows);
    CHECK(c.bytes >= min_bytes);
    CHECK(c.client_md5 == c.server_md5);
    CHECK(c.elapsed < 30s);
}

// Baselines without patroxy, hidden from the default run: they tell a proxy bug from a slow box.
TEST_CASE("COPY IN of 100 MiB directly to postgres (baseline)", "[.][baseline][copy]")
{
    const auto c = copy_in(shared_pg_server(0).port());
    INFO(describe(c));
    CHECK(c.reported_rows == c.expected_rows);
    CHECK(c.stored_rows == c.expected_rows);
    CHECK(c.server_md5 == c.client_md5);
    CHECK(c.elapsed < 30s);
}

TEST_CASE("COPY OUT of 100 MiB directly from postgres (baseline)", "[.][baseline][copy]")
{
    const auto c = copy_out(shared_pg_server(1).port());
    INFO(describe(c));
    CHECK(c.reported_rows == c.expected_rows);
    CHECK(c.bytes >= min_bytes);
    CHECK(c.client_md5 == c.server_md5);
    CHECK(c.elapsed < 30s);
}
