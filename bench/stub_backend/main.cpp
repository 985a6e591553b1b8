// patroxy_stub_backend: a PostgreSQL stand-in that answers as fast as it can, so that a benchmark
// through a proxy measures the proxy rather than the server.
#include "bench/stub_backend/stub_server.hpp"

#include <charconv>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <sys/resource.h>

namespace {

void usage(std::FILE* to)
{
    std::fputs("usage: patroxy_stub_backend [--host 127.0.0.1] --port N [--threads 1]\n"
               "                            [--copy-rows 65536] [--copy-row-bytes 1024]\n"
               "                            [--server-version TEXT]\n"
               "  Answers every query with one int4 row; COPY ... TO STDOUT streams rows (the counts\n"
               "  in repeat('x', W) and generate_series(1, N) of the query win over the options);\n"
               "  COPY ... FROM STDIN swallows the data. Stops on SIGINT or SIGTERM.\n",
               to);
}

template <typename T>
bool parse_number(std::string_view text, T& out)
{
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

/// Lets the process hold as many sessions as root (or the hard limit) allows.
void raise_descriptor_limit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

} // namespace

int main(int argc, char** argv)
{
    patroxy::bench::stub_server_options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "patroxy_stub_backend: %s needs a value\n", argv[i]);
            return 2;
        }
        const std::string_view value = argv[++i];
        bool ok = true;
        if (arg == "--host") {
            options.host = value;
        } else if (arg == "--port") {
            ok = parse_number(value, options.port);
        } else if (arg == "--threads") {
            ok = parse_number(value, options.threads) && options.threads > 0;
        } else if (arg == "--copy-rows") {
            ok = parse_number(value, options.settings.copy_rows);
        } else if (arg == "--copy-row-bytes") {
            ok = parse_number(value, options.settings.copy_row_bytes) && options.settings.copy_row_bytes > 0;
        } else if (arg == "--server-version") {
            options.settings.server_version = value;
        } else {
            std::fprintf(stderr, "patroxy_stub_backend: unknown option %s\n", argv[i - 1]);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "patroxy_stub_backend: bad value '%s' for %s\n", argv[i], argv[i - 1]);
            return 2;
        }
    }
    raise_descriptor_limit();
    try {
        return patroxy::bench::run_stub_server(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "patroxy_stub_backend: %s\n", e.what());
        return 1;
    }
}
