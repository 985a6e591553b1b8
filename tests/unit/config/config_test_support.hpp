// Helpers shared by the config unit tests: small valid configs to vary, and error lookups.
#pragma once

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config::test {

inline const std::string default_members =
    R"([ { "name": "node1", "host": "127.0.0.1" }, { "name": "node2", "host": "127.0.0.2" } ])";

inline const std::string default_listener =
    R"({ "name": "primary", "bind": "127.0.0.1:5000", "servers": ["node1"] })";

/// A valid config with one listener (or `listeners`, a JSON array's elements) and any
/// `extra_top_level` members (`"workers": 2, ...`) added at the top level.
inline std::string config_text(const std::string& listeners = default_listener,
                               const std::string& extra_top_level = "")
{
    return R"({ "cluster": { "members": )" + default_members + R"( }, "listeners": [ )" + listeners +
           " ]" + (extra_top_level.empty() ? "" : ", " + extra_top_level) + " }";
}

/// A valid config plus `extra_top_level` members.
inline std::string config_with(const std::string& extra_top_level)
{
    return config_text(default_listener, extra_top_level);
}

/// A listener object with the default name, bind and servers plus `extra` members.
inline std::string listener_with(const std::string& extra)
{
    return R"({ "name": "primary", "bind": "127.0.0.1:5000", "servers": ["node1"], )" + extra + " }";
}

/// Every error as "<path>: <message>", for readable failure output.
inline std::vector<std::string> error_lines(const load_result& r)
{
    std::vector<std::string> out;
    for (const auto& e : r.errors) {
        out.push_back(to_string(e));
    }
    return out;
}

/// The only error `text` produces; fails the test unless there is exactly one.
inline config_error only_error(const std::string& text)
{
    const load_result r = parse_config(text);
    INFO("config: " << text);
    INFO("errors: " << Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.value);
    return r.errors.front();
}

/// The config `text` reads as; fails the test, showing every error, when it does not validate.
inline config parsed(const std::string& text)
{
    const load_result r = parse_config(text);
    INFO("config: " << text);
    INFO("errors: " << Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.value);
    return *r.value;
}

/// Whether `r` has an error at exactly `path` whose message contains `fragment`.
inline bool has_error(const load_result& r, std::string_view path, std::string_view fragment)
{
    return std::any_of(r.errors.begin(), r.errors.end(), [&](const config_error& e) {
        return e.path == path && e.message.find(fragment) != std::string::npos;
    });
}

} // namespace patroxy::config::test
