// --setup: pgbench_accounts shaped like pgbench's (aid, bid, abalance, filler) and the COPY IN
// target, so the workloads run unchanged against PostgreSQL and against the stub backend.
#include "bench/loadgen/setup.hpp"

#include <libpq-fe.h>

#include <memory>

namespace patroxy::bench {

namespace {

struct conn_closer {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_clearer {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_closer>;
using result_ptr = std::unique_ptr<PGresult, result_clearer>;

/// Runs one statement; "" or the server's error.
std::string exec(PGconn* conn, const std::string& sql, std::string* first_value = nullptr)
{
    const result_ptr r(PQexec(conn, sql.c_str()));
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        return sql + ": " + PQresultErrorMessage(r.get());
    if (first_value != nullptr && PQntuples(r.get()) > 0) first_value->assign(PQgetvalue(r.get(), 0, 0));
    return {};
}

} // namespace

std::string run_setup(const options& opts)
{
    const conn_ptr conn(PQconnectdb(opts.conninfo.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) return std::string("connect: ") + PQerrorMessage(conn.get());
    std::string error = exec(conn.get(), "SET client_min_messages = warning");
    if (error.empty())
        error = exec(conn.get(), "CREATE TABLE IF NOT EXISTS pgbench_accounts (aid int PRIMARY KEY, bid int NOT NULL, "
                                 "abalance int NOT NULL, filler char(84)) WITH (fillfactor = 100)");
    std::string rows;
    if (error.empty()) error = exec(conn.get(), "SELECT count(*) FROM pgbench_accounts", &rows);
    if (error.empty() && rows != std::to_string(opts.accounts)) {
        error = exec(conn.get(), "TRUNCATE pgbench_accounts");
        if (error.empty())
            error = exec(conn.get(), "INSERT INTO pgbench_accounts SELECT aid, (aid - 1) / 100000 + 1, 0, '' "
                                     "FROM generate_series(1, " + std::to_string(opts.accounts) + ") AS aid");
        if (error.empty()) error = exec(conn.get(), "VACUUM ANALYZE pgbench_accounts");
    }
    if (error.empty()) error = exec(conn.get(), "CREATE TABLE IF NOT EXISTS bench_copy_in (line text)");
    return error;
}

} // namespace patroxy::bench
