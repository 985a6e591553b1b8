// decode_first_packet and check_startup_length: every kind of first packet, the 3.2 additions,
// and the malformed packets PostgreSQL itself refuses.
#include "protocol/errors.hpp"
#include "protocol/startup.hpp"
#include "tests/support/pg_bytes.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace pg = patroxy::test::pg_bytes;
using namespace patroxy::protocol;

namespace {

/// The decoded packet of kind T, by value: callers pass a temporary result.
template <typename T>
T require_kind(const first_packet_result& r)
{
    INFO(r.error.message());
    REQUIRE_FALSE(r.error);
    REQUIRE(std::holds_alternative<T>(r.packet));
    return std::get<T>(r.packet);
}

std::error_code decode_error(const byte_buffer& packet) { return decode_first_packet(packet).error; }

} // namespace

TEST_CASE("check_startup_length accepts 8..10000 inclusive", "[protocol][startup]")
{
    CHECK(check_startup_length(0) == protocol_errc::startup_length_out_of_range);
    CHECK(check_startup_length(7) == protocol_errc::startup_length_out_of_range);
    CHECK_FALSE(check_startup_length(8));
    CHECK_FALSE(check_startup_length(300));
    CHECK_FALSE(check_startup_length(10000));
    CHECK(check_startup_length(10001) == protocol_errc::startup_length_out_of_range);
    CHECK(check_startup_length(0x7fffffffu) == protocol_errc::startup_length_out_of_range);
    CHECK(check_startup_length(0xffffffffu) == protocol_errc::startup_length_out_of_range);
}

TEST_CASE("the builders produce the bytes the PostgreSQL docs give", "[protocol][startup]")
{
    CHECK(pg::ssl_request() == pg::from_hex("00000008 04d2162f"));
    CHECK(pg::gssenc_request() == pg::from_hex("00000008 04d21630"));
    CHECK(pg::cancel_request(0x01020304, 0x0a0b0c0d) == pg::from_hex("00000010 04d2162e 01020304 0a0b0c0d"));
    CHECK(pg::startup({{"user", "u"}}) == pg::from_hex("00000010 00030000 7573657200 7500 00"));
}

TEST_CASE("SSLRequest and GSSENCRequest", "[protocol][startup]")
{
    require_kind<ssl_request>(decode_first_packet(pg::ssl_request()));
    require_kind<gssenc_request>(decode_first_packet(pg::gssenc_request()));

    SECTION("any length but 8 is refused")
    {
        const std::uint32_t code = GENERATE(pg::ssl_code, pg::gssenc_code);
        const std::size_t extra = GENERATE(1, 4, 100);
        CHECK(decode_error(pg::first_packet(code, byte_buffer(extra))) == protocol_errc::malformed_special_request);
    }
    SECTION("an SSLRequest of length 12")
    {
        CHECK(decode_error(pg::first_packet(pg::ssl_code, pg::from_hex("00000000"))) ==
              protocol_errc::malformed_special_request);
    }
}

TEST_CASE("CancelRequest with 3.0 and 3.2 key lengths", "[protocol][startup]")
{
    SECTION("a classic 4-byte key")
    {
        const auto c = require_kind<cancel_request>(decode_first_packet(pg::cancel_request(4242, 0x01020304)));
        CHECK(c.process_id == 4242);
        CHECK(c.secret_key == std::string("\x01\x02\x03\x04", 4));
    }
    SECTION("negative pid and a key holding NUL bytes")
    {
        const std::string key("\0\xff\0\x10", 4);
        const auto c = require_kind<cancel_request>(decode_first_packet(pg::cancel_request(-1, key)));
        CHECK(c.process_id == -1);
        CHECK(c.secret_key == key);
    }
    SECTION("accepted key lengths")
    {
        const std::size_t n = GENERATE(4, 5, 32, 255, 256);
        std::string key;
        for (std::size_t i = 0; i < n; ++i)
            key.push_back(static_cast<char>(i * 7));
        const auto c = require_kind<cancel_request>(decode_first_packet(pg::cancel_request(99, key)));
        CHECK(c.process_id == 99);
        CHECK(c.secret_key == key);
    }
    SECTION("refused key lengths")
    {
        const std::size_t n = GENERATE(0, 1, 3, 257, 1000);
        CAPTURE(n);
        CHECK(decode_error(pg::cancel_request(99, std::string(n, 'k'))) == protocol_errc::malformed_cancel_request);
    }
    SECTION("too short even for a pid")
    {
        CHECK(decode_error(pg::first_packet(pg::cancel_code, pg::from_hex("0000"))) ==
              protocol_errc::malformed_cancel_request);
    }
}

TEST_CASE("StartupMessage parameters", "[protocol][startup]")
{
    SECTION("order kept, lookups by name")
    {
        const auto s = require_kind<startup_message>(decode_first_packet(
            pg::startup({{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}, {"options", ""}})));
        CHECK(s.major == 3);
        CHECK(s.minor == 0);
        REQUIRE(s.parameters.size() == 4);
        CHECK(s.parameters[0] == std::pair<std::string, std::string>{"user", "alice"});
        CHECK(s.parameters[3] == std::pair<std::string, std::string>{"options", ""});
        CHECK(s.user() == "alice");
        CHECK(s.database() == "shop");
        CHECK(s.application_name() == "psql");
        CHECK(s.parameter("options").empty());
        CHECK(s.parameter("missing").empty());
    }
    SECTION("database defaults to the user name")
    {
        const auto s = require_kind<startup_message>(decode_first_packet(pg::startup({{"user", "bob"}})));
        CHECK(s.database() == "bob");
        CHECK(s.application_name().empty());
        const auto e = require_kind<startup_message>(
            decode_first_packet(pg::startup({{"database", ""}, {"user", "carol"}})));
        CHECK(e.database() == "carol");
    }
    SECTION("protocol 3.2 and unknown minors are accepted and kept for forwarding")
    {
        const std::uint16_t minor = GENERATE(as<std::uint16_t>{}, 1, 2, 3, 0xffff);
        const auto s = require_kind<startup_message>(
            decode_first_packet(pg::startup({{"user", "u"}, {"_pq_.compression", "on"}}, 3, minor)));
        CHECK(s.major == 3);
        CHECK(s.minor == minor);
        CHECK(s.parameter("_pq_.compression") == "on");
    }
    SECTION("values may hold any non-NUL byte")
    {
        const std::string odd = "\xc3\xa9t\xc3\xa9 = '\x01'";
        const auto s = require_kind<startup_message>(decode_first_packet(pg::startup({{"user", odd}})));
        CHECK(s.user() == odd);
    }
}

TEST_CASE("StartupMessage versions other than 3.x", "[protocol][startup]")
{
    const std::uint16_t major = GENERATE(as<std::uint16_t>{}, 0, 1, 2, 4, 1234, 0xffff);
    const std::uint16_t minor = GENERATE(as<std::uint16_t>{}, 0, 2);
    CAPTURE(major, minor);
    CHECK(decode_error(pg::startup({{"user", "u"}}, major, minor)) == protocol_errc::unsupported_protocol_version);
}

TEST_CASE("protocol 2.0 startup packet", "[protocol][startup]")
{
    // 2.0 had a fixed 296-byte layout (database[64] user[32] options[64] unused[64] tty[64]).
    byte_buffer body(288);
    body[64] = std::byte{'u'};
    const byte_buffer packet = pg::first_packet(2u << 16, body);
    REQUIRE(packet.size() == 296);
    CHECK(decode_error(packet) == protocol_errc::unsupported_protocol_version);
}

TEST_CASE("malformed StartupMessage bodies", "[protocol][startup]")
{
    auto raw = [](std::string_view body) { return pg::first_packet(3u << 16, pg::bytes(body)); };
    using namespace std::string_literals;

    CHECK_FALSE(decode_error(raw("user\0u\0\0"s))); // the shape everything below breaks

    CHECK(decode_error(raw(""s)) == protocol_errc::malformed_startup);                 // no terminator at all
    CHECK(decode_error(raw("user\0u\0"s)) == protocol_errc::malformed_startup);        // no final NUL
    CHECK(decode_error(raw("user\0u"s)) == protocol_errc::malformed_startup);          // unterminated value
    CHECK(decode_error(raw("user"s)) == protocol_errc::malformed_startup);             // unterminated name
    CHECK(decode_error(raw("user\0\0"s)) == protocol_errc::malformed_startup);         // name, empty value, no end
    CHECK(decode_error(raw("user\0u\0database\0\0"s)) == protocol_errc::malformed_startup); // odd count
    CHECK(decode_error(raw("user\0u\0database\0"s)) == protocol_errc::malformed_startup);   // name without value
    CHECK(decode_error(raw("user\0u\0\0\0"s)) == protocol_errc::malformed_startup);    // bytes after the end
    CHECK(decode_error(raw("user\0u\0\0junk"s)) == protocol_errc::malformed_startup);  // bytes after the end
    CHECK(decode_error(raw("\0"s)) == protocol_errc::malformed_startup);               // no user
    CHECK(decode_error(raw("database\0d\0\0"s)) == protocol_errc::malformed_startup);  // no user
    CHECK(decode_error(raw("user\0\0\0"s)) == protocol_errc::malformed_startup);       // empty user
    CHECK(decode_error(raw("User\0u\0\0"s)) == protocol_errc::malformed_startup);      // names are case-sensitive
}

TEST_CASE("the length word must agree with the bytes given", "[protocol][startup]")
{
    const byte_buffer good = pg::startup({{"user", "u"}});
    const auto size = static_cast<std::uint32_t>(good.size());
    const byte_buffer body(good.begin() + 8, good.end());

    CHECK(decode_error(pg::first_packet_with_length(size + 1, 3u << 16, body)) == protocol_errc::malformed_startup);
    CHECK(decode_error(pg::first_packet_with_length(size - 1, 3u << 16, body)) == protocol_errc::malformed_startup);
    CHECK(decode_error(pg::first_packet_with_length(7, 3u << 16, body)) == protocol_errc::startup_length_out_of_range);
    CHECK(decode_error(pg::first_packet_with_length(0x7fffffffu, 3u << 16, body)) ==
          protocol_errc::startup_length_out_of_range);
    SECTION("fewer than 8 bytes")
    {
        const std::size_t n = GENERATE(0, 1, 4, 7);
        CHECK(decode_first_packet(bytes_view(good).first(n)).error == protocol_errc::startup_length_out_of_range);
    }
    SECTION("a 10000-byte startup is the largest")
    {
        // 8 bytes of header, "user\0u\0" 7, "options\0" 8, the value's NUL and the final NUL: 25.
        byte_buffer big = pg::startup({{"user", "u"}, {"options", std::string(10000 - 25, 'o')}});
        REQUIRE(big.size() == 10000);
        CHECK(require_kind<startup_message>(decode_first_packet(big)).parameter("options").size() == 9975);
        big = pg::startup({{"user", "u"}, {"options", std::string(10001 - 25, 'o')}});
        REQUIRE(big.size() == 10001);
        CHECK(decode_error(big) == protocol_errc::startup_length_out_of_range);
    }
}
