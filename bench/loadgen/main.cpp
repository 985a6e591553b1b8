// patroxy_loadgen: drives one workload against a PostgreSQL endpoint (server, proxy or stub) with
// many non-blocking libpq connections and prints a JSON report (throughput, latency percentiles,
// errors) on stdout.
#include "bench/loadgen/driver.hpp"
#include "bench/loadgen/options.hpp"
#include "bench/loadgen/setup.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

namespace {

using namespace patroxy::bench;

constexpr int exit_ok = 0;
constexpr int exit_errors = 1;
constexpr int exit_usage = 2;

/// Seconds from `a` to `b`.
double seconds_between(clock_type::time_point a, clock_type::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
double percentile_ms(const std::vector<std::int64_t>& sorted, double p)
{
    if (sorted.empty()) return 0.0;
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    const std::size_t index = std::clamp<std::size_t>(rank, 1, sorted.size()) - 1;
    return static_cast<double>(sorted[index]) / 1e6;
}

std::string json_string(const std::string& s)
{
    std::ostringstream out;
    out << '"';
    for (const char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out << '\\' << ch;
        } else if (u < 0x20) {
            out << "\\u" << std::hex << std::setw(4) << std::setfill('0') << static_cast<unsigned>(u) << std::dec;
        } else {
            out << ch;
        }
    }
    out << '"';
    return out.str();
}

/// Merges the threads' results and renders the report.
std::string report(const options& o, const run_timeline& tl, std::vector<thread_result>& results)
{
    thread_result all;
    for (auto& r : results) {
        all.latencies_ns.insert(all.latencies_ns.end(), r.latencies_ns.begin(), r.latencies_ns.end());
        all.transactions += r.transactions;
        all.all_transactions += r.all_transactions;
        all.bytes += r.bytes;
        all.errors += r.errors;
        all.sessions_open += r.sessions_open;
        all.sessions_verified += r.sessions_verified;
        all.copy_begin = std::min(all.copy_begin, r.copy_begin);
        all.copy_end = std::max(all.copy_end, r.copy_end);
        if (all.first_error.empty()) all.first_error = r.first_error;
    }
    std::sort(all.latencies_ns.begin(), all.latencies_ns.end());

    double window = 0.0;
    const bool copy = o.mode == workload::copy_out || o.mode == workload::copy_in;
    if (copy) {
        if (all.copy_end > all.copy_begin) window = seconds_between(all.copy_begin, all.copy_end);
    } else if (o.mode == workload::idle) {
        window = o.duration_s;
    } else {
        auto end = tl.end;
        if (const auto closed = tl.closed_at_ns.load(); closed != 0)
            end = clock_type::time_point(std::chrono::duration_cast<clock_type::duration>(std::chrono::nanoseconds(closed)));
        window = seconds_between(tl.warm_end, std::min(end, tl.end));
    }
    const double tps = window > 0.0 ? static_cast<double>(all.transactions) / window : 0.0;
    const unsigned per_tx = o.mode == workload::pipeline ? o.pipeline_depth : 1;
    double mean_ns = 0.0;
    for (const auto v : all.latencies_ns) mean_ns += static_cast<double>(v);
    if (!all.latencies_ns.empty()) mean_ns /= static_cast<double>(all.latencies_ns.size());

    std::ostringstream out;
    out << std::fixed << std::setprecision(3);
    out << "{\n"
        << "  \"mode\": \"" << workload_name(o.mode) << "\",\n"
        << "  \"clients\": " << o.clients << ",\n"
        << "  \"threads\": " << o.threads << ",\n"
        << "  \"window_s\": " << window << ",\n"
        << "  \"transactions\": " << all.transactions << ",\n"
        << "  \"all_transactions\": " << all.all_transactions << ",\n"
        << "  \"queries\": " << all.transactions * per_tx << ",\n"
        << "  \"tps\": " << tps << ",\n"
        << "  \"qps\": " << tps * per_tx << ",\n"
        << "  \"bytes\": " << all.bytes << ",\n"
        << "  \"bytes_per_s\": " << (window > 0.0 ? static_cast<double>(all.bytes) / window : 0.0) << ",\n"
        << "  \"latency_ms\": {"
        << "\"p50\": " << std::setprecision(4) << percentile_ms(all.latencies_ns, 50)
        << ", \"p90\": " << percentile_ms(all.latencies_ns, 90) << ", \"p99\": " << percentile_ms(all.latencies_ns, 99)
        << ", \"max\": " << percentile_ms(all.latencies_ns, 100) << ", \"mean\": " << mean_ns / 1e6 << "},\n"
        << std::setprecision(3);
    if (o.mode == workload::idle)
        out << "  \"sessions_requested\": " << o.clients << ",\n"
            << "  \"sessions_open\": " << all.sessions_open << ",\n"
            << "  \"sessions_verified\": " << all.sessions_verified << ",\n";
    out << "  \"errors\": " << all.errors << ",\n"
        << "  \"first_error\": " << json_string(all.first_error) << "\n"
        << "}\n";
    return out.str();
}

} // namespace

int main(int argc, char** argv)
{
    options opts;
    if (const auto problem = parse_options(argc, argv, opts); !problem.empty()) {
        if (problem == "help") {
            print_usage(stdout);
            return exit_ok;
        }
        std::fprintf(stderr, "patroxy_loadgen: %s\n", problem.c_str());
        print_usage(stderr);
        return exit_usage;
    }
    if (opts.setup) {
        const auto error = run_setup(opts);
        if (!error.empty()) {
            std::fprintf(stderr, "patroxy_loadgen: setup failed: %s\n", error.c_str());
            return exit_errors;
        }
        return exit_ok;
    }

    try {
        run_timeline tl;
        const auto as_duration = [](double s) {
            return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
        };
        tl.threads = opts.threads;
        tl.start = clock_type::now();
        tl.hard_end = tl.start + as_duration(opts.time_limit_s);
        if (opts.mode == workload::idle) {
            tl.warm_end = tl.start; // every session's connect-and-first-answer time is a sample
            tl.end = tl.hard_end;
        } else {
            tl.warm_end = tl.start + as_duration(opts.warmup_s);
            tl.end = tl.warm_end + as_duration(opts.duration_s);
        }

        std::vector<thread_result> results(opts.threads);
        std::vector<std::exception_ptr> failures(opts.threads);
        {
            std::vector<std::jthread> threads;
            for (unsigned t = 0; t < opts.threads; ++t) {
                const unsigned share = opts.clients / opts.threads + (t < opts.clients % opts.threads ? 1 : 0);
                threads.emplace_back([&, t, share] {
                    try {
                        run_clients(opts, tl, share, opts.seed * 1000 + t, results[t]);
                    } catch (...) {
                        failures[t] = std::current_exception();
                    }
                });
            }
        }
        for (const auto& f : failures)
            if (f) std::rethrow_exception(f);

        const std::string json = report(opts, tl, results);
        std::fputs(json.c_str(), stdout);
        if (!opts.json_file.empty()) {
            std::ofstream file(opts.json_file);
            file << json;
            if (!file) {
                std::fprintf(stderr, "patroxy_loadgen: cannot write %s\n", opts.json_file.c_str());
                return exit_errors;
            }
        }
        std::uint64_t errors = 0;
        for (const auto& r : results) errors += r.errors;
        return errors == 0 ? exit_ok : exit_errors;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "patroxy_loadgen: %s\n", e.what());
        return exit_errors;
    }
}
