// The Patroni client's error codes, and how the HTTP codec's refusals map onto them.
#include "health/http/http_errc.hpp"
#include "protocol/http/http_errors.hpp"
#include "protocol/http/response_parser.hpp"

#include <catch2/catch.hpp>

#include <string>

using patroxy::health::from_codec_error;
using patroxy::health::http_category;
using patroxy::health::http_errc;
using patroxy::health::http_limits;
using patroxy::health::response_limits;
namespace codec = patroxy::protocol::http;

TEST_CASE("http_errc travels as std::error_code", "[health][http]")
{
    const std::error_code ec = http_errc::response_timeout;
    CHECK(ec.category() == http_category());
    CHECK(std::string(ec.category().name()) == "patroxy.http");
    CHECK(ec.message() == "response timed out");
    CHECK(ec != http_errc::connect_timeout);
    CHECK(std::error_code(http_errc::closed_early).message() == "connection closed before the response was complete");
    CHECK(http_category().message(99) == "unknown http error 99");
}

TEST_CASE("the codec's refusals keep their meaning for the poller", "[health][http]")
{
    CHECK(from_codec_error(codec::http_errc::start_line_too_long) == http_errc::header_too_large);
    CHECK(from_codec_error(codec::http_errc::fields_too_large) == http_errc::header_too_large);
    CHECK(from_codec_error(codec::http_errc::too_many_fields) == http_errc::header_too_large);
    CHECK(from_codec_error(codec::http_errc::body_too_large) == http_errc::body_too_large);
    CHECK(from_codec_error(codec::http_errc::closed_early) == http_errc::closed_early);
    for (const auto syntax : {codec::http_errc::bad_start_line, codec::http_errc::bad_field,
                              codec::http_errc::bad_content_length, codec::http_errc::bad_chunk})
        CHECK(from_codec_error(syntax) == http_errc::malformed_response);
    CHECK(from_codec_error(std::make_error_code(std::errc::io_error)) == http_errc::malformed_response);
}

TEST_CASE("http_limits' header cap bounds the status line and the fields alike", "[health][http]")
{
    http_limits limits;
    limits.max_header_bytes = 64;
    limits.max_body_bytes = 8;
    const auto caps = response_limits(limits);
    const auto long_status = codec::parse_response("HTTP/1.1 200 " + std::string(64, 'r') + "\r\n\r\n", false, caps);
    CHECK(from_codec_error(long_status.result.error) == http_errc::header_too_large);
    const auto long_field =
        codec::parse_response("HTTP/1.1 200 OK\r\nX: " + std::string(64, 'v') + "\r\n\r\n", false, caps);
    CHECK(from_codec_error(long_field.result.error) == http_errc::header_too_large);
    const auto long_body = codec::parse_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", false, caps);
    CHECK(from_codec_error(long_body.result.error) == http_errc::body_too_large);
}
