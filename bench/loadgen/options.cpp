// Parsing of patroxy_loadgen's command line.
#include "bench/loadgen/options.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <utility>

namespace patroxy::bench {

namespace {

constexpr std::array<std::pair<std::string_view, workload>, 8> workload_names{{
    {"select1", workload::select1},
    {"pgbench-select", workload::pgbench_select},
    {"prepared", workload::prepared},
    {"pipeline", workload::pipeline},
    {"connect", workload::connect},
    {"copy-out", workload::copy_out},
    {"copy-in", workload::copy_in},
    {"idle", workload::idle},
}};

template <typename T>
bool parse_unsigned(std::string_view text, T& out, T min_value)
{
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min_value) return false;
    out = value;
    return true;
}

bool parse_seconds(std::string_view text, double& out)
{
    const std::string copy(text);
    char* end = nullptr;
    const double value = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size() || !(value >= 0.0) || value > 86400.0) return false;
    out = value;
    return true;
}

/// Sizes: a number with an optional B, kB, MB or GB suffix (1024-based, as PostgreSQL).
bool parse_size(std::string_view text, std::uint64_t& out)
{
    std::uint64_t multiplier = 1;
    constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> suffixes{
        {{"GB", 1ull << 30}, {"MB", 1ull << 20}, {"kB", 1ull << 10}, {"B", 1}}};
    for (const auto& [suffix, factor] : suffixes) {
        if (text.size() > suffix.size() && text.ends_with(suffix)) {
            text.remove_suffix(suffix.size());
            multiplier = factor;
            break;
        }
    }
    std::uint64_t value = 0;
    if (!parse_unsigned<std::uint64_t>(text, value, 1)) return false;
    if (value > (std::uint64_t{1} << 44) / multiplier) return false;
    out = value * multiplier;
    return true;
}

} // namespace

std::optional<workload> parse_workload(std::string_view name)
{
    for (const auto& [text, w] : workload_names)
        if (text == name) return w;
    return std::nullopt;
}

std::string_view workload_name(workload w)
{
    for (const auto& [text, value] : workload_names)
        if (value == w) return text;
    return "unknown";
}

void print_usage(std::FILE* to)
{
    std::fputs(
        "usage: patroxy_loadgen --mode MODE [options]\n"
        "  --mode M               select1 | pgbench-select | prepared | pipeline | connect |\n"
        "                         copy-out | copy-in | idle (default select1)\n"
        "  --conninfo S           libpq connection string\n"
        "  --clients N            connections (idle: sessions to hold) (default 8)\n"
        "  --threads N            event-loop threads sharing the clients (default 1)\n"
        "  --duration S           measured seconds (idle: seconds to hold) (default 10)\n"
        "  --warmup S             seconds run before the measured window (default 2)\n"
        "  --max-transactions N   end the window once N transactions are counted (default 5000000)\n"
        "  --time-limit S         hard stop of the whole run (default: warmup + duration + 60,\n"
        "                         copies 900)\n"
        "  --pipeline-depth N     queries per Sync in pipeline mode (default 16)\n"
        "  --copy-bytes SIZE      COPY volume, e.g. 1GB, 64MB (default 64MB)\n"
        "  --copy-row-bytes N     bytes per COPY row including the newline (default 1024)\n"
        "  --copy-in-sql SQL      the COPY FROM STDIN statement\n"
        "                         (default: COPY bench_copy_in (line) FROM STDIN WHERE false)\n"
        "  --accounts N           aid range of the pgbench statement (default 100000)\n"
        "  --connect-concurrency N  connects in flight at once in idle mode (default 128)\n"
        "  --setup                create pgbench_accounts (--accounts rows) and bench_copy_in, exit\n"
        "  --json FILE            also write the JSON report to FILE\n"
        "  --seed N               random seed (default 1)\n"
        "The JSON report goes to stdout; progress lines go to stderr. Exit status 0 when the run\n"
        "completed with no errors, 1 when some transactions failed, 2 on bad usage.\n",
        to);
}

std::string parse_options(int argc, char** argv, options& out)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") return "help";
        if (arg == "--setup") {
            out.setup = true;
            continue;
        }
        if (i + 1 >= argc) return "option " + std::string(arg) + " needs a value";
        const std::string_view value = argv[++i];
        bool ok = true;
        if (arg == "--mode") {
            const auto w = parse_workload(value);
            ok = w.has_value();
            if (ok) out.mode = *w;
        } else if (arg == "--conninfo") {
            out.conninfo = value;
        } else if (arg == "--clients") {
            ok = parse_unsigned<unsigned>(value, out.clients, 1);
        } else if (arg == "--threads") {
            ok = parse_unsigned<unsigned>(value, out.threads, 1);
        } else if (arg == "--duration") {
            ok = parse_seconds(value, out.duration_s);
        } else if (arg == "--warmup") {
            ok = parse_seconds(value, out.warmup_s);
        } else if (arg == "--max-transactions") {
            ok = parse_unsigned<std::uint64_t>(value, out.max_transactions, 1);
        } else if (arg == "--time-limit") {
            ok = parse_seconds(value, out.time_limit_s);
        } else if (arg == "--pipeline-depth") {
            ok = parse_unsigned<unsigned>(value, out.pipeline_depth, 1);
        } else if (arg == "--copy-bytes") {
            ok = parse_size(value, out.copy_bytes);
        } else if (arg == "--copy-row-bytes") {
            ok = parse_unsigned<unsigned>(value, out.copy_row_bytes, 2) && out.copy_row_bytes <= (1u << 20);
        } else if (arg == "--copy-in-sql") {
            out.copy_in_sql = value;
        } else if (arg == "--accounts") {
            ok = parse_unsigned<std::uint32_t>(value, out.accounts, 1);
        } else if (arg == "--connect-concurrency") {
            ok = parse_unsigned<unsigned>(value, out.connect_concurrency, 1);
        } else if (arg == "--json") {
            out.json_file = value;
        } else if (arg == "--seed") {
            ok = parse_unsigned<std::uint64_t>(value, out.seed, 0);
        } else {
            return "unknown option " + std::string(arg);
        }
        if (!ok) return "bad value '" + std::string(value) + "' for " + std::string(arg);
    }
    if (out.threads > out.clients) out.threads = out.clients;
    if (out.time_limit_s == 0.0) {
        const bool copy = out.mode == workload::copy_out || out.mode == workload::copy_in;
        out.time_limit_s = copy ? 900.0 : out.warmup_s + out.duration_s + 60.0;
    }
    return {};
}

} // namespace patroxy::bench
