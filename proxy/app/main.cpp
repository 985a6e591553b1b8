// patroxy's command line: validate a config (-c), print it as native JSON (--print-config), or run
// the proxy with it.
#include "config/config.hpp"
#include "config/json_writer.hpp"
#include "proxy/app/application.hpp"
#include "proxy/support/log.hpp"
#include "proxy/support/log_config.hpp"
#include "proxy/tls/tls_context.hpp"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_runtime_error = 1;
constexpr int exit_bad_config = 2;

void usage(std::ostream& out)
{
    out << "usage: patroxy -f FILE [-c | --print-config] [--log-level debug|info|warning|error]\n"
           "  -f FILE         configuration file: native JSON, or an HAProxy haproxy.cfg\n"
           "                  (told apart by content)\n"
           "  -c              check the configuration and exit: 0 if valid, 2 otherwise\n"
           "  --print-config  check it, then print it as native JSON on stdout (exit 0),\n"
           "                  or the problems (exit 2): how a haproxy.cfg moves to JSON\n"
           "  --log-level     default info\n"
           "  --version       print the version\n";
}

struct options {
    std::string file;
    bool check_only = false;
    bool print_config = false; ///< validate like check_only, then print the native JSON
    /// --log-level: wins over the config's log.level, at start and on reload.
    std::optional<patroxy::proxy::log_level> level;
};

/// Parses argv; prints the problem and returns false when the command line is wrong.
bool parse_options(int argc, char** argv, options& opts, bool& exit_now)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-c") {
            opts.check_only = true;
        } else if (arg == "--print-config") {
            opts.print_config = true;
        } else if (arg == "-f" && i + 1 < argc) {
            opts.file = argv[++i];
        } else if (arg == "--log-level" && i + 1 < argc) {
            patroxy::proxy::log_level level{};
            if (!patroxy::proxy::parse_log_level(argv[++i], level)) {
                std::cerr << "patroxy: unknown log level '" << argv[i] << "'\n";
                return false;
            }
            opts.level = level;
        } else if (arg == "-h" || arg == "--help") {
            usage(std::cout);
            exit_now = true;
            return true;
        } else if (arg == "--version") {
            std::cout << "patroxy " << PATROXY_VERSION << "\n";
            exit_now = true;
            return true;
        } else {
            std::cerr << "patroxy: unexpected argument '" << arg << "'\n";
            usage(std::cerr);
            return false;
        }
    }
    if (opts.file.empty()) {
        std::cerr << "patroxy: -f FILE is required\n";
        usage(std::cerr);
        return false;
    }
    return true;
}

/// Prints `c` as native JSON on stdout. Reading the text back must give `c` again (the writer's
/// law, tested for every key); this checks it once more on the operator's own config, so that a
/// config the JSON format cannot express (a bug: a reader that builds what JSON cannot say) is
/// reported rather than silently printed as something else.
int print_config(const patroxy::config::config& c)
{
    const std::string text = patroxy::config::to_json_text(c);
    std::cout << text << std::flush;
    const auto back = patroxy::config::parse_config(text);
    if (back.value && *back.value == c) return exit_ok;
    std::cerr << "patroxy: error: the JSON printed above does not read back as the same configuration "
                 "(a bug in patroxy; please report it)";
    if (!back.errors.empty()) std::cerr << ": " << patroxy::config::to_string(back.errors.front());
    std::cerr << "\n";
    return exit_runtime_error;
}

} // namespace

int main(int argc, char** argv)
{
    options opts;
    bool exit_now = false;
    if (!parse_options(argc, argv, opts, exit_now)) return exit_bad_config;
    if (exit_now) return exit_ok;

    auto loaded = patroxy::config::load_config_file(opts.file);
    std::vector<std::string> problems;
    for (const auto& e : loaded.errors) problems.push_back(patroxy::config::to_string(e));
    // The certificates and keys it names must load too: a typo in a path fails here, not at
    // the first client.
    if (loaded.value) patroxy::proxy::tls::check_material(*loaded.value, problems);
    // Each already "file:line: why"; stderr keeps stdout clean for --print-config. A proxy that
    // starts logs them as its first lines instead, in the log's own format.
    const bool serving = !opts.check_only && !opts.print_config && problems.empty();
    if (!serving)
        for (const auto& w : loaded.warnings) std::cerr << "patroxy: warning: " << w << "\n";
    if (!problems.empty()) {
        std::cerr << "patroxy: " << opts.file << " is not a valid configuration (" << problems.size() << " problem"
                  << (problems.size() == 1 ? "" : "s") << "):\n";
        for (const auto& p : problems) std::cerr << "  " << p << "\n";
        return exit_bad_config;
    }
    if (opts.print_config) return print_config(*loaded.value);
    if (opts.check_only) {
        std::cout << opts.file << ": configuration is valid\n";
        return exit_ok;
    }
    if (opts.level) patroxy::proxy::pin_log_level(*opts.level);
    patroxy::proxy::apply_log_config(loaded.value->log);
    for (const auto& w : loaded.warnings) patroxy::proxy::log_line(patroxy::proxy::log_level::warning) << "config: " << w;
    try {
        return patroxy::proxy::run_proxy(*loaded.value, opts.file);
    } catch (const std::exception& e) {
        patroxy::proxy::log_line(patroxy::proxy::log_level::error) << "fatal: " << e.what();
        return exit_runtime_error;
    }
}
