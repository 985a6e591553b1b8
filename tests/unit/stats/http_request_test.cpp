// http_request_parser on byte strings: request lines, fields, Content-Length bodies, every split
// point, pipelined requests, each limit at its boundary, and what must be refused. No sockets.
#include "proxy/stats/http_request.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using patroxy::proxy::stats::http_request;
using patroxy::proxy::stats::http_request_limits;
using patroxy::proxy::stats::http_request_parser;
using patroxy::proxy::stats::request_error;
using status = http_request_parser::status;

namespace {

/// What feeding a byte stream in pieces produced.
struct parse_run {
    status state = status::need_more;
    request_error error = request_error::bad_request;
    std::size_t consumed = 0; ///< over all feed() calls
    std::size_t calls_before_end = 0; ///< feed() calls that returned need_more
    http_request request;
};

parse_run parse_pieces(http_request_parser& parser, const std::vector<std::string>& pieces)
{
    parse_run run;
    for (const auto& piece : pieces) {
        const auto r = parser.feed(piece);
        run.consumed += r.consumed;
        run.state = r.state;
        run.error = r.error;
        if (r.state != status::need_more) break;
        ++run.calls_before_end;
    }
    if (run.state == status::done) run.request = parser.take_request();
    return run;
}

parse_run parse(const std::string& bytes, http_request_limits limits = {})
{
    http_request_parser parser(limits);
    return parse_pieces(parser, {bytes});
}

std::vector<std::string> split_at(const std::string& bytes, std::size_t cut)
{
    return {bytes.substr(0, cut), bytes.substr(cut)};
}

std::vector<std::string> byte_by_byte(const std::string& bytes)
{
    std::vector<std::string> pieces;
    for (const char c : bytes) pieces.emplace_back(1, c);
    return pieces;
}

request_error refusal(const std::string& bytes, http_request_limits limits = {})
{
    const auto run = parse(bytes, limits);
    REQUIRE(run.state == status::error);
    return run.error;
}

const std::string post_request = "POST /admin?member=node1&x HTTP/1.1\r\n"
                                 "Host: 127.0.0.1:8404\r\n"
                                 "Content-Type: application/x-www-form-urlencoded\r\n"
                                 "X-Spaced:   padded value \t\r\n"
                                 "Content-Length: 21\r\n"
                                 "\r\n"
                                 "action=drain&extra=1!";

void check_post(const http_request& r)
{
    CHECK(r.method == "POST");
    CHECK(r.path == "/admin");
    CHECK(r.query == "member=node1&x");
    CHECK(r.version_minor == 1);
    REQUIRE(r.headers.size() == 4);
    CHECK(r.headers[0].first == "host");
    CHECK(r.headers[1].first == "content-type");
    CHECK(r.header("x-spaced") == "padded value");
    CHECK(r.header("content-length") == "21");
    CHECK(r.body == "action=drain&extra=1!");
}

} // namespace

TEST_CASE("a GET without a body", "[stats][http]")
{
    const std::string bytes = "GET /stats.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
    const auto run = parse(bytes);
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == bytes.size());
    CHECK(run.request.method == "GET");
    CHECK(run.request.path == "/stats.json");
    CHECK(run.request.query.empty());
    CHECK(run.request.body.empty());
    CHECK(run.request.header("accept-encoding") == "gzip");
    CHECK(run.request.header("authorization").empty());
}

TEST_CASE("a POST parses the same at every split point", "[stats][http]")
{
    const auto cut = GENERATE(range(std::size_t{0}, post_request.size() + 1));
    http_request_parser parser;
    const auto run = parse_pieces(parser, split_at(post_request, cut));
    REQUIRE(run.state == status::done);
    CHECK(run.consumed == post_request.size());
    check_post(run.request);
}

TEST_CASE("a POST fed byte by byte needs every byte", "[stats][http]")
{
    http_request_parser parser;
    CHECK(parser.at_start());
    const auto run = parse_pieces(parser, byte_by_byte(post_request));
    REQUIRE(run.state == status::done);
    CHECK(run.calls_before_end == post_request.size() - 1);
    CHECK(run.consumed == post_request.size());
    check_post(run.request);
}

TEST_CASE("pipelined requests: done stops at the request's last byte", "[stats][http]")
{
    const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string second = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
    const std::string third = "HEAD /c HTTP/1.1\r\n\r\n";
    std::string stream = first + second + third;

    http_request_parser parser;
    std::vector<http_request> requests;
    while (!stream.empty()) {
        const auto r = parser.feed(stream);
        REQUIRE(r.state == status::done);
        stream.erase(0, r.consumed);
        requests.push_back(parser.take_request());
        parser.reset();
        CHECK(parser.at_start());
    }
    REQUIRE(requests.size() == 3);
    CHECK(requests[0].path == "/a");
    CHECK(requests[1].body == "xyz");
    CHECK(requests[2].method == "HEAD");
}

TEST_CASE("after done or error the parser repeats its outcome", "[stats][http]")
{
    http_request_parser parser;
    REQUIRE(parser.feed("GET / HTTP/1.1\r\n\r\n").state == status::done);
    const auto again = parser.feed("GET /next HTTP/1.1\r\n\r\n");
    CHECK(again.state == status::done);
    CHECK(again.consumed == 0);

    http_request_parser broken;
    REQUIRE(broken.feed("GET / HTTP/1.1\r\nno colon\r\n").state == status::error);
    const auto still = broken.feed("\r\n");
    CHECK(still.state == status::error);
    CHECK(still.consumed == 0);
    CHECK(still.error == request_error::bad_request);
}

TEST_CASE("at_start is false from a request's first byte until reset", "[stats][http]")
{
    http_request_parser parser;
    CHECK(parser.at_start());
    CHECK(parser.feed("G").state == status::need_more);
    CHECK_FALSE(parser.at_start());
    parser.reset();
    CHECK(parser.at_start());
}

TEST_CASE("keep-alive follows the version and the Connection field", "[stats][http]")
{
    const auto keep = [](const std::string& version, const std::string& fields) {
        const auto run = parse("GET / HTTP/" + version + "\r\n" + fields + "\r\n");
        REQUIRE(run.state == status::done);
        return run.request.keep_alive();
    };
    CHECK(keep("1.1", ""));
    CHECK_FALSE(keep("1.1", "Connection: close\r\n"));
    CHECK_FALSE(keep("1.1", "Connection: Upgrade, CLOSE\r\n"));
    CHECK_FALSE(keep("1.0", ""));
    CHECK(keep("1.0", "Connection: Keep-Alive\r\n"));
    CHECK(keep("1.0", "Connection: foo\r\nConnection: keep-alive\r\n"));
    CHECK_FALSE(keep("1.0", "Connection: keep-alive, close\r\n"));
    CHECK(keep("1.9", "")); // a later 1.x is treated as 1.1
}

TEST_CASE("request targets", "[stats][http]")
{
    const auto target = [](const std::string& line) {
        const auto run = parse(line + "\r\n\r\n");
        REQUIRE(run.state == status::done);
        return run.request.path + "|" + run.request.query;
    };
    CHECK(target("GET / HTTP/1.1") == "/|");
    CHECK(target("GET /?refresh=10 HTTP/1.1") == "/|refresh=10");
    CHECK(target("GET /a?b?c HTTP/1.1") == "/a|b?c");
    CHECK(target("GET /%68ealth HTTP/1.1") == "/%68ealth|"); // raw, never decoded
    CHECK(target("GET http://127.0.0.1:8404/stats.csv?x=1 HTTP/1.1") == "/stats.csv|x=1");
    CHECK(target("GET HTTPS://host HTTP/1.1") == "/|");
    CHECK(target("GET http://host?q HTTP/1.1") == "/|q");
    CHECK(target("OPTIONS * HTTP/1.1") == "*|");
}

TEST_CASE("empty lines before a request and bare LF line ends are accepted", "[stats][http]")
{
    const auto run = parse("\r\n\nGET /x HTTP/1.0\nHost: y\n\n");
    REQUIRE(run.state == status::done);
    CHECK(run.request.path == "/x");
    CHECK(run.request.version_minor == 0);
    CHECK(run.request.header("host") == "y");
}

TEST_CASE("Content-Length: repeated equal values and zero", "[stats][http]")
{
    auto run = parse("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok");
    REQUIRE(run.state == status::done);
    CHECK(run.request.body == "ok");
    run = parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(run.state == status::done);
    CHECK(run.request.body.empty());
}

TEST_CASE("malformed requests are 400", "[stats][http]")
{
    const auto bad = GENERATE(as<std::string>{},
                              "GET /\r\n\r\n",                           // no version
                              "GET  / HTTP/1.1\r\n\r\n",                 // two blanks
                              "GET / HTTP/1.1 \r\n\r\n",                 // trailing blank
                              "GET / http/1.1\r\n\r\n",                  // lower-case version
                              "GET / HTTP/1.10\r\n\r\n",                 // version too long
                              "G(T / HTTP/1.1\r\n\r\n",                  // not a token
                              "GET stats HTTP/1.1\r\n\r\n",              // not origin-form
                              "GET ftp://host/ HTTP/1.1\r\n\r\n",        // another scheme
                              "GET * HTTP/1.1\r\n\r\n",                  // * only with OPTIONS
                              "GET /a#frag HTTP/1.1\r\n\r\n",            // a fragment is never sent
                              "GET /\x01 HTTP/1.1\r\n\r\n",              // control character
                              "GET / HTTP/1.1\r\nno colon\r\n\r\n",      // field without ':'
                              "GET / HTTP/1.1\r\n: empty name\r\n\r\n",  // empty name
                              "GET / HTTP/1.1\r\nHost : x\r\n\r\n",      // blank before ':'
                              "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", // obsolete folding
                              "GET / HTTP/1.1\r\nA: x\ry\r\n\r\n",       // bare CR in a value
                              "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                              "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                              "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
                              "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
                              "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                              "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                              "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
    CAPTURE(bad);
    CHECK(refusal(bad) == request_error::bad_request);
}

TEST_CASE("garbage is refused at its first byte", "[stats][http]")
{
    // A TLS ClientHello and a PostgreSQL SSLRequest: no line end needed to know.
    CHECK(refusal(std::string("\x16\x03\x01\x02\x00", 5)) == request_error::bad_request);
    CHECK(refusal(std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8)) == request_error::bad_request);
}

TEST_CASE("other HTTP versions are 505", "[stats][http]")
{
    CHECK(refusal("GET / HTTP/2.0\r\n\r\n") == request_error::version_unsupported);
    CHECK(refusal("GET / HTTP/0.9\r\n\r\n") == request_error::version_unsupported);
}

TEST_CASE("a chunked body is 411", "[stats][http]")
{
    CHECK(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") ==
          request_error::length_required);
    CHECK(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n") == request_error::length_required);
}

TEST_CASE("the request line limit: 414 one byte past it", "[stats][http]")
{
    http_request_limits limits;
    limits.max_request_line = 64;
    const std::string head = "GET /";
    const std::string tail = " HTTP/1.1\r\n";
    const std::string fits = head + std::string(64 - head.size() - tail.size(), 'a') + tail;
    REQUIRE(fits.size() == 64);
    CHECK(parse(fits + "\r\n", limits).state == status::done);

    const std::string over = head + std::string(65 - head.size() - tail.size(), 'a') + tail;
    CHECK(refusal(over + "\r\n", limits) == request_error::uri_too_long);
    // Known before the line ends: a client streaming an endless target is stopped at the cap.
    http_request_parser parser(limits);
    CHECK(parser.feed(head + std::string(100, 'a')).state == status::error);
}

TEST_CASE("the header byte limit: 431 one byte past it", "[stats][http]")
{
    http_request_limits limits;
    limits.max_header_bytes = 100;
    // Header section = field lines + the final CRLF; "X: " + value + CRLF.
    const auto request = [](std::size_t section_bytes) {
        const std::size_t value = section_bytes - 2 - 5;
        return "GET / HTTP/1.1\r\nX: " + std::string(value, 'v') + "\r\n\r\n";
    };
    CHECK(parse(request(100), limits).state == status::done);
    CHECK(refusal(request(101), limits) == request_error::header_too_large);

    const auto cut = GENERATE(range(std::size_t{1}, std::size_t{40}));
    http_request_parser parser(limits);
    const auto whole = request(101);
    CHECK(parse_pieces(parser, split_at(whole, cut)).state == status::error);
}

TEST_CASE("the header count limit: 431 at one field too many", "[stats][http]")
{
    http_request_limits limits;
    limits.max_headers = 5;
    const auto request = [](int fields) {
        std::string out = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < fields; ++i) out += "F" + std::to_string(i) + ": v\r\n";
        return out + "\r\n";
    };
    CHECK(parse(request(5), limits).state == status::done);
    CHECK(refusal(request(6), limits) == request_error::header_too_large);
}

TEST_CASE("the body limit: 413 as soon as the headers announce too much", "[stats][http]")
{
    http_request_limits limits;
    limits.max_body = 10;
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits).state == status::done);
    // No body byte needed: the answer comes before the client sends it.
    CHECK(refusal("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits) == request_error::payload_too_large);
}

TEST_CASE("Expect: 100-continue asks for an interim answer once", "[stats][http]")
{
    http_request_parser parser;
    CHECK(parser.feed("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n").state ==
          status::need_more);
    CHECK(parser.take_continue_request());
    CHECK_FALSE(parser.take_continue_request());
    CHECK(parser.feed("abc").state == status::done);

    SECTION("not when the body came along")
    {
        http_request_parser eager;
        CHECK(eager.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\na").state ==
              status::need_more);
        CHECK_FALSE(eager.take_continue_request());
    }
    SECTION("not without a body, nor for HTTP/1.0")
    {
        http_request_parser empty;
        CHECK(empty.feed("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").state == status::done);
        CHECK_FALSE(empty.take_continue_request());
        http_request_parser old;
        CHECK(old.feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").state ==
              status::need_more);
        CHECK_FALSE(old.take_continue_request());
    }
}

TEST_CASE("field helpers", "[stats][http]")
{
    namespace text = patroxy::proxy::stats::http_text;
    CHECK(text::iequals("Keep-Alive", "keep-alive"));
    CHECK_FALSE(text::iequals("keep-alive", "keep-alive "));
    CHECK(text::trim(" \t a b \t") == "a b");
    std::vector<std::string> elements;
    text::for_each_element(" a, ,b ;q=1,, c", [&](std::string_view e) { elements.emplace_back(e); });
    CHECK(elements == std::vector<std::string>{"a", "b ;q=1", "c"});
}
