// request_parser on byte strings: request lines, fields, Content-Length and chunked bodies,
// every split point, pipelined requests, each cap at its boundary, and what must be refused.
// No sockets.
#include "http_feed_helpers.hpp"
#include "protocol/http/request_parser.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using patroxy::protocol::http::http_errc;
using patroxy::protocol::http::limits;
using patroxy::protocol::http::parse_request;
using patroxy::protocol::http::parse_status;
using patroxy::protocol::http::request;
using patroxy::protocol::http::request_parser;
using patroxy::test::feed_pieces;
using patroxy::test::one_byte_each;
using patroxy::test::parse_with;
using patroxy::test::split_at;

namespace {

auto parse(const std::string& bytes, limits caps = {})
{
    request_parser parser(caps);
    return parse_with(parser, {bytes});
}

std::error_code refusal(const std::string& bytes, limits caps = {})
{
    const auto run = parse(bytes, caps);
    REQUIRE(run.state == parse_status::error);
    return run.error;
}

const std::string post_request = "POST /admin?member=node1&x HTTP/1.1\r\n"
                                 "Host: 127.0.0.1:8404\r\n"
                                 "Content-Type: application/x-www-form-urlencoded\r\n"
                                 "X-Spaced:   padded value \t\r\n"
                                 "Content-Length: 21\r\n"
                                 "\r\n"
                                 "action=drain&extra=1!";

void check_post(const request& r)
{
    CHECK(r.method == "POST");
    CHECK(r.path == "/admin");
    CHECK(r.query == "member=node1&x");
    CHECK(r.version_minor == 1);
    CHECK(r.keep_alive);
    REQUIRE(r.headers.size() == 4);
    CHECK(r.headers[0].first == "host");
    CHECK(r.headers[1].first == "content-type");
    CHECK(r.header("x-spaced") == "padded value");
    CHECK(r.header("content-length") == "21");
    CHECK(r.body == "action=drain&extra=1!");
}

const std::string chunked_post = "POST /admin HTTP/1.1\r\n"
                                 "Transfer-Encoding: chunked\r\n"
                                 "\r\n"
                                 "7;ext=\"a b\"\r\naction=\r\n"
                                 "5\r\ndrain\r\n"
                                 "0\r\n"
                                 "X-Trailer: dropped\r\n"
                                 "\r\n";

} // namespace

TEST_CASE("a GET without a body", "[protocol][http]")
{
    const std::string bytes = "GET /stats.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
    const auto run = parse(bytes);
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == bytes.size());
    CHECK(run.parsed.method == "GET");
    CHECK(run.parsed.path == "/stats.json");
    CHECK(run.parsed.query.empty());
    CHECK(run.parsed.body.empty());
    CHECK(run.parsed.header("accept-encoding") == "gzip");
    CHECK_FALSE(run.parsed.header("authorization"));
}

TEST_CASE("a POST parses the same at every split point", "[protocol][http]")
{
    const auto cut = GENERATE(range(std::size_t{0}, post_request.size() + 1));
    request_parser parser;
    const auto run = parse_with(parser, split_at(post_request, {cut}));
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == post_request.size());
    check_post(run.parsed);
}

TEST_CASE("a POST fed byte by byte needs every byte", "[protocol][http]")
{
    request_parser parser;
    CHECK(parser.at_start());
    const auto run = parse_with(parser, one_byte_each(post_request));
    REQUIRE(run.state == parse_status::done);
    CHECK(run.need_more_calls == post_request.size() - 1);
    CHECK(run.consumed == post_request.size());
    check_post(run.parsed);
}

TEST_CASE("a chunked request body is decoded, at every split point", "[protocol][http]")
{
    const auto cut = GENERATE(range(std::size_t{0}, chunked_post.size() + 1));
    request_parser parser;
    const auto run = parse_with(parser, split_at(chunked_post, {cut}));
    REQUIRE(run.state == parse_status::done);
    CHECK(run.consumed == chunked_post.size());
    CHECK(run.parsed.body == "action=drain");
    CHECK_FALSE(run.parsed.header("x-trailer"));
    CHECK(run.parsed.header("transfer-encoding") == "chunked");
}

TEST_CASE("pipelined requests: done stops at the request's last byte", "[protocol][http]")
{
    const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string second = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
    const std::string third = "HEAD /c HTTP/1.1\r\n\r\n";
    std::string stream = first + second + chunked_post + third;

    request_parser parser;
    std::vector<request> requests;
    while (!stream.empty()) {
        const auto r = parser.feed(stream);
        REQUIRE(r.state == parse_status::done);
        stream.erase(0, r.consumed);
        requests.push_back(parser.take());
        parser.reset();
        CHECK(parser.at_start());
    }
    REQUIRE(requests.size() == 4);
    CHECK(requests[0].path == "/a");
    CHECK(requests[1].body == "xyz");
    CHECK(requests[2].body == "action=drain");
    CHECK(requests[3].method == "HEAD");
}

TEST_CASE("after done or error the request parser repeats its outcome", "[protocol][http]")
{
    request_parser parser;
    REQUIRE(parser.feed("GET / HTTP/1.1\r\n\r\n").state == parse_status::done);
    const auto again = parser.feed("GET /next HTTP/1.1\r\n\r\n");
    CHECK(again.state == parse_status::done);
    CHECK(again.consumed == 0);

    request_parser broken;
    REQUIRE(broken.feed("GET / HTTP/1.1\r\nno colon\r\n").state == parse_status::error);
    const auto still = broken.feed("\r\n");
    CHECK(still.state == parse_status::error);
    CHECK(still.consumed == 0);
    CHECK(still.error == http_errc::bad_field);
}

TEST_CASE("at_start is false from a request's first byte until reset", "[protocol][http]")
{
    request_parser parser;
    CHECK(parser.at_start());
    CHECK(parser.feed("G").state == parse_status::need_more);
    CHECK_FALSE(parser.at_start());
    parser.reset();
    CHECK(parser.at_start());
    CHECK(parser.feed("\r\n").state == parse_status::need_more); // an empty line before a request counts
    CHECK_FALSE(parser.at_start());
}

TEST_CASE("a request's keep-alive follows the version and the Connection field", "[protocol][http]")
{
    const auto keep = [](const std::string& version, const std::string& fields) {
        const auto run = parse("GET / HTTP/" + version + "\r\n" + fields + "\r\n");
        REQUIRE(run.state == parse_status::done);
        return run.parsed.keep_alive;
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

TEST_CASE("request targets", "[protocol][http]")
{
    const auto target = [](const std::string& line) {
        const auto run = parse(line + "\r\n\r\n");
        REQUIRE(run.state == parse_status::done);
        return run.parsed.path + "|" + run.parsed.query;
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

TEST_CASE("empty lines before a request and bare LF line ends are accepted", "[protocol][http]")
{
    const auto run = parse("\r\n\nGET /x HTTP/1.0\nHost: y\n\n");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.path == "/x");
    CHECK(run.parsed.version_minor == 0);
    CHECK(run.parsed.header("host") == "y");
}

TEST_CASE("request Content-Length: repeated equal values and zero", "[protocol][http]")
{
    auto run = parse("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.body == "ok");
    run = parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(run.state == parse_status::done);
    CHECK(run.parsed.body.empty());
}

TEST_CASE("malformed requests name what is wrong", "[protocol][http]")
{
    struct example {
        std::string bytes;
        http_errc error;
    };
    const auto e = GENERATE(
        example{"GET /\r\n\r\n", http_errc::bad_start_line},                   // no version
        example{"GET  / HTTP/1.1\r\n\r\n", http_errc::bad_start_line},         // two blanks
        example{"GET / HTTP/1.1 \r\n\r\n", http_errc::bad_start_line},         // trailing blank
        example{"GET / http/1.1\r\n\r\n", http_errc::bad_start_line},          // lower-case version
        example{"GET / HTTP/1.10\r\n\r\n", http_errc::bad_start_line},         // version too long
        example{"G(T / HTTP/1.1\r\n\r\n", http_errc::bad_start_line},          // not a token
        example{"GET stats HTTP/1.1\r\n\r\n", http_errc::bad_start_line},      // not origin-form
        example{"GET ftp://host/ HTTP/1.1\r\n\r\n", http_errc::bad_start_line}, // another scheme
        example{"GET * HTTP/1.1\r\n\r\n", http_errc::bad_start_line},          // * only with OPTIONS
        example{"GET /a#frag HTTP/1.1\r\n\r\n", http_errc::bad_start_line},    // a fragment is never sent
        example{"GET /\x01 HTTP/1.1\r\n\r\n", http_errc::bad_start_line},      // control character
        example{"GET / HTTP/2.0\r\n\r\n", http_errc::unsupported_version},
        example{"GET / HTTP/0.9\r\n\r\n", http_errc::unsupported_version},
        example{"GET / HTTP/1.1\r\nno colon\r\n\r\n", http_errc::bad_field},
        example{"GET / HTTP/1.1\r\n: empty name\r\n\r\n", http_errc::bad_field},
        example{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", http_errc::bad_field},     // blank before ':'
        example{"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", http_errc::bad_field}, // obsolete folding
        example{"GET / HTTP/1.1\r\nA: x\ry\r\n\r\n", http_errc::bad_field},      // bare CR in a value
        example{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", http_errc::bad_content_length},
        example{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", http_errc::bad_content_length},
        example{"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", http_errc::bad_content_length},
        example{"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", http_errc::bad_content_length},
        example{"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", http_errc::bad_content_length},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", http_errc::bad_transfer_encoding},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", http_errc::bad_transfer_encoding},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", http_errc::bad_transfer_encoding},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", http_errc::bad_transfer_encoding},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                http_errc::bad_transfer_encoding},
        example{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", http_errc::bad_transfer_encoding},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", http_errc::unsupported_transfer_coding},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", http_errc::bad_chunk},
        example{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", http_errc::bad_chunk});
    CAPTURE(e.bytes);
    CHECK(refusal(e.bytes) == e.error);
}

TEST_CASE("request garbage is refused at its first byte", "[protocol][http]")
{
    // A TLS ClientHello and a PostgreSQL SSLRequest: no line end needed to know.
    const auto hello = parse(std::string("\x16\x03\x01\x02\x00", 5));
    CHECK(hello.error == http_errc::bad_start_line);
    CHECK(hello.consumed == 0);
    const auto ssl_request = parse(std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));
    CHECK(ssl_request.error == http_errc::bad_start_line);
    const auto late = parse("GE\x7f");
    CHECK(late.error == http_errc::bad_start_line);
    CHECK(late.consumed == 2);
}

TEST_CASE("the request line cap: one byte past it", "[protocol][http]")
{
    limits caps;
    caps.max_start_line = 64;
    const std::string head = "GET /";
    const std::string tail = " HTTP/1.1\r\n";
    const std::string fits = head + std::string(64 - head.size() - tail.size(), 'a') + tail;
    REQUIRE(fits.size() == 64);
    CHECK(parse(fits + "\r\n", caps).state == parse_status::done);

    const std::string over = head + std::string(65 - head.size() - tail.size(), 'a') + tail;
    CHECK(refusal(over + "\r\n", caps) == http_errc::start_line_too_long);
    // Known before the line ends: a client streaming an endless target is stopped at the cap.
    request_parser parser(caps);
    const auto endless = parser.feed(head + std::string(100, 'a'));
    CHECK(endless.error == http_errc::start_line_too_long);
    CHECK(endless.consumed == 64);
}

TEST_CASE("the request field section cap: one byte past it", "[protocol][http]")
{
    limits caps;
    caps.max_field_bytes = 100;
    // Field section = field lines + the final CRLF; "X: " + value + CRLF.
    const auto request_of = [](std::size_t section_bytes) {
        const std::size_t value = section_bytes - 2 - 5;
        return "GET / HTTP/1.1\r\nX: " + std::string(value, 'v') + "\r\n\r\n";
    };
    CHECK(parse(request_of(100), caps).state == parse_status::done);
    CHECK(refusal(request_of(101), caps) == http_errc::fields_too_large);

    const auto cut = GENERATE(range(std::size_t{1}, std::size_t{40}));
    request_parser parser(caps);
    const auto whole = request_of(101);
    const auto run = feed_pieces(parser, split_at(whole, {cut}));
    CHECK(run.error == http_errc::fields_too_large);
    CHECK(run.consumed == 16 + 100);
}

TEST_CASE("the request field count cap: one field too many", "[protocol][http]")
{
    limits caps;
    caps.max_fields = 5;
    const auto request_of = [](int fields) {
        std::string out = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < fields; ++i) out += "F" + std::to_string(i) + ": v\r\n";
        return out + "\r\n";
    };
    CHECK(parse(request_of(5), caps).state == parse_status::done);
    CHECK(refusal(request_of(6), caps) == http_errc::too_many_fields);
}

TEST_CASE("the request body cap", "[protocol][http]")
{
    limits caps;
    caps.max_body_bytes = 10;
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", caps).state == parse_status::done);
    // No body byte needed: the answer comes before the client sends it.
    CHECK(refusal("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", caps) == http_errc::body_too_large);
    const std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(parse(chunked + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", caps).state == parse_status::done);
    CHECK(refusal(chunked + "5\r\n01234\r\n6\r\n", caps) == http_errc::body_too_large);
}

TEST_CASE("Expect: 100-continue asks for an interim answer once", "[protocol][http]")
{
    request_parser parser;
    CHECK(parser.feed("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n").state ==
          parse_status::need_more);
    CHECK(parser.take_continue_request());
    CHECK_FALSE(parser.take_continue_request());
    CHECK(parser.feed("abc").state == parse_status::done);

    SECTION("for a chunked body too")
    {
        request_parser chunked;
        CHECK(chunked.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n").state ==
              parse_status::need_more);
        CHECK(chunked.take_continue_request());
    }
    SECTION("not when the body came along")
    {
        request_parser eager;
        CHECK(eager.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\na").state ==
              parse_status::need_more);
        CHECK_FALSE(eager.take_continue_request());
    }
    SECTION("not without a body, nor for HTTP/1.0")
    {
        request_parser empty;
        CHECK(empty.feed("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").state == parse_status::done);
        CHECK_FALSE(empty.take_continue_request());
        request_parser old;
        CHECK(old.feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").state ==
              parse_status::need_more);
        CHECK_FALSE(old.take_continue_request());
    }
}

TEST_CASE("a request cut short is closed_early", "[protocol][http]")
{
    request_parser parser;
    REQUIRE(parser.feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").state == parse_status::need_more);
    CHECK(parser.finish().error == http_errc::closed_early);
}

TEST_CASE("parse_request: one call for a whole input", "[protocol][http]")
{
    const auto whole = parse_request(post_request);
    REQUIRE(whole.result.state == parse_status::done);
    check_post(whole.parsed);
    CHECK(parse_request("GET / HTTP/1.1\r\n").result.state == parse_status::need_more);
}
