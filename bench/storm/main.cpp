// patroxy_storm: a connection storm against one address, then one JSON line on stdout with every
// client accounted for by outcome. Usage and fields: bench/README.md "patroxy_storm".
#include "bench/storm/storm.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace {

using namespace patroxy::bench;

[[noreturn]] void usage(const char* why)
{
    std::cerr << "patroxy_storm: " << why << "\n"
              << "usage: patroxy_storm --conninfo CONNINFO [--clients N] [--spread-ms MS] [--client-timeout-ms MS]"
                 " [--query SQL]\n";
    std::exit(2);
}

storm_options parse(int argc, char** argv)
{
    storm_options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) usage("every option takes a value");
        const std::string value = argv[++i];
        const auto number = [&] {
            char* end = nullptr;
            const auto n = std::strtoull(value.c_str(), &end, 10);
            if (end == value.c_str() || *end != '\0' || n == 0) usage("expected a positive number");
            return n;
        };
        if (arg == "--conninfo") o.conninfo = value;
        else if (arg == "--clients") o.clients = number();
        else if (arg == "--spread-ms") o.spread = std::chrono::milliseconds(number());
        else if (arg == "--client-timeout-ms") o.client_timeout = std::chrono::milliseconds(number());
        else if (arg == "--query") o.query = value;
        else usage("unknown option");
    }
    if (o.conninfo.empty()) usage("--conninfo is required");
    return o;
}

std::string json_string(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += c;
    }
    return out + "\"";
}

double ms(std::chrono::microseconds t) { return static_cast<double>(t.count()) / 1000.0; }

/// The `q` quantile (0..1) of sorted `v`, in ms.
double quantile(const std::vector<std::chrono::microseconds>& v, double q)
{
    if (v.empty()) return 0;
    return ms(v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]);
}

std::string render(const storm_options& o, const storm_report& r)
{
    std::map<std::string, std::size_t> counts;
    std::map<std::string, std::string> samples; // the first message of each failure kind
    std::vector<std::chrono::microseconds> served_latency;
    std::chrono::microseconds first_served{-1}, last_served{0}, last_ended{0};
    for (const auto& c : r.clients) {
        ++counts[c.outcome];
        if (!c.detail.empty()) samples.emplace(c.outcome, c.detail);
        last_ended = std::max(last_ended, c.ended);
        if (c.outcome != "served") continue;
        served_latency.push_back(c.ended - c.started);
        if (first_served.count() < 0 || c.ended < first_served) first_served = c.ended;
        last_served = std::max(last_served, c.ended);
    }
    std::sort(served_latency.begin(), served_latency.end());
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(1);
    out << "{\"clients\": " << o.clients << ", \"spread_ms\": " << o.spread.count()
        << ", \"last_start_ms\": " << ms(r.last_start) << ", \"peak_open\": " << r.peak_open << ", \"outcomes\": {";
    const char* sep = "";
    for (const auto& [outcome, n] : counts) out << std::exchange(sep, ", ") << json_string(outcome) << ": " << n;
    out << "}, \"served\": " << served_latency.size();
    if (!served_latency.empty())
        out << ", \"first_served_ms\": " << ms(first_served) << ", \"last_served_ms\": " << ms(last_served)
            << ", \"served_latency_ms\": {\"p50\": " << quantile(served_latency, 0.5)
            << ", \"p90\": " << quantile(served_latency, 0.9) << ", \"p99\": " << quantile(served_latency, 0.99)
            << ", \"max\": " << ms(served_latency.back()) << "}";
    out << ", \"last_ended_ms\": " << ms(last_ended) << ", \"samples\": {";
    sep = "";
    for (const auto& [outcome, text] : samples) out << std::exchange(sep, ", ") << json_string(outcome) << ": " << json_string(text);
    out << "}}";
    return out.str();
}

} // namespace

int main(int argc, char** argv)
{
    const auto options = parse(argc, argv);
    try {
        const auto report = run_storm(options);
        std::cout << render(options, report) << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "patroxy_storm: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
