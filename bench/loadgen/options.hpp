// Command line of patroxy_loadgen: which workload, against what, for how long, how hard.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace patroxy::bench {

/// The workloads. Each is one kind of "transaction" a client repeats (or, for the copies and
/// idle, does once).
enum class workload {
    select1,        ///< simple-query `SELECT 1`, one round trip per transaction
    pgbench_select, ///< simple-query pgbench -S statement with a random aid
    prepared,       ///< the pgbench -S statement prepared once, then PQsendQueryPrepared (extended protocol)
    pipeline,       ///< pipeline mode: `pipeline_depth` prepared executions per Sync
    connect,        ///< connect, `SELECT 1`, disconnect, per transaction
    copy_out,       ///< one `COPY ... TO STDOUT` of `copy_bytes` split over the clients
    copy_in,        ///< one `COPY ... FROM STDIN` of `copy_bytes` split over the clients
    idle,           ///< open `clients` sessions, hold them for `duration`, probe them once more
};

[[nodiscard]] std::optional<workload> parse_workload(std::string_view name);
[[nodiscard]] std::string_view workload_name(workload w);

/// Everything the command line sets; defaults as printed by --help.
struct options {
    workload mode = workload::select1;
    std::string conninfo = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable";
    unsigned clients = 8;
    unsigned threads = 1;
    double duration_s = 10.0;      ///< measured window (idle: how long sessions are held)
    double warmup_s = 2.0;         ///< before the window; transactions are run but not counted
    std::uint64_t max_transactions = 5'000'000; ///< the window ends early once this many are counted
    double time_limit_s = 0.0;     ///< hard stop for the whole run; 0 = derived from the others
    unsigned pipeline_depth = 16;  ///< queries per Sync in pipeline mode
    std::uint64_t copy_bytes = 64ull << 20;
    unsigned copy_row_bytes = 1024; ///< bytes per COPY row, newline included
    std::string copy_in_sql = "COPY bench_copy_in (line) FROM STDIN WHERE false";
    std::uint32_t accounts = 100'000; ///< aid range of pgbench-select / prepared / pipeline
    unsigned connect_concurrency = 128; ///< connects in flight at once (idle mode)
    bool setup = false;             ///< create the tables the workloads read, then exit
    std::string json_file;          ///< also write the JSON report here
    std::uint64_t seed = 1;
};

/// Parses argv into `out`. Returns an empty string on success, else the message to print
/// (`"help"` when --help was asked).
[[nodiscard]] std::string parse_options(int argc, char** argv, options& out);

void print_usage(std::FILE* to);

} // namespace patroxy::bench
