// response_parser on byte strings: status lines, fields, the three body framings (length,
// chunked, close), every split point, the caps and garbage. No sockets.
#include "http_feed_helpers.hpp"
#include "protocol/http/response_parser.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

using patroxy::protocol::http::http_codec_category;
using patroxy::protocol::http::http_errc;
using patroxy::protocol::http::limits;
using patroxy::protocol::http::parse_status;
using patroxy::protocol::http::parse_response;
using patroxy::protocol::http::response_parser;
using patroxy::test::feed_pieces;
using patroxy::test::one_byte_each;
using patroxy::test::parse_with;
using patroxy::test::split_at;

namespace {

auto parse(const std::string& bytes, bool then_close = false, limits caps = {})
{
    response_parser parser(caps);
    return parse_with(parser, {bytes}, then_close);
}

limits field_cap(std::size_t bytes)
{
    limits caps;
    caps.max_field_bytes = bytes;
    return caps;
}

limits body_cap(std::size_t bytes)
{
    limits caps;
    caps.max_body_bytes = bytes;
    return caps;
}

const std::string patroni_body = R"({"state": "running", "role": "master", "timeline": 1})";

/// What Patroni 3.0.2 sends for GET /patroni (BaseHTTPRequestHandler, HTTP/1.0).
std::string patroni_answer(int code = 200, const std::string& reason = "OK")
{
    return "HTTP/1.0 " + std::to_string(code) + " " + reason +
           "\r\nServer: BaseHTTP/0.6 Python/3.11.2\r\nDate: Sun, 22 Nov 2026 03:30:00 GMT\r\n"
           "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(patroni_body.size()) + "\r\n\r\n" + patroni_body;
}

const std::string chunked_answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n"
                                   "4\r\nWiki\r\n"
                                   "5;name=value\r\npedia\r\n"
                                   "E\r\n in\r\n\r\nchunks.\r\n"
                                   "0\r\nX-Checksum: 42\r\n\r\n";
const std::string chunked_body = "Wikipedia in\r\n\r\nchunks.";

} // namespace

TEST_CASE("Patroni 3.0.2's HTTP/1.0 answer with Content-Length", "[protocol][http]")
{
    const auto bytes = patroni_answer();
    const auto run = parse(bytes);
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == bytes.size());
    CHECK(run.parsed.status == 200);
    CHECK(run.parsed.version_minor == 0);
    CHECK(run.parsed.body == patroni_body);
    CHECK_FALSE(run.parsed.keep_alive); // HTTP/1.0 without "Connection: keep-alive"
    CHECK(run.parsed.header("content-type") == "application/json");
    CHECK(run.parsed.header("server") == "BaseHTTP/0.6 Python/3.11.2");
    CHECK_FALSE(run.parsed.header("connection"));
    CHECK(run.parsed.headers.size() == 4);
}

TEST_CASE("a 503 is a complete answer like any other status", "[protocol][http]")
{
    const auto run = parse(patroni_answer(503, "Service Unavailable"));
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.status == 503);
    CHECK(run.parsed.body == patroni_body);
}

TEST_CASE("status line variants", "[protocol][http]")
{
    SECTION("empty reason phrase after the blank")
    {
        const auto run = parse("HTTP/1.1 204 \r\n\r\n");
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.status == 204);
    }
    SECTION("no reason phrase at all")
    {
        const auto run = parse("HTTP/1.1 204\r\n\r\n");
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.status == 204);
    }
    SECTION("reason phrase with blanks")
    {
        const auto run = parse("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.status == 500);
    }
    SECTION("bare LF line ends")
    {
        const auto run = parse("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.body == "ok");
    }
}

TEST_CASE("response field names are case-insensitive and values trimmed", "[protocol][http]")
{
    const auto run =
        parse("HTTP/1.1 200 OK\r\nCONTENT-length:   3 \t\r\nX-Empty:\r\nX-Twice: a\r\nx-twice: b\r\n\r\nabc");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.body == "abc");
    CHECK(run.parsed.header("content-length") == "3");
    CHECK(run.parsed.header("x-empty") == "");
    CHECK(run.parsed.header("x-twice") == "a"); // the first of repeated fields
    CHECK(run.parsed.headers.size() == 4);
}

TEST_CASE("a response's keep-alive follows the HTTP version and the Connection field", "[protocol][http]")
{
    struct example {
        std::string head;
        bool keep_alive;
    };
    const auto e = GENERATE(example{"HTTP/1.1 200 OK\r\n", true},
                            example{"HTTP/1.1 200 OK\r\nConnection: close\r\n", false},
                            example{"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\n", false},
                            example{"HTTP/1.0 200 OK\r\n", false},
                            example{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", true},
                            example{"HTTP/1.0 200 OK\r\nconnection: KEEP-ALIVE\r\n", true},
                            example{"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n", false});
    CAPTURE(e.head);
    const auto run = parse(e.head + "Content-Length: 2\r\n\r\n{}");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.keep_alive == e.keep_alive);
}

TEST_CASE("a Content-Length response survives a split at every byte", "[protocol][http]")
{
    const auto bytes = patroni_answer();
    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, bytes.size() + 1));
    CAPTURE(cut);
    response_parser parser;
    const auto run = parse_with(parser, split_at(bytes, {cut}));
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == bytes.size());
    CHECK(run.parsed.body == patroni_body);
    CHECK(run.parsed.status == 200);
}

TEST_CASE("a Content-Length response fed one byte at a time", "[protocol][http]")
{
    const auto bytes = patroni_answer();
    response_parser parser;
    const auto run = parse_with(parser, one_byte_each(bytes));
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.body == patroni_body);
}

TEST_CASE("a chunked body is decoded and its extensions and trailers are dropped", "[protocol][http]")
{
    const auto run = parse(chunked_answer);
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == chunked_answer.size());
    CHECK(run.parsed.body == chunked_body);
    CHECK(run.parsed.keep_alive);
    CHECK_FALSE(run.parsed.header("x-checksum")); // a trailer, not a field of the head
}

TEST_CASE("a chunked body survives two splits at every pair of bytes", "[protocol][http]")
{
    response_parser parser;
    for (std::size_t a = 0; a <= chunked_answer.size(); ++a) {
        for (std::size_t b = a; b <= chunked_answer.size(); ++b) {
            parser.reset();
            const auto run = parse_with(parser, split_at(chunked_answer, {a, b}));
            if (run.state != parse_status::done || run.parsed.body != chunked_body ||
                run.consumed != chunked_answer.size()) {
                CAPTURE(a, b);
                FAIL("chunked answer mis-parsed");
            }
        }
    }
    SUCCEED();
}

TEST_CASE("a close-delimited body ends at finish()", "[protocol][http]")
{
    const std::string bytes = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + patroni_body;
    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, bytes.size() + 1));
    response_parser parser;
    const auto before_close = feed_pieces(parser, split_at(bytes, {cut}));
    CHECK(before_close.state == parse_status::need_more); // no length: only the close ends it
    const auto closed = parser.finish();
    REQUIRE(closed.state == parse_status::done);
    CHECK(parser.parsed().body == patroni_body);
    CHECK_FALSE(parser.parsed().keep_alive);
}

TEST_CASE("an HTTP/1.1 answer without length is close-delimited and never kept alive", "[protocol][http]")
{
    const auto run = parse("HTTP/1.1 200 OK\r\n\r\nabc", true);
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.body == "abc");
    CHECK_FALSE(run.parsed.keep_alive);
}

TEST_CASE("in a response Transfer-Encoding decides over Content-Length", "[protocol][http]")
{
    SECTION("chunked wins, and the connection must not be reused")
    {
        const auto run =
            parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.body == "ok");
        CHECK_FALSE(run.parsed.keep_alive);
    }
    SECTION("a final coding other than chunked runs to close")
    {
        response_parser parser;
        const auto run = feed_pieces(parser, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw"});
        CHECK(run.state == parse_status::need_more);
        REQUIRE(parser.finish().state == parse_status::done);
        CHECK(parser.parsed().body == "raw");
        CHECK_FALSE(parser.parsed().keep_alive);
    }
}

TEST_CASE("responses without a body", "[protocol][http]")
{
    SECTION("Content-Length: 0")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.body.empty());
    }
    SECTION("204 and 304 ignore a Content-Length")
    {
        const auto code = GENERATE(204, 304);
        const auto bytes = "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: 10\r\n\r\n";
        const auto run = parse(bytes);
        REQUIRE(run.state == parse_status::done);
        CHECK(run.consumed == bytes.size());
        CHECK(run.parsed.body.empty());
    }
}

TEST_CASE("an interim 1xx answer is skipped", "[protocol][http]")
{
    const auto run =
        parse("HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.status == 200);
    CHECK(run.parsed.body == "ok");
    CHECK_FALSE(run.parsed.header("x-interim"));
}

TEST_CASE("bytes after a complete response are not consumed", "[protocol][http]")
{
    const auto first = patroni_answer();
    const auto run = parse(first + "HTTP/1.1 200 OK\r\n");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == first.size());

    SECTION("and the same for a chunked one")
    {
        const auto chunked = parse(chunked_answer + "junk");
        REQUIRE(chunked.state == parse_status::done);
        CHECK(chunked.consumed == chunked_answer.size());
    }
}

TEST_CASE("a repeated identical Content-Length is accepted, a conflicting one is not", "[protocol][http]")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok").state == parse_status::done);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").state == parse_status::done);
    const auto conflict = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok");
    CHECK(conflict.state == parse_status::error);
    CHECK(conflict.error == http_errc::bad_content_length);
}

TEST_CASE("malformed responses name what is wrong", "[protocol][http]")
{
    struct example {
        std::string bytes;
        http_errc error;
    };
    const auto e = GENERATE(
        example{"\x16\x03\x01\x00\xa5 binary", http_errc::bad_start_line},
        example{"<html>hello</html>\r\n\r\n", http_errc::bad_start_line},
        example{"\r\nHTTP/1.1 200 OK\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/2 200\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 2000 OK\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 200OK\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 20 OK\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 600 Odd\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 099 Odd\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.x 200 OK\r\n\r\n", http_errc::bad_start_line},
        example{"http/1.1 200 OK\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 200 O\x01K\r\n\r\n", http_errc::bad_start_line},
        example{"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\nA: b\r\n folded: continuation\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\nA: b\r\n\tfolded\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\nA: x\ry\r\n\r\n", http_errc::bad_field},
        example{std::string("HTTP/1.1 200 OK\r\nA: x") + '\0' + "y\r\n\r\n", http_errc::bad_field},
        example{"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", http_errc::bad_content_length},
        example{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", http_errc::bad_content_length},
        example{"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", http_errc::bad_content_length},
        example{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", http_errc::bad_content_length},
        example{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http_errc::bad_chunk},
        example{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", http_errc::bad_chunk},
        example{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4 junk\r\n", http_errc::bad_chunk},
        example{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n", http_errc::bad_chunk},
        example{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\r\n", http_errc::bad_chunk},
        example{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", http_errc::bad_field});
    CAPTURE(e.bytes);
    const auto run = parse(e.bytes);
    CHECK(run.state == parse_status::error);
    CHECK(run.error == e.error);
}

TEST_CASE("a response's garbage fails at its first byte, without waiting for a line end", "[protocol][http]")
{
    response_parser parser;
    const auto r = parser.feed("HTTP/1.1 200 OK\r\n");
    REQUIRE(r.state == parse_status::need_more);
    parser.reset();
    const auto x = parser.feed("HTX");
    CHECK(x.state == parse_status::error);
    CHECK(x.error == http_errc::bad_start_line);
    CHECK(x.consumed == 2); // the offending byte is not taken
    CHECK(parser.feed("HTTP/1.1 200 OK\r\n").state == parse_status::error); // stays failed
}

TEST_CASE("an over-long chunk-size line is a bad chunk", "[protocol][http]")
{
    const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(2000, 'x'));
    CHECK(run.state == parse_status::error);
    CHECK(run.error == http_errc::bad_chunk);
}

TEST_CASE("the status line cap", "[protocol][http]")
{
    limits caps;
    caps.max_start_line = 32;
    const std::string head = "HTTP/1.1 200 ";
    const std::string fits = head + std::string(32 - head.size() - 2, 'r') + "\r\n";
    REQUIRE(fits.size() == 32);
    CHECK(parse(fits + "Content-Length: 0\r\n\r\n", false, caps).state == parse_status::done);
    const auto over = parse(head + std::string(32 - head.size() - 1, 'r') + "\r\n\r\n", false, caps);
    CHECK(over.error == http_errc::start_line_too_long);
    CHECK(over.consumed == 32);
}

TEST_CASE("the response field section cap", "[protocol][http]")
{
    const std::string status = "HTTP/1.1 200 OK\r\n";
    const std::string head = "Content-Length: 0\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    constexpr std::size_t limit = 200;
    const std::string fits = head + std::string(limit - head.size() - end.size(), 'p') + end;
    REQUIRE(fits.size() == limit);
    CHECK(parse(status + fits, false, field_cap(limit)).state == parse_status::done);

    const std::string over = head + std::string(limit - head.size() - end.size() + 1, 'p') + end;
    const auto run = parse(status + over, false, field_cap(limit));
    CHECK(run.state == parse_status::error);
    CHECK(run.error == http_errc::fields_too_large);
    CHECK(run.consumed == status.size() + limit); // stopped at the first byte over the cap

    SECTION("also when the bytes come one at a time and no line ever ends")
    {
        response_parser parser(field_cap(limit));
        const auto endless = feed_pieces(parser, one_byte_each(status + "X: " + std::string(limit, 'p')));
        CHECK(endless.state == parse_status::error);
        CHECK(endless.error == http_errc::fields_too_large);
        CHECK(endless.consumed == status.size() + limit);
    }
    SECTION("endless interim answers count toward the cap")
    {
        std::string interim;
        while (interim.size() <= 2 * limit) interim += "HTTP/1.1 100 Continue\r\n\r\n";
        const auto many = parse(interim, false, field_cap(limit));
        CHECK(many.error == http_errc::fields_too_large);
    }
    SECTION("trailers have their own budget of the same size")
    {
        const auto trailers = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " +
                                        std::string(limit, 't') + "\r\n\r\n",
                                    false, field_cap(limit));
        CHECK(trailers.error == http_errc::fields_too_large);
    }
}

TEST_CASE("the response field count cap, for fields and trailers apart", "[protocol][http]")
{
    limits caps;
    caps.max_fields = 3;
    const auto fields = [](int n) {
        std::string out;
        for (int i = 0; i < n; ++i) out += "F" + std::to_string(i) + ": v\r\n";
        return out;
    };
    CHECK(parse("HTTP/1.1 200 OK\r\n" + fields(2) + "Content-Length: 0\r\n\r\n", false, caps).state ==
          parse_status::done);
    CHECK(parse("HTTP/1.1 200 OK\r\n" + fields(3) + "Content-Length: 0\r\n\r\n", false, caps).error ==
          http_errc::too_many_fields);
    const std::string chunked_head = "HTTP/1.1 200 OK\r\n" + fields(2) + "Transfer-Encoding: chunked\r\n\r\n0\r\n";
    CHECK(parse(chunked_head + fields(3) + "\r\n", false, caps).state == parse_status::done);
    CHECK(parse(chunked_head + fields(4) + "\r\n", false, caps).error == http_errc::too_many_fields);
}

TEST_CASE("the response body cap", "[protocol][http]")
{
    constexpr std::size_t limit = 10;
    SECTION("Content-Length over the cap fails before any body byte")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false, body_cap(limit));
        CHECK(run.state == parse_status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
    SECTION("Content-Length at the cap is fine")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, body_cap(limit));
        REQUIRE(run.state == parse_status::done);
        CHECK(run.parsed.body == "0123456789");
    }
    SECTION("a close-delimited body over the cap")
    {
        const std::string head = "HTTP/1.0 200 OK\r\n\r\n";
        response_parser parser(body_cap(limit));
        const auto run = feed_pieces(parser, {head + "0123456789", "XY"});
        CHECK(run.state == parse_status::error);
        CHECK(run.error == http_errc::body_too_large);
        CHECK(run.consumed == head.size() + limit);
        CHECK(parser.parsed().body.size() == limit);
    }
    SECTION("chunks adding up to more than the cap")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n", false,
                               body_cap(limit));
        CHECK(run.state == parse_status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
    SECTION("a chunk size too large for 64 bits")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n");
        CHECK(run.state == parse_status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
    SECTION("a chunk size too large for 64 bits, even with no body cap to speak of")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n", false,
                               body_cap(std::numeric_limits<std::size_t>::max()));
        CHECK(run.state == parse_status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
}

TEST_CASE("a close before the response is complete is closed_early", "[protocol][http]")
{
    SECTION("before any byte")
    {
        response_parser parser;
        CHECK(parser.at_start());
        const auto r = parser.finish();
        CHECK(r.state == parse_status::error);
        CHECK(r.error == http_errc::closed_early);
    }
    const std::string partial = GENERATE(as<std::string>{},
                                         "HTTP/1.0 20",
                                         "HTTP/1.0 200 OK\r\nContent-Len",
                                         "HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n{{{{{{{{{{",
                                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
                                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n",
                                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    CAPTURE(partial);
    response_parser parser;
    REQUIRE(parser.feed(partial).state == parse_status::need_more);
    CHECK_FALSE(parser.at_start());
    const auto r = parser.finish();
    CHECK(r.state == parse_status::error);
    CHECK(r.error == http_errc::closed_early);
    CHECK(parser.finish().error == http_errc::closed_early); // and stays so
}

TEST_CASE("reset() makes the response parser ready for the next response", "[protocol][http]")
{
    response_parser parser(body_cap(1024));
    REQUIRE(parser.feed(chunked_answer).state == parse_status::done);
    CHECK(parser.feed("more").state == parse_status::done); // a finished parser takes nothing more
    CHECK(parser.feed("more").consumed == 0);
    CHECK(parser.finish().state == parse_status::done);
    parser.reset();
    CHECK(parser.at_start());
    REQUIRE(parser.feed(patroni_answer()).state == parse_status::done);
    CHECK(parser.parsed().body == patroni_body);
    CHECK(parser.parsed().status == 200);
    CHECK(parser.parsed().header("transfer-encoding") == std::nullopt);

    const auto moved = parser.take();
    CHECK(moved.body == patroni_body);
}

TEST_CASE("parse_response: one call for a whole input", "[protocol][http]")
{
    const auto closed = parse_response("HTTP/1.0 200 OK\r\n\r\nabc", true);
    REQUIRE(closed.result.state == parse_status::done);
    CHECK(closed.parsed.body == "abc");
    const auto open = parse_response("HTTP/1.0 200 OK\r\n\r\nabc", false);
    CHECK(open.result.state == parse_status::need_more);
    const auto early = parse_response("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nabc", true);
    CHECK(early.result.error == http_errc::closed_early);
}

TEST_CASE("http_errc travels as std::error_code", "[protocol][http]")
{
    const std::error_code ec = http_errc::fields_too_large;
    CHECK(ec.category() == http_codec_category());
    CHECK(std::string(ec.category().name()) == "patroxy.http-codec");
    CHECK(ec.message() == "HTTP field section too large");
    CHECK(ec != http_errc::body_too_large);
    CHECK(http_codec_category().message(99) == "unknown http codec error 99");
}
