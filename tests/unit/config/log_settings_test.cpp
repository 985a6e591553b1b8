// The `log` object (level, format, sessions, no_primary_alarm) in the native format, and what
// the haproxy.cfg drop-in makes of `option tcplog`.
#include "config_test_support.hpp"
#include "haproxy_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;
using namespace std::chrono_literals;

TEST_CASE("log: defaults are text, info, session lines on, the alarm at 40 s", "[config][log]")
{
    const config c = parsed(config_text());
    CHECK(c.log.level == log_level::info);
    CHECK(c.log.format == log_format::text);
    CHECK(c.log.sessions);
    CHECK(c.log.no_primary_alarm == 40s);
}

TEST_CASE("log: every key is read", "[config][log]")
{
    const config c =
        parsed(config_with(R"("log": { "level": "warning", "format": "json", "sessions": false, "no_primary_alarm": "90s" })"));
    CHECK(c.log.level == log_level::warning);
    CHECK(c.log.format == log_format::json);
    CHECK_FALSE(c.log.sessions);
    CHECK(c.log.no_primary_alarm == 90s);
}

TEST_CASE("log: bad values are errors with their path", "[config][log]")
{
    CHECK(to_string(only_error(config_with(R"("log": { "format": "xml" })"))).starts_with("/log/format: "));
    CHECK(to_string(only_error(config_with(R"("log": { "level": "verbose" })"))).starts_with("/log/level: "));
    CHECK(to_string(only_error(config_with(R"("log": { "sessions": "yes" })"))).starts_with("/log/sessions: "));
    CHECK(to_string(only_error(config_with(R"("log": { "no_primary_alarm": "0" })"))).starts_with("/log/no_primary_alarm: "));
    CHECK(to_string(only_error(config_with(R"("log": { "colour": true })"))).starts_with("/log/colour: "));
}

TEST_CASE("haproxy.cfg: option tcplog turns session lines on, without it they are off, as in HAProxy",
          "[config][haproxy][log]")
{
    const std::string section = "listen primary\n    bind 127.0.0.1:5000\n    option httpchk\n"
                                "    server n1 10.0.0.1:5432 check port 8008\n";
    SECTION("no tcplog")
    {
        const auto r = read_cfg(section);
        CHECK_FALSE(translated(r).log.sessions);
    }
    SECTION("tcplog in the section, without a warning")
    {
        const auto r = read_cfg(section + "    option tcplog\n");
        CHECK(translated(r).log.sessions);
        for (const auto& w : r.warnings) CHECK(w.find("tcplog") == std::string::npos);
    }
    SECTION("tcplog from the defaults section")
    {
        const auto r = read_cfg("defaults\n    mode tcp\n    option tcplog\n" + section);
        CHECK(translated(r).log.sessions);
    }
    SECTION("no option tcplog in the section undoes the defaults'")
    {
        const auto r = read_cfg("defaults\n    option tcplog\n" + section + "    no option tcplog\n");
        CHECK_FALSE(translated(r).log.sessions);
    }
    SECTION("dontlognull and log lines still warn")
    {
        const auto r = read_cfg("global\n    log 127.0.0.1 local0\n" + section + "    option dontlognull\n");
        const auto& w = r.warnings;
        CHECK(std::any_of(w.begin(), w.end(), [](const std::string& s) { return s.find("dontlognull has no effect") != std::string::npos; }));
        CHECK(std::any_of(w.begin(), w.end(), [](const std::string& s) { return s.find("'log' has no effect") != std::string::npos; }));
    }
}
