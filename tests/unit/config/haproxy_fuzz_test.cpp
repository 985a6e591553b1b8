// Seeded random damage to the corpus files (bytes changed, lines cut, swapped and repeated, the
// words the reader branches on dropped in): the reader never throws past its boundary, every
// problem is located in the file, and a result is either a config or errors, never both. (A
// libFuzzer run of the same entry point under ASan/UBSan found the bind-option overrun this keeps
// out: an option without its value at the end of a bind line.)
#include "haproxy_test_support.hpp"

#include <array>
#include <random>

using namespace patroxy::config;
using namespace patroxy::config::test;

namespace {

constexpr int iterations = 3000;

constexpr std::array corpus_files{"single_write_port.cfg", "primary_replica_get.cfg", "master_options.cfg",
                                  "compose_hostnames.cfg", "frontend_backend.cfg",    "stats_auth.cfg",
                                  "default_server_override.cfg"};

constexpr std::array words{" ",        "\n",       "\"",       "'",         "\\",        "#",        "${X}",
                           "${X[*]}",  "\"${X-1}", "listen a", "frontend",  "backend b", "defaults", "from",
                           " bind ",   "server",   " check ",  " port ",    "8008",      "option httpchk",
                           "/replica?lag=", "http-check expect status", "default_backend", "use_backend",
                           "stats",    "socket",   "timeout",  " inter ",   "mode http", ":",        "[::]:",
                           "name",     "ssl",      ".if",      "no option", "-",         "0"};

struct rng {
    std::mt19937 gen;
    explicit rng(std::uint32_t seed) : gen(seed) {}
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(gen); }
};

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', start = end + 1))
        out.push_back(text.substr(start, end - start));
    out.push_back(text.substr(start));
    return out;
}

std::string damaged(const std::string& text, rng& r)
{
    auto lines = lines_of(text);
    for (int n = 1 + static_cast<int>(r.below(4)); n > 0; --n) {
        auto& line = lines[r.below(lines.size())];
        switch (r.below(5)) {
        case 0: line.insert(r.below(line.size() + 1), words[r.below(words.size())]); break;
        case 1:
            if (!line.empty()) line.erase(r.below(line.size()), 1 + r.below(8));
            break;
        case 2:
            if (!line.empty()) line[r.below(line.size())] = static_cast<char>(r.below(256));
            break;
        case 3: std::swap(line, lines[r.below(lines.size())]); break;
        default: lines.insert(lines.begin() + static_cast<long>(r.below(lines.size())), line); break;
        }
    }
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

} // namespace

TEST_CASE("damaged haproxy.cfg files give errors or a config, never an exception", "[config][haproxy][fuzz]")
{
    const auto env = fixed_env({{"X", "a b:1"}});
    std::vector<std::string> texts;
    for (const auto* name : corpus_files) texts.push_back(file_text(haproxy_data + "/" + name));
    rng r(20261207);
    int refused = 0;
    for (int i = 0; i < iterations; ++i) {
        const auto text = damaged(texts[r.below(texts.size())], r);
        const auto result = haproxy::parse_haproxy_config(text, "f.cfg", env);
        INFO("input:\n" << text);
        REQUIRE(result.value.has_value() == result.errors.empty());
        for (const auto& e : result.errors) {
            REQUIRE(e.path.starts_with("f.cfg"));
            REQUIRE_FALSE(e.message.starts_with("internal error"));
        }
        for (const auto& w : result.warnings) REQUIRE(w.starts_with("f.cfg:"));
        refused += result.errors.empty() ? 0 : 1;
    }
    // The damage reaches the error paths often, and leaves valid files often enough too.
    CHECK(refused > iterations / 4);
    CHECK(refused < iterations);
}
