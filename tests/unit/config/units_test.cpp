// Durations, sizes and host:port: the value syntaxes the config adds on top of JSON.
#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace patroxy::config;
using namespace std::chrono_literals;

TEST_CASE("parse_duration accepts a whole number and a unit", "[config][units]")
{
    auto [text, ms] = GENERATE(table<std::string, std::int64_t>({
        {"0", 0},
        {"0s", 0},
        {"0ms", 0},
        {"250ms", 250},
        {"1s", 1000},
        {"30s", 30'000},
        {"5m", 300'000},
        {"2h", 7'200'000},
        {"007s", 7000},
        {"9223372036854ms", 9'223'372'036'854}, // the largest that fits in nanoseconds
    }));
    INFO(text);
    const auto d = parse_duration(text);
    REQUIRE(d);
    CHECK(d->count() == ms);
}

TEST_CASE("parse_duration rejects anything else", "[config][units]")
{
    auto text = GENERATE(as<std::string>{}, "", "1", "1x", "-1s", "+1s", "1.5s", "s", "ms", " 1s",
                         "1s ", "1 s", "1S", "1sec", "1min", "1d", "0x10s",
                         "99999999999999999999s", // more than 64 bits
                         "9223372036855ms",       // fits in milliseconds, not in nanoseconds
                         "5124096h");             // the same overflow through the unit factor
    INFO('"' << text << '"');
    CHECK_FALSE(parse_duration(text));
}

TEST_CASE("parse_size accepts PostgreSQL's 1024-based units", "[config][units]")
{
    auto [text, bytes] = GENERATE(table<std::string, std::uint64_t>({
        {"0", 0},
        {"0B", 0},
        {"512B", 512},
        {"16kB", 16 * 1024},
        {"1MB", 1024 * 1024},
        {"2GB", 2ull * 1024 * 1024 * 1024},
        {"17179869183GB", 17179869183ull << 30}, // the largest GB count that fits in 64 bits
    }));
    INFO(text);
    const auto size = parse_size(text);
    REQUIRE(size);
    CHECK(*size == bytes);
}

TEST_CASE("parse_size rejects anything else", "[config][units]")
{
    auto text = GENERATE(as<std::string>{}, "", "1", "1x", "-1MB", "1.5MB", "1 MB", "1MB ", "1mb",
                         "1KB", "1kb", "1TB", "MB", "99999999999999999999B", "17179869184GB");
    INFO('"' << text << '"');
    CHECK_FALSE(parse_size(text));
}

TEST_CASE("duration_text chooses the largest exact unit and reads back", "[config][units]")
{
    auto [ms, text] = GENERATE(table<std::int64_t, std::string>({
        {0, "0"},
        {1, "1ms"},
        {250, "250ms"},
        {1000, "1s"},
        {1500, "1500ms"},
        {60'000, "1m"},
        {90'000, "90s"},
        {3'600'000, "1h"},
        {5'400'000, "90m"},
        {90'000'000, "25h"},
        {9'223'372'036'854, "9223372036854ms"}, // the largest parse_duration takes
    }));
    INFO(text);
    CHECK(duration_text(duration(ms)) == text);
    CHECK(parse_duration(text) == duration(ms));
}

TEST_CASE("size_text chooses the largest exact unit and reads back", "[config][units]")
{
    auto [bytes, size] = GENERATE(table<std::uint64_t, std::string>({
        {0, "0"},
        {1, "1B"},
        {1536, "1536B"},
        {16 * 1024, "16kB"},
        {1025 * 1024, "1025kB"},
        {1024 * 1024, "1MB"},
        {1024ull * 1024 * 1024, "1GB"},
        {5ull * 1024 * 1024 * 1024 * 1024, "5120GB"}, // no TB: PostgreSQL's units end at GB here
        {UINT64_MAX, "18446744073709551615B"},
    }));
    INFO(size);
    CHECK(size_text(bytes) == size);
    CHECK(parse_size(size) == bytes);
}

TEST_CASE("parse_endpoint splits host and port", "[config][units]")
{
    auto [text, host, port] = GENERATE(table<std::string, std::string, std::uint16_t>({
        {"0.0.0.0:5000", "0.0.0.0", 5000},
        {"127.0.0.1:1", "127.0.0.1", 1},
        {"db.example.com:65535", "db.example.com", 65535},
        {"[::1]:5000", "::1", 5000},
        {"[::]:6432", "::", 6432},
    }));
    INFO(text);
    const auto e = parse_endpoint(text);
    REQUIRE(e);
    CHECK(e->host == host);
    CHECK(e->port == port);
    CHECK(to_string(*e) == text); // brackets come back for IPv6
}

TEST_CASE("parse_endpoint rejects anything else", "[config][units]")
{
    auto text = GENERATE(as<std::string>{}, "", "host", ":5000", "host:", "host:0", "host:65536",
                         "host:50a", "host:-1", "host:+5", "::1:5000", "[::1]", "[]:5000",
                         "[::1]:", "host :5000", "a b:5000", "[::1]x:5000");
    INFO('"' << text << '"');
    CHECK_FALSE(parse_endpoint(text));
}

TEST_CASE("enum names are the canonical config spellings", "[config][units]")
{
    CHECK(to_string(listener_role::primary) == "primary");
    CHECK(to_string(listener_role::replica) == "replica");
    CHECK(to_string(listener_role::read_only) == "read-only");
    CHECK(to_string(listener_role::sync) == "sync");
    CHECK(to_string(listener_role::async) == "async");
    CHECK(to_string(balance_mode::roundrobin) == "roundrobin");
    CHECK(to_string(balance_mode::leastconn) == "leastconn");
    CHECK(to_string(balance_mode::first) == "first");
    CHECK(to_string(tls_mode::passthrough) == "passthrough");
    CHECK(to_string(tls_mode::disable) == "disable");
}
