// `patroxy -c -f FILE`: validate only; exit 0 for a good file, 2 with every error's JSON path.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"

#include <filesystem>
#include <fstream>

namespace {

using namespace patroxy::test;

/// A temp dir holding one config file, removed afterwards.
struct config_file {
    std::string dir = make_temp_dir("patroxy-cfg");
    std::string path = dir + "/config.json";

    explicit config_file(const std::string& text) { std::ofstream(path) << text; }
    ~config_file()
    {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

proxy_config good_config()
{
    proxy_config config;
    config.members = {member_spec("pg1", 5433), member_spec("pg2", 5434)};
    config.listeners = {listener_spec("rr", 6000, {"pg1", "pg2"})};
    return config;
}

} // namespace

TEST_CASE("patroxy -c -f accepts a good config with exit 0", "[proxy][config]")
{
    config_file file(good_config().to_json());
    const auto result = run_captured(PATROXY_BINARY, {"-c", "-f", file.path});
    INFO(result.output);
    CHECK(result.exit_status == 0);
}

TEST_CASE("patroxy -c -f rejects a bad config with exit 2 and every error's JSON path", "[proxy][config]")
{
    auto config = good_config();
    config.listeners.emplace_back("second", 6001, std::vector<std::string>{"pg1"});
    std::string text = config.to_json();
    // Break both binds: validation reports all errors, not just the first.
    for (const std::string port : {"6000", "6001"}) {
        const auto at = text.find("127.0.0.1:" + port);
        REQUIRE(at != std::string::npos);
        text.replace(at, 10 + port.size(), "nonsense");
    }
    config_file file(text);
    const auto result = run_captured(PATROXY_BINARY, {"-c", "-f", file.path});
    INFO(result.output);
    CHECK(result.exit_status == 2);
    CHECK_THAT(result.output, Catch::Contains("/listeners/0/bind"));
    CHECK_THAT(result.output, Catch::Contains("/listeners/1/bind"));
}

TEST_CASE("patroxy -c -f rejects a file that is not JSON with exit 2", "[proxy][config]")
{
    config_file file("{ this is not json");
    const auto result = run_captured(PATROXY_BINARY, {"-c", "-f", file.path});
    INFO(result.output);
    CHECK(result.exit_status == 2);
}
