// http_response_parser on byte strings: status lines, headers, the three body framings (length,
// chunked, close), every split point, the size caps and garbage. No sockets.
#include "health/http/http_response_parser.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using patroxy::health::http_category;
using patroxy::health::http_errc;
using patroxy::health::http_response;
using patroxy::health::http_response_parser;
using status = http_response_parser::status;

namespace {

/// What feeding a whole byte stream (optionally followed by the peer's close) produced.
struct parse_run {
    status state = status::need_more;
    std::error_code error;
    std::size_t consumed = 0; ///< bytes accepted over all feed() calls
    http_response response;
};

/// Feeds `chunks` in order, stopping at the first done/error; `then_close` calls finish() if the
/// response is still incomplete afterwards.
parse_run parse_chunks(http_response_parser& parser, const std::vector<std::string>& chunks, bool then_close = false)
{
    parse_run run;
    for (const auto& chunk : chunks) {
        const auto r = parser.feed(chunk);
        run.consumed += r.consumed;
        run.state = r.state;
        run.error = r.error;
        if (r.state != status::need_more) break;
    }
    if (then_close && run.state == status::need_more) {
        const auto r = parser.finish();
        run.state = r.state;
        run.error = r.error;
    }
    run.response = parser.response();
    return run;
}

parse_run parse(const std::string& bytes, bool then_close = false, std::size_t max_header = 16 * 1024,
                std::size_t max_body = 1024 * 1024)
{
    http_response_parser parser(max_header, max_body);
    return parse_chunks(parser, {bytes}, then_close);
}

/// `bytes` cut at the given offsets.
std::vector<std::string> split_at(const std::string& bytes, std::vector<std::size_t> cuts)
{
    std::vector<std::string> pieces;
    std::size_t from = 0;
    for (const auto cut : cuts) {
        pieces.push_back(bytes.substr(from, cut - from));
        from = cut;
    }
    pieces.push_back(bytes.substr(from));
    return pieces;
}

std::vector<std::string> one_byte_each(const std::string& bytes)
{
    std::vector<std::string> pieces;
    for (const char c : bytes) pieces.emplace_back(1, c);
    return pieces;
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

TEST_CASE("Patroni 3.0.2's HTTP/1.0 answer with Content-Length", "[health][http]")
{
    const auto bytes = patroni_answer();
    const auto run = parse(bytes);
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == bytes.size());
    CHECK(run.response.status == 200);
    CHECK(run.response.minor_version == 0);
    CHECK(run.response.body == patroni_body);
    CHECK_FALSE(run.response.keep_alive); // HTTP/1.0 without "Connection: keep-alive"
    CHECK(run.response.header("content-type") == "application/json");
    CHECK(run.response.header("server") == "BaseHTTP/0.6 Python/3.11.2");
    CHECK_FALSE(run.response.header("connection"));
    CHECK(run.response.headers.size() == 4);
}

TEST_CASE("a 503 is a complete answer like any other status", "[health][http]")
{
    const auto run = parse(patroni_answer(503, "Service Unavailable"));
    REQUIRE(run.state == status::done);
    CHECK(run.response.status == 503);
    CHECK(run.response.body == patroni_body);
}

TEST_CASE("status line variants", "[health][http]")
{
    SECTION("empty reason phrase after the blank")
    {
        const auto run = parse("HTTP/1.1 204 \r\n\r\n");
        REQUIRE(run.state == status::done);
        CHECK(run.response.status == 204);
    }
    SECTION("no reason phrase at all")
    {
        const auto run = parse("HTTP/1.1 204\r\n\r\n");
        REQUIRE(run.state == status::done);
        CHECK(run.response.status == 204);
    }
    SECTION("reason phrase with blanks")
    {
        const auto run = parse("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        REQUIRE(run.state == status::done);
        CHECK(run.response.status == 500);
    }
    SECTION("bare LF line ends")
    {
        const auto run = parse("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
        REQUIRE(run.state == status::done);
        CHECK(run.response.body == "ok");
    }
}

TEST_CASE("header names are case-insensitive and values trimmed", "[health][http]")
{
    const auto run = parse("HTTP/1.1 200 OK\r\nCONTENT-length:   3 \t\r\nX-Empty:\r\nX-Twice: a\r\nx-twice: b\r\n\r\nabc");
    REQUIRE(run.state == status::done);
    CHECK(run.response.body == "abc");
    CHECK(run.response.header("content-length") == "3");
    CHECK(run.response.header("x-empty") == "");
    CHECK(run.response.header("x-twice") == "a"); // the first of repeated headers
    CHECK(run.response.headers.size() == 4);
}

TEST_CASE("keep-alive follows the HTTP version and the Connection header", "[health][http]")
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
    REQUIRE(run.state == status::done);
    CHECK(run.response.keep_alive == e.keep_alive);
}

TEST_CASE("Content-Length body survives a split at every byte", "[health][http]")
{
    const auto bytes = patroni_answer();
    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, bytes.size() + 1));
    CAPTURE(cut);
    http_response_parser parser;
    const auto run = parse_chunks(parser, split_at(bytes, {cut}));
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == bytes.size());
    CHECK(run.response.body == patroni_body);
    CHECK(run.response.status == 200);
}

TEST_CASE("Content-Length body fed one byte at a time", "[health][http]")
{
    const auto bytes = patroni_answer();
    http_response_parser parser;
    const auto run = parse_chunks(parser, one_byte_each(bytes));
    REQUIRE(run.state == status::done);
    CHECK(run.response.body == patroni_body);
}

TEST_CASE("chunked body is decoded and trailers are dropped", "[health][http]")
{
    const auto run = parse(chunked_answer);
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == chunked_answer.size());
    CHECK(run.response.body == chunked_body);
    CHECK(run.response.keep_alive);
    CHECK_FALSE(run.response.header("x-checksum")); // a trailer, not a header
}

TEST_CASE("chunked body survives a split at every byte", "[health][http]")
{
    const std::size_t cut = GENERATE(range(std::size_t{0}, chunked_answer.size() + 1));
    CAPTURE(cut);
    http_response_parser parser;
    const auto run = parse_chunks(parser, split_at(chunked_answer, {cut}));
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == chunked_answer.size());
    CHECK(run.response.body == chunked_body);
}

TEST_CASE("chunked body survives two splits at every pair of bytes", "[health][http]")
{
    http_response_parser parser;
    for (std::size_t a = 0; a <= chunked_answer.size(); ++a) {
        for (std::size_t b = a; b <= chunked_answer.size(); ++b) {
            parser.reset();
            const auto run = parse_chunks(parser, split_at(chunked_answer, {a, b}));
            if (run.state != status::done || run.response.body != chunked_body) {
                CAPTURE(a, b);
                FAIL("chunked answer mis-parsed");
            }
        }
    }
    SUCCEED();
}

TEST_CASE("chunked body fed one byte at a time", "[health][http]")
{
    http_response_parser parser;
    const auto run = parse_chunks(parser, one_byte_each(chunked_answer));
    REQUIRE(run.state == status::done);
    CHECK(run.response.body == chunked_body);
}

TEST_CASE("close-delimited body ends at finish()", "[health][http]")
{
    const std::string bytes = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + patroni_body;
    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, bytes.size() + 1));
    http_response_parser parser;
    const auto before_close = parse_chunks(parser, split_at(bytes, {cut}));
    CHECK(before_close.state == status::need_more); // no length: only the close ends it
    const auto closed = parser.finish();
    REQUIRE(closed.state == status::done);
    CHECK(parser.response().body == patroni_body);
    CHECK_FALSE(parser.response().keep_alive);
}

TEST_CASE("an HTTP/1.1 answer without length is close-delimited and never kept alive", "[health][http]")
{
    const auto run = parse("HTTP/1.1 200 OK\r\n\r\nabc", true);
    REQUIRE(run.state == status::done);
    CHECK(run.response.body == "abc");
    CHECK_FALSE(run.response.keep_alive);
}

TEST_CASE("Transfer-Encoding decides over Content-Length", "[health][http]")
{
    SECTION("chunked wins, and the connection must not be reused")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
        REQUIRE(run.state == status::done);
        CHECK(run.response.body == "ok");
        CHECK_FALSE(run.response.keep_alive);
    }
    SECTION("a final coding other than chunked runs to close")
    {
        http_response_parser parser;
        const auto run = parse_chunks(parser, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw"});
        CHECK(run.state == status::need_more);
        REQUIRE(parser.finish().state == status::done);
        CHECK(parser.response().body == "raw");
        CHECK_FALSE(parser.response().keep_alive);
    }
}

TEST_CASE("responses without a body", "[health][http]")
{
    SECTION("Content-Length: 0")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        REQUIRE(run.state == status::done);
        CHECK(run.response.body.empty());
    }
    SECTION("204 and 304 ignore a Content-Length")
    {
        const auto code = GENERATE(204, 304);
        const auto bytes = "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: 10\r\n\r\n";
        const auto run = parse(bytes);
        REQUIRE(run.state == status::done);
        CHECK(run.consumed == bytes.size());
        CHECK(run.response.body.empty());
    }
}

TEST_CASE("an interim 1xx answer is skipped", "[health][http]")
{
    const auto run = parse("HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    REQUIRE(run.state == status::done);
    CHECK(run.response.status == 200);
    CHECK(run.response.body == "ok");
    CHECK_FALSE(run.response.header("x-interim"));
}

TEST_CASE("bytes after a complete response are not consumed", "[health][http]")
{
    const auto first = patroni_answer();
    const auto run = parse(first + "HTTP/1.1 200 OK\r\n");
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == first.size());

    SECTION("and the same for a chunked one")
    {
        const auto chunked = parse(chunked_answer + "junk");
        REQUIRE(chunked.state == status::done);
        CHECK(chunked.consumed == chunked_answer.size());
    }
}

TEST_CASE("a repeated identical Content-Length is accepted, a conflicting one is not", "[health][http]")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok").state == status::done);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").state == status::done);
    const auto conflict = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok");
    CHECK(conflict.state == status::error);
    CHECK(conflict.error == http_errc::malformed_response);
}

TEST_CASE("garbage is malformed_response", "[health][http]")
{
    const std::string bytes = GENERATE(as<std::string>{},
                                       "\x16\x03\x01\x00\xa5 binary",
                                       "<html>hello</html>\r\n\r\n",
                                       "\r\nHTTP/1.1 200 OK\r\n\r\n",
                                       "HTTP/2 200\r\n\r\n",
                                       "HTTP/1.1 2000 OK\r\n\r\n",
                                       "HTTP/1.1 200OK\r\n\r\n",
                                       "HTTP/1.1 20 OK\r\n\r\n",
                                       "HTTP/1.1 600 Odd\r\n\r\n",
                                       "HTTP/1.1 099 Odd\r\n\r\n",
                                       "HTTP/1.x 200 OK\r\n\r\n",
                                       "http/1.1 200 OK\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nA: b\r\n folded: continuation\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4 junk\r\n",
                                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n",
                                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n");
    CAPTURE(bytes);
    const auto run = parse(bytes);
    CHECK(run.state == status::error);
    CHECK(run.error == http_errc::malformed_response);
}

TEST_CASE("garbage fails at its first byte, without waiting for a line end", "[health][http]")
{
    http_response_parser parser;
    const auto r = parser.feed("X");
    CHECK(r.state == status::error);
    CHECK(r.error == http_errc::malformed_response);
    CHECK(parser.feed("HTTP/1.1 200 OK\r\n").state == status::error); // stays failed
}

TEST_CASE("an over-long chunk-size line is malformed", "[health][http]")
{
    const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(2000, 'x'));
    CHECK(run.state == status::error);
    CHECK(run.error == http_errc::malformed_response);
}

TEST_CASE("header size cap", "[health][http]")
{
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    constexpr std::size_t limit = 200;
    const std::string fits = head + std::string(limit - head.size() - end.size(), 'p') + end;
    REQUIRE(fits.size() == limit);

    CHECK(parse(fits, false, limit).state == status::done);

    const std::string over = head + std::string(limit - head.size() - end.size() + 1, 'p') + end;
    const auto run = parse(over, false, limit);
    CHECK(run.state == status::error);
    CHECK(run.error == http_errc::header_too_large);

    SECTION("also when the bytes come one at a time and no line ever ends")
    {
        http_response_parser parser(limit);
        const auto endless = parse_chunks(parser, one_byte_each("HTTP/1.1 200 OK\r\nX: " + std::string(limit, 'p')));
        CHECK(endless.state == status::error);
        CHECK(endless.error == http_errc::header_too_large);
        CHECK(endless.consumed <= limit);
    }
    SECTION("endless interim answers count toward the cap")
    {
        std::string interim;
        while (interim.size() <= limit) interim += "HTTP/1.1 100 Continue\r\n\r\n";
        const auto many = parse(interim, false, limit);
        CHECK(many.error == http_errc::header_too_large);
    }
    SECTION("trailers have their own budget of the same size")
    {
        const auto trailers = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " +
                                        std::string(limit, 't') + "\r\n\r\n",
                                    false, limit);
        CHECK(trailers.error == http_errc::header_too_large);
    }
}

TEST_CASE("body size cap", "[health][http]")
{
    constexpr std::size_t limit = 10;
    SECTION("Content-Length over the cap fails before any body byte")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false, 1024, limit);
        CHECK(run.state == status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
    SECTION("Content-Length at the cap is fine")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, 1024, limit);
        REQUIRE(run.state == status::done);
        CHECK(run.response.body == "0123456789");
    }
    SECTION("close-delimited body over the cap")
    {
        http_response_parser parser(1024, limit);
        const auto run = parse_chunks(parser, {"HTTP/1.0 200 OK\r\n\r\n0123456789", "X"});
        CHECK(run.state == status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
    SECTION("chunks adding up to more than the cap")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n", false,
                               1024, limit);
        CHECK(run.state == status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
    SECTION("a chunk size too large for 64 bits")
    {
        const auto run = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n");
        CHECK(run.state == status::error);
        CHECK(run.error == http_errc::body_too_large);
    }
}

TEST_CASE("a close before the response is complete is closed_early", "[health][http]")
{
    SECTION("before any byte")
    {
        http_response_parser parser;
        CHECK(parser.at_start());
        const auto r = parser.finish();
        CHECK(r.state == status::error);
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
    http_response_parser parser;
    REQUIRE(parser.feed(partial).state == status::need_more);
    CHECK_FALSE(parser.at_start());
    const auto r = parser.finish();
    CHECK(r.state == status::error);
    CHECK(r.error == http_errc::closed_early);
}

TEST_CASE("reset() makes the parser ready for the next response", "[health][http]")
{
    http_response_parser parser(1024, 1024);
    REQUIRE(parser.feed(chunked_answer).state == status::done);
    CHECK(parser.feed("more").state == status::done); // a finished parser takes nothing more
    CHECK(parser.feed("more").consumed == 0);
    parser.reset();
    CHECK(parser.at_start());
    REQUIRE(parser.feed(patroni_answer()).state == status::done);
    CHECK(parser.response().body == patroni_body);
    CHECK(parser.response().status == 200);
    CHECK(parser.response().header("transfer-encoding") == std::nullopt);

    const auto moved = parser.take_response();
    CHECK(moved.body == patroni_body);
}

TEST_CASE("http_errc travels as std::error_code", "[health][http]")
{
    const std::error_code ec = http_errc::response_timeout;
    CHECK(ec.category() == http_category());
    CHECK(std::string(ec.category().name()) == "patroxy.http");
    CHECK(ec.message() == "response timed out");
    CHECK(ec != http_errc::connect_timeout);
    CHECK(std::error_code(http_errc::closed_early).message() ==
          "connection closed before the response was complete");
    CHECK(http_category().message(99) == "unknown http error 99");
}
