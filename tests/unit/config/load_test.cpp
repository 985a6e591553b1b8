// Reading config files, and JSON syntax errors located by line and column.
#include "config_test_support.hpp"

#include <regex>

using namespace patroxy::config;
using namespace patroxy::config::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const std::string data_dir = PATROXY_TEST_DATA;

} // namespace

TEST_CASE("a missing file is one error with an empty path", "[config][load]")
{
    const load_result r = load_config_file(data_dir + "/no-such-file.json");
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.value);
    CHECK(r.errors[0].path.empty());
    CHECK_THAT(r.errors[0].message, StartsWith("cannot read config file '" + data_dir + "/no-such-file.json'"));
    CHECK_THAT(r.errors[0].message, Contains("No such file or directory"));
}

TEST_CASE("a directory is not a config file", "[config][load]")
{
    const load_result r = load_config_file(data_dir);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path.empty());
    CHECK_THAT(r.errors[0].message, Contains("Is a directory"));
}

TEST_CASE("a file loads as its text parses", "[config][load]")
{
    const load_result r = load_config_file(data_dir + "/full.json");
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.value);
    CHECK(r.value->listeners.size() == 3);
    CHECK(r.value->members[1].port == 6543);
}

TEST_CASE("the shipped example config is valid", "[config][load]")
{
    const load_result r = load_config_file(data_dir + "/../../../../config/examples/static.json");
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.value);
    CHECK(r.value->listeners.size() == 2);
    CHECK(r.value->listeners[1].servers.size() == 2);
}

TEST_CASE("syntax errors give line and column", "[config][load]")
{
    SECTION("in a file: the unexpected token on line 5")
    {
        const load_result r = load_config_file(data_dir + "/syntax_error.json");
        REQUIRE(r.errors.size() == 1);
        const config_error& e = r.errors[0];
        CHECK(e.path.empty());
        // `"bind"` starts at column 32 after a missing comma; nlohmann reports it once read,
        // at its closing quote.
        CHECK_THAT(e.message, StartsWith("line 5, column 37: syntax error while parsing object"));
        CHECK_THAT(e.message, Contains("unexpected string literal"));
        CHECK_THAT(e.message, !Contains("json.exception")); // nlohmann's prefix is dropped
    }
    SECTION("the first line")
    {
        const auto e = only_error("{ x }");
        CHECK(e.path.empty());
        CHECK_THAT(e.message, StartsWith("line 1, column 3: "));
    }
    SECTION("a bad literal after several lines")
    {
        const auto e = only_error("{\n  \"workers\": 2,\n  \"retries\": tru\n}");
        CHECK_THAT(e.message, StartsWith("line 3, column 17: syntax error while parsing value - invalid literal"));
    }
    SECTION("end of input")
    {
        const auto e = only_error("{\n  \"workers\": 2,\n");
        CHECK_THAT(e.message, StartsWith("line 3, column 1: "));
        CHECK_THAT(e.message, Contains("unexpected end of input"));
    }
    SECTION("empty text")
    {
        const auto e = only_error("");
        CHECK_THAT(e.message, StartsWith("line 1, column 1: "));
    }
}
