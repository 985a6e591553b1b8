// The log's two formats: text lines with key=value fields that a client's names cannot split or
// forge, and JSON lines that parse, for free text and for records alike.
#include "proxy/session/session_log.hpp"
#include "proxy/support/log.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace patroxy::proxy;
using json = nlohmann::json;

namespace {

constexpr std::string_view t0 = "2026-12-07T23:30:00.123Z";

session_summary normal_session()
{
    session_summary s;
    s.id = 7;
    s.client = "127.0.0.1:40000";
    s.listener = "primary";
    s.member = "pg1";
    s.server = "127.0.0.1:5433";
    s.queued_ms = 0;
    s.connect_ms = 1;
    s.total_ms = 25;
    s.bytes_in = 120;
    s.bytes_out = 450;
    s.state = "--";
    s.user = "alice";
    s.database = "app";
    s.application_name = "psql";
    s.reason = "client closed";
    return s;
}

} // namespace

TEST_CASE("a session record in text: HAProxy's tcplog fields as key=value, '-' for what is absent",
          "[proxy][log]")
{
    const auto fields = session_fields(normal_session());
    CHECK(format_log_record(log_format::text, t0, log_level::info, "session", fields) ==
          "2026-12-07T23:30:00.123Z INFO session session=7 client=127.0.0.1:40000 listener=primary member=pg1 "
          "server=127.0.0.1:5433 Tw=0 Tc=1 Tt=25 bytes_in=120 bytes_out=450 state=-- sqlstate=- user=alice "
          "database=app application_name=psql reason=\"client closed\"");
}

TEST_CASE("a session that reached no member: member and server '-', Tc -1, the SQLSTATE sent", "[proxy][log]")
{
    auto s = normal_session();
    s.member.clear();
    s.server.clear();
    s.connect_ms = -1;
    s.queued_ms = 2000;
    s.state = "sQ";
    s.sqlstate = "57P03";
    s.reason = "no server available";
    const auto line = format_log_record(log_format::text, t0, log_level::info, "session", session_fields(s));
    CHECK(line.find(" member=- server=- Tw=2000 Tc=-1 ") != std::string::npos);
    CHECK(line.find(" state=sQ sqlstate=57P03 ") != std::string::npos);
}

TEST_CASE("text values that would split the line are quoted and escaped", "[proxy][log]")
{
    auto s = normal_session();
    s.application_name = "evil state=-- \"x\"\nINFO forged";
    s.user = "back\\slash";
    const auto line = format_log_record(log_format::text, t0, log_level::info, "session", session_fields(s));
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find(R"(application_name="evil state=-- \"x\"\x0aINFO forged")") != std::string::npos);
    CHECK(line.find(R"(user="back\\slash")") != std::string::npos);
    CHECK(line.ends_with(R"( reason="client closed")"));
}

TEST_CASE("a session record in JSON: one object, numbers as numbers, null for what is absent", "[proxy][log]")
{
    auto s = normal_session();
    s.application_name = "tab\there \"quoted\" \x01";
    const auto line = format_log_record(log_format::json, t0, log_level::info, "session", session_fields(s));
    CHECK(line.find('\n') == std::string::npos);
    const auto j = json::parse(line);
    CHECK(j["time"] == "2026-12-07T23:30:00.123Z");
    CHECK(j["level"] == "info");
    CHECK(j["kind"] == "session");
    CHECK(j["session"] == 7);
    CHECK(j["client"] == "127.0.0.1:40000");
    CHECK(j["member"] == "pg1");
    CHECK(j["Tw"] == 0);
    CHECK(j["Tc"] == 1);
    CHECK(j["Tt"] == 25);
    CHECK(j["bytes_in"] == 120);
    CHECK(j["bytes_out"] == 450);
    CHECK(j["state"] == "--");
    CHECK(j["sqlstate"].is_null());
    CHECK(j["application_name"] == "tab\there \"quoted\" \x01");
    CHECK(j["reason"] == "client closed");
}

TEST_CASE("free text lines: text keeps one line, JSON carries it as msg", "[proxy][log]")
{
    CHECK(format_log_text(log_format::text, t0, log_level::warning, "server said\nFATAL: x") ==
          "2026-12-07T23:30:00.123Z WARNING server said FATAL: x");
    const auto j = json::parse(format_log_text(log_format::json, t0, log_level::error, "a \"b\" \\ c\n"));
    CHECK(j["time"] == "2026-12-07T23:30:00.123Z");
    CHECK(j["level"] == "error");
    CHECK(j["msg"] == "a \"b\" \\ c\n");
}

TEST_CASE("a cancel record: its own kind, the result, never the secret key", "[proxy][log]")
{
    CHECK(cancel_result(close_cause::cancel_forwarded) == "forwarded");
    CHECK(cancel_result(close_cause::cancel_unknown_key) == "dropped");
    CHECK(cancel_result(close_cause::cancel_failed) == "failed");
    CHECK(cancel_result(close_cause::cancel_broadcast) == "broadcast");
    CHECK(cancel_result(close_cause::client_closed).empty());
    const cancel_summary c{3, "127.0.0.1:40001", "replicas", "forwarded", "pid 4242 on pg2 (session 2)"};
    CHECK(format_log_record(log_format::text, t0, log_level::info, "cancel", cancel_fields(c)) ==
          "2026-12-07T23:30:00.123Z INFO cancel session=3 client=127.0.0.1:40001 listener=replicas result=forwarded "
          "detail=\"pid 4242 on pg2 (session 2)\"");
}

TEST_CASE("levels parse by their lower-case names", "[proxy][log]")
{
    log_level l{};
    CHECK(parse_log_level("warning", l));
    CHECK(l == log_level::warning);
    CHECK_FALSE(parse_log_level("WARNING", l));
    CHECK_FALSE(parse_log_level("notice", l));
}
