// `patroxy -c -f FILE`: validate only; exit 0 for a good file, 2 with every error's JSON path.
// `patroxy --print-config -f FILE`: the same check, then the native JSON on stdout.
#include <catch2/catch.hpp>

#include "config/config.hpp"
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

/// What patroxy printed on stdout and on stderr, apart (run_captured mixes them; --print-config's
/// stdout is a file the operator keeps, so nothing else may land there).
struct split_output {
    int exit_status = -1;
    std::string out;
    std::string err;
};

split_output run_split(const config_file& file, const std::vector<std::string>& args)
{
    const std::string err_path = file.dir + "/stderr";
    // sh -c SCRIPT $0 $@...: stderr to $0, then exec patroxy with the arguments.
    std::vector<std::string> sh{"-c", R"(exec "$@" 2>"$0")", err_path, PATROXY_BINARY};
    sh.insert(sh.end(), args.begin(), args.end());
    const auto result = run_captured("/bin/sh", sh);
    return {result.exit_status, result.output, read_file(err_path)};
}

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

TEST_CASE("patroxy --print-config prints native JSON that reads back as the same config", "[proxy][config]")
{
    auto config = good_config();
    config.listeners[0].extra_json = R"("queue_timeout": "1500ms")";
    config.extra_json = R"("stats": { "bind": "127.0.0.1:6404", "auth": { "user": "admin", "password": "pw" } })";
    config_file file(config.to_json());
    const auto result = run_split(file, {"--print-config", "-f", file.path});
    INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
    REQUIRE(result.exit_status == 0);
    CHECK(result.err.empty());

    const auto printed = patroxy::config::parse_config(result.out);
    const auto original = patroxy::config::parse_config(config.to_json());
    REQUIRE(printed.value);
    REQUIRE(original.value);
    CHECK(*printed.value == *original.value);
    CHECK_THAT(result.out, Catch::Contains(R"("queue_timeout": "1500ms")"));
    CHECK_THAT(result.out, Catch::Contains(R"("password": "pw")")); // the operator moves to this file

    // The printed file is a config patroxy takes as it is.
    config_file again(result.out);
    const auto check = run_captured(PATROXY_BINARY, {"-c", "-f", again.path});
    INFO(check.output);
    CHECK(check.exit_status == 0);
}

TEST_CASE("patroxy --print-config on a bad config prints the errors, not JSON, and exits 2", "[proxy][config]")
{
    std::string text = good_config().to_json();
    const auto at = text.find("127.0.0.1:6000");
    REQUIRE(at != std::string::npos);
    text.replace(at, 14, "nonsense");
    config_file file(text);
    const auto result = run_split(file, {"--print-config", "-f", file.path});
    INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
    CHECK(result.exit_status == 2);
    CHECK(result.out.empty());
    CHECK_THAT(result.err, Catch::Contains("/listeners/0/bind"));
}
