// Decoders of BackendKeyData, ReadyForQuery, ParameterStatus and ErrorResponse, the ErrorResponse
// builder, and the message-name tables.
#include "protocol/backend_messages.hpp"
#include "protocol/errors.hpp"
#include "tests/support/pg_bytes.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

namespace pg = patroxy::test::pg_bytes;
using namespace patroxy::protocol;
using namespace std::string_literals;

namespace {

byte_buffer body(std::string_view s) { return pg::bytes(s); }

/// The ErrorResponse lines of the real PostgreSQL 15 capture in data/.
std::vector<byte_buffer> pg15_errors()
{
    std::ifstream in(PATROXY_TEST_DATA "/pg15_backend_stream.hex");
    REQUIRE(in);
    std::vector<byte_buffer> out;
    for (std::string line; std::getline(in, line);)
        if (line.rfind("45", 0) == 0)
            out.push_back(pg::from_hex(line));
    return out;
}

} // namespace

TEST_CASE("decode_backend_key_data", "[protocol][backend]")
{
    backend_key_data k;
    SECTION("a 4-byte key")
    {
        REQUIRE_FALSE(decode_backend_key_data(pg::body_of(pg::backend_key_data(5802, 0x67f4fea1)), k));
        CHECK(k.process_id == 5802);
        CHECK(k.secret_key == "\x67\xf4\xfe\xa1"s);
    }
    SECTION("3.2 keys up to 256 bytes")
    {
        const std::size_t n = GENERATE(4, 32, 256);
        const std::string key(n, '\xa5');
        REQUIRE_FALSE(decode_backend_key_data(pg::body_of(pg::backend_key_data(-7, key)), k));
        CHECK(k.process_id == -7);
        CHECK(k.secret_key == key);
    }
    SECTION("keys of other lengths leave the output alone")
    {
        k.process_id = 1;
        k.secret_key = "keep";
        const std::size_t n = GENERATE(0, 3, 257);
        CHECK(decode_backend_key_data(pg::body_of(pg::backend_key_data(9, std::string(n, 'k'))), k) ==
              protocol_errc::malformed_message);
        CHECK(decode_backend_key_data(body("\0\0"s), k) == protocol_errc::malformed_message);
        CHECK(k.process_id == 1);
        CHECK(k.secret_key == "keep");
    }
}

TEST_CASE("decode_ready_for_query", "[protocol][backend]")
{
    transaction_status s = transaction_status::idle;
    REQUIRE_FALSE(decode_ready_for_query(body("T"), s));
    CHECK(s == transaction_status::in_transaction);
    REQUIRE_FALSE(decode_ready_for_query(body("E"), s));
    CHECK(s == transaction_status::failed);
    REQUIRE_FALSE(decode_ready_for_query(body("I"), s));
    CHECK(s == transaction_status::idle);

    const std::string bad = GENERATE(""s, "X"s, "i"s, "\0"s, "II"s, "T\0"s);
    CAPTURE(bad);
    s = transaction_status::failed;
    CHECK(decode_ready_for_query(body(bad), s) == protocol_errc::malformed_message);
    CHECK(s == transaction_status::failed);
}

TEST_CASE("decode_parameter_status", "[protocol][backend]")
{
    parameter_status p;
    SECTION("name and value")
    {
        const byte_buffer b = pg::body_of(pg::parameter_status("server_version", "15.20 (Debian)"));
        REQUIRE_FALSE(decode_parameter_status(b, p));
        CHECK(p.name == "server_version");
        CHECK(p.value == "15.20 (Debian)");
    }
    SECTION("empty value (application_name of a client that set none)")
    {
        const byte_buffer b = body("application_name\0\0"s); // p views into it
        REQUIRE_FALSE(decode_parameter_status(b, p));
        CHECK(p.name == "application_name");
        CHECK(p.value.empty());
    }
    SECTION("anything but exactly two C strings")
    {
        const std::string bad = GENERATE(""s, "name"s, "name\0"s, "name\0value"s, "name\0value\0x"s,
                                         "name\0value\0\0"s);
        CAPTURE(bad);
        p.name = "untouched";
        CHECK(decode_parameter_status(body(bad), p) == protocol_errc::malformed_message);
        CHECK(p.name == "untouched");
    }
}

TEST_CASE("decode_error_response", "[protocol][backend]")
{
    error_fields e;
    SECTION("all the fields patroxy reads, and others skipped")
    {
        const byte_buffer b = pg::body_of(pg::error_response({{'S', "FATAL"},
                                                              {'V', "FATAL"},
                                                              {'C', "57P03"},
                                                              {'M', "the database system is starting up"},
                                                              {'D', "some detail"},
                                                              {'H', "some hint"},
                                                              {'P', "15"},
                                                              {'F', "postmaster.c"},
                                                              {'L', "2345"},
                                                              {'R', "ProcessStartupPacket"},
                                                              {'z', "unknown future field"}}));
        REQUIRE_FALSE(decode_error_response(b, e));
        CHECK(e.severity == "FATAL");
        CHECK(e.sqlstate == "57P03");
        CHECK(e.message == "the database system is starting up");
        CHECK(e.detail == "some detail");
        CHECK(e.hint == "some hint");
    }
    SECTION("V wins over the localized S, in either order")
    {
        REQUIRE_FALSE(decode_error_response(pg::error_fields_body({{'S', "FEHLER"}, {'V', "ERROR"}}), e));
        CHECK(e.severity == "ERROR");
        REQUIRE_FALSE(decode_error_response(pg::error_fields_body({{'V', "ERROR"}, {'S', "FEHLER"}}), e));
        CHECK(e.severity == "ERROR");
    }
    SECTION("S alone, as servers before 9.6 send")
    {
        REQUIRE_FALSE(decode_error_response(pg::error_fields_body({{'S', "PANIC"}, {'M', "m"}}), e));
        CHECK(e.severity == "PANIC");
        CHECK(e.sqlstate.empty());
    }
    SECTION("a bare terminator is an empty but valid response")
    {
        e.message = "stale";
        REQUIRE_FALSE(decode_error_response(body("\0"s), e));
        CHECK(e.message.empty()); // a decode replaces everything
        CHECK(e.severity.empty());
    }
    SECTION("missing terminators")
    {
        const std::string bad = GENERATE(""s, "M"s, "Mtext"s, "Mtext\0"s, "SERROR\0Mtext"s, "SERROR\0\0extra"s,
                                         "SERROR\0\0\0"s);
        CAPTURE(bad);
        e.message = "untouched";
        CHECK(decode_error_response(body(bad), e) == protocol_errc::malformed_message);
        CHECK(e.message == "untouched");
    }
}

TEST_CASE("decode_error_response on real PostgreSQL 15 errors", "[protocol][backend]")
{
    const auto errors = pg15_errors();
    REQUIRE(errors.size() == 3);
    error_fields e;

    REQUIRE_FALSE(decode_error_response(pg::body_of(errors[0]), e));
    CHECK(e.severity == "ERROR");
    CHECK(e.sqlstate == "22012");
    CHECK(e.message == "division by zero");
    CHECK(e.detail.empty());

    REQUIRE_FALSE(decode_error_response(pg::body_of(errors[1]), e));
    CHECK(e.sqlstate == "42P01");
    CHECK(e.message == "relation \"nope\" does not exist");

    REQUIRE_FALSE(decode_error_response(pg::body_of(errors[2]), e));
    CHECK(e.sqlstate == "23505");
    CHECK(e.message == "duplicate key value violates unique constraint \"t_pkey\"");
    CHECK(e.detail == "Key (i)=(1) already exists.");
    CHECK(e.hint.empty());
}

TEST_CASE("build_error_response", "[protocol][backend]")
{
    SECTION("exact bytes, D and H left out when empty")
    {
        const byte_buffer msg = build_error_response({"FATAL", "08P01", "bad", "", ""});
        CHECK(msg == pg::error_response("FATAL", "08P01", "bad"));
        CHECK(msg == pg::from_hex("45 0000001f 5346415441 4c00 5646415441 4c00 4330385030 3100 4d62616400 00"));
    }
    SECTION("D and H follow M when set")
    {
        const byte_buffer msg = build_error_response({"FATAL", "57P03", "no primary", "detail", "hint"});
        CHECK(msg == pg::error_response({{'S', "FATAL"},
                                         {'V', "FATAL"},
                                         {'C', "57P03"},
                                         {'M', "no primary"},
                                         {'D', "detail"},
                                         {'H', "hint"}}));
        const byte_buffer hint_only = build_error_response({"ERROR", "53300", "m", "", "h"});
        CHECK(hint_only ==
              pg::error_response({{'S', "ERROR"}, {'V', "ERROR"}, {'C', "53300"}, {'M', "m"}, {'H', "h"}}));
    }
    SECTION("round trip")
    {
        const error_fields in = GENERATE(error_fields{"FATAL", "57P03", "cannot connect now", "", ""},
                                         error_fields{"ERROR", "08006", "connection failure", "backend pg-2 closed",
                                                      "retry"},
                                         error_fields{"", "", "", "", ""},
                                         error_fields{"FATAL", "53300", std::string(5000, 'x'), "d", ""});
        const byte_buffer msg = build_error_response(in);
        REQUIRE(msg.size() >= 5);
        CHECK(static_cast<char>(msg[0]) == 'E');
        CHECK(read_u32(bytes_view(msg).subspan(1)) == msg.size() - 1);
        error_fields out;
        REQUIRE_FALSE(decode_error_response(pg::body_of(msg), out));
        CHECK(out.severity == in.severity);
        CHECK(out.sqlstate == in.sqlstate);
        CHECK(out.message == in.message);
        CHECK(out.detail == in.detail);
        CHECK(out.hint == in.hint);
    }
    SECTION("append goes after what the buffer already holds")
    {
        byte_buffer out = pg::ready_for_query('I');
        append_error_response(out, {"FATAL", "08P01", "bad", "", ""});
        CHECK(out == pg::concat({pg::ready_for_query('I'), pg::error_response("FATAL", "08P01", "bad")}));
    }
    SECTION("a NUL inside a value cuts it instead of breaking the message")
    {
        const byte_buffer msg = build_error_response({"FATAL", "08P01", "user \"a\0b\"", "", ""});
        CHECK(msg == pg::error_response("FATAL", "08P01", "user \"a"));
    }
}

TEST_CASE("message names per direction", "[protocol][backend]")
{
    CHECK(backend_message_name('D') == "DataRow");
    CHECK(frontend_message_name('D') == "Describe");
    CHECK(backend_message_name('E') == "ErrorResponse");
    CHECK(frontend_message_name('E') == "Execute");
    CHECK(backend_message_name('S') == "ParameterStatus");
    CHECK(frontend_message_name('S') == "Sync");
    CHECK(backend_message_name('Z') == "ReadyForQuery");
    CHECK(frontend_message_name('Q') == "Query");
    CHECK(frontend_message_name('X') == "Terminate");
    CHECK(backend_message_name('v') == "NegotiateProtocolVersion");
    CHECK(backend_message_name('X') == "unknown");
    CHECK(frontend_message_name('Z') == "unknown");
    CHECK(backend_message_name('\0') == "unknown");
    CHECK(frontend_message_name('\xff') == "unknown");

    SECTION("every v3 type of the PostgreSQL 17 docs has a name")
    {
        for (char c : std::string_view("R K 2 3 C d c G H W D I E V v n N A t S 1 s Z T"))
            if (c != ' ')
                CHECK(backend_message_name(c) != "unknown");
        for (char c : std::string_view("B C d c f D E H F p P Q S X"))
            if (c != ' ')
                CHECK(frontend_message_name(c) != "unknown");
    }
    SECTION("everything else is unknown")
    {
        int known_backend = 0;
        int known_frontend = 0;
        for (int i = 0; i < 256; ++i) {
            known_backend += backend_message_name(static_cast<char>(i)) != "unknown";
            known_frontend += frontend_message_name(static_cast<char>(i)) != "unknown";
        }
        CHECK(known_backend == 24);
        CHECK(known_frontend == 14);
    }
}
