// The nesting scan run before JSON parsing (protocol/json_nesting.hpp).
#include "protocol/json_nesting.hpp"

#include <catch2/catch.hpp>

#include <string>

using patroxy::protocol::json_nesting_depth;
using patroxy::protocol::json_nesting_within;

TEST_CASE("json_nesting_depth counts arrays and objects outside strings", "[protocol][json]")
{
    CHECK(json_nesting_depth("") == 0);
    CHECK(json_nesting_depth("42") == 0);
    CHECK(json_nesting_depth(R"({"a": [1, {"b": []}], "c": {}})") == 4);
    CHECK(json_nesting_depth(R"(["[[[[", "\"[[", "\\", [1]])") == 2); // brackets in strings, escaped quotes
    CHECK(json_nesting_depth("]]]][[") == 2);                              // unbalanced: only counted
}

TEST_CASE("json_nesting_depth stops as soon as the limit is passed", "[protocol][json]")
{
    const std::string deep = std::string(1000000, '[');
    CHECK(json_nesting_depth(deep, 64) == 65);
    CHECK_FALSE(json_nesting_within(deep));
    CHECK(json_nesting_within(std::string(64, '[') + std::string(64, ']')));
    CHECK_FALSE(json_nesting_within(std::string(65, '{')));
}
