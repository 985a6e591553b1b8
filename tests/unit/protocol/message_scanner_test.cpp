// message_scanner: framing of regular messages across arbitrary chunk boundaries, reporting of
// the requested types only, and the length checks that protect the relay.
#include "protocol/errors.hpp"
#include "protocol/message_scanner.hpp"
#include "scan_helpers.hpp"
#include "tests/support/pg_bytes.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

namespace pg = patroxy::test::pg_bytes;
using patroxy::protocol::byte_buffer;
using patroxy::protocol::bytes_view;
using patroxy::protocol::message_scanner;
using patroxy::protocol::protocol_errc;
using patroxy::test::scan_chunks;
using patroxy::test::seen_message;
using patroxy::test::split_at;
using patroxy::test::types;

namespace {

constexpr std::uint32_t max_length = 1u << 20;

/// What the scanner should report for a message it fully captures.
seen_message expected(const byte_buffer& msg, std::size_t end_offset)
{
    return {static_cast<char>(msg[0]), static_cast<std::uint32_t>(msg.size() - 5), pg::body_of(msg), false, end_offset};
}

/// The same message, reported as truncated.
seen_message expected_truncated(const byte_buffer& msg, std::size_t end_offset)
{
    return {static_cast<char>(msg[0]), static_cast<std::uint32_t>(msg.size() - 5), {}, true, end_offset};
}

/// The real PostgreSQL 15 backend stream from data/, one message per element.
std::vector<byte_buffer> load_pg15_stream()
{
    std::ifstream in(PATROXY_TEST_DATA "/pg15_backend_stream.hex");
    REQUIRE(in);
    std::vector<byte_buffer> messages;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#')
            messages.push_back(pg::from_hex(line));
    return messages;
}

} // namespace

TEST_CASE("each decoded message type survives a split at every byte", "[protocol][scanner]")
{
    const byte_buffer msg = GENERATE(pg::backend_key_data(4242, 0x0badf00d),
                                     pg::backend_key_data(7, std::string(256, 'k')),
                                     pg::ready_for_query('I'),
                                     pg::parameter_status("server_version", "15.4"),
                                     pg::error_response("FATAL", "57P03", "the database system is starting up"),
                                     pg::notice_response({{'S', "WARNING"}, {'C', "01000"}, {'M', "careful"}}),
                                     pg::query("SELECT 1"),
                                     pg::sync());
    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, msg.size() + 1));
    CAPTURE(static_cast<char>(msg[0]), msg.size(), cut);

    message_scanner scanner(types("KZSENQ"), max_length);
    const auto run = scan_chunks(scanner, split_at(msg, {cut}));

    CHECK_FALSE(run.error);
    CHECK(run.consumed == msg.size());
    REQUIRE(run.messages.size() == 1);
    CHECK(run.messages[0] == expected(msg, msg.size()));
    CHECK(run.boundary_at_end);
    CHECK(run.seen == 1);
}

TEST_CASE("several messages in one buffer are reported one per scan() call", "[protocol][scanner]")
{
    const byte_buffer a = pg::backend_key_data(1, 2);
    const byte_buffer b = pg::parameter_status("TimeZone", "UTC");
    const byte_buffer c = pg::ready_for_query('T');
    const byte_buffer stream = pg::concat({a, b, c});
    message_scanner scanner(types("KSZ"), max_length);

    SECTION("the caller sees each message with consumed ending at that message")
    {
        bytes_view rest(stream);
        auto r = scanner.scan(rest);
        REQUIRE(r.has_message);
        CHECK(r.consumed == a.size());
        CHECK(r.message.type == 'K');
        rest = rest.subspan(r.consumed);
        r = scanner.scan(rest);
        REQUIRE(r.has_message);
        CHECK(r.consumed == b.size());
        CHECK(r.message.type == 'S');
        rest = rest.subspan(r.consumed);
        r = scanner.scan(rest);
        REQUIRE(r.has_message);
        CHECK(r.consumed == c.size());
        CHECK(r.message.type == 'Z');
        CHECK(r.consumed == rest.size());
        CHECK(scanner.messages_seen() == 3);
    }

    SECTION("split into three chunks at every pair of points")
    {
        const std::size_t first = GENERATE_COPY(range(std::size_t{0}, stream.size() + 1));
        const std::size_t second = GENERATE_COPY(range(std::size_t{0}, stream.size() + 1));
        if (second < first)
            return; // each pair once
        CAPTURE(first, second);
        const auto run = scan_chunks(scanner, split_at(stream, {first, second}));
        CHECK_FALSE(run.error);
        CHECK(run.consumed == stream.size());
        REQUIRE(run.messages.size() == 3);
        CHECK(run.messages[0] == expected(a, a.size()));
        CHECK(run.messages[1] == expected(b, a.size() + b.size()));
        CHECK(run.messages[2] == expected(c, stream.size()));
    }

    SECTION("one byte at a time")
    {
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < stream.size(); ++i)
            cuts.push_back(i);
        const auto run = scan_chunks(scanner, split_at(stream, cuts));
        REQUIRE(run.messages.size() == 3);
        CHECK(run.messages[2] == expected(c, stream.size()));
    }
}

TEST_CASE("a header split inside the length word is reassembled", "[protocol][scanner]")
{
    // 'Z' length 5 'I': the cut lands after the type byte and after each byte of the length.
    const byte_buffer msg = pg::ready_for_query('E');
    const std::size_t cut = GENERATE(1, 2, 3, 4);
    message_scanner scanner(types("Z"), max_length);

    auto r = scanner.scan(bytes_view(msg).first(cut));
    CHECK(r.consumed == cut);
    CHECK_FALSE(r.has_message);
    CHECK_FALSE(scanner.at_message_boundary());
    r = scanner.scan(bytes_view(msg).subspan(cut));
    CHECK(r.consumed == msg.size() - cut);
    REQUIRE(r.has_message);
    CHECK(r.message.body_length == 1);
    REQUIRE(r.message.body.size() == 1);
    CHECK(r.message.body[0] == std::byte{'E'});
    CHECK(scanner.at_message_boundary());
}

TEST_CASE("unreported types are skipped whole, whatever they contain", "[protocol][scanner]")
{
    // The unreported bodies hold bytes that look like headers of reported types.
    const byte_buffer stream = pg::concat({
        pg::message('T', pg::concat({pg::ready_for_query('I'), pg::ready_for_query('E')})),
        pg::data_row({std::string("Z\0\0\0\5I", 6), std::nullopt}),
        pg::message('\x7f', pg::bytes("not a real type")),
        pg::message('\0'),
        pg::command_complete("SELECT 1"),
        pg::ready_for_query('T'),
    });
    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, stream.size() + 1));
    message_scanner scanner(types("Z"), max_length);
    const auto run = scan_chunks(scanner, split_at(stream, {cut}));

    CHECK_FALSE(run.error);
    CHECK(run.consumed == stream.size());
    REQUIRE(run.messages.size() == 1);
    CHECK(run.messages[0] == expected(pg::ready_for_query('T'), stream.size()));
    CHECK(run.seen == 6);
}

TEST_CASE("a 100 kB DataRow passes without surfacing", "[protocol][scanner]")
{
    const byte_buffer row = pg::data_row({std::string(100 * 1024, 'x'), std::string(17, 'y')});
    const byte_buffer stream =
        pg::concat({pg::command_complete("BEGIN"), row, row, pg::command_complete("SELECT 2"),
                    pg::ready_for_query('I')});
    const std::size_t chunk_size = GENERATE(1, 7, 4096, 65536, 1u << 20);
    CAPTURE(chunk_size);
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk_size; at < stream.size(); at += chunk_size)
        cuts.push_back(at);

    SECTION("DataRow not reported")
    {
        message_scanner scanner(types("ZEK"), max_length);
        const auto run = scan_chunks(scanner, split_at(stream, cuts));
        CHECK_FALSE(run.error);
        CHECK(run.consumed == stream.size());
        REQUIRE(run.messages.size() == 1);
        CHECK(run.messages[0].type == 'Z');
        CHECK(run.seen == 5);
    }
    SECTION("DataRow reported: too long to copy, so truncated")
    {
        message_scanner scanner(types("D"), max_length);
        const auto run = scan_chunks(scanner, split_at(stream, cuts));
        CHECK_FALSE(run.error);
        REQUIRE(run.messages.size() == 2);
        const std::size_t first_end = pg::command_complete("BEGIN").size() + row.size();
        CHECK(run.messages[0] == expected_truncated(row, first_end));
        CHECK(run.messages[1] == expected_truncated(row, first_end + row.size()));
    }
}

TEST_CASE("bodies over the capture limit are reported truncated", "[protocol][scanner]")
{
    message_scanner scanner(types("E"), max_length);

    SECTION("a 2000-byte ErrorResponse")
    {
        const byte_buffer msg = pg::error_response("ERROR", "XX000", std::string(2000, 'm'));
        REQUIRE(msg.size() - 5 > message_scanner::capture_limit);
        const std::size_t cut = GENERATE(0, 3, 5, 6, 1029, 1030, 2000);
        const auto run = scan_chunks(scanner, split_at(msg, {cut}));
        REQUIRE(run.messages.size() == 1);
        CHECK(run.messages[0] == expected_truncated(msg, msg.size()));
        CHECK(run.messages[0].body.empty());
        CHECK(run.boundary_at_end);
    }
    SECTION("exactly at the limit is still copied, one more byte is not")
    {
        const byte_buffer at_limit = pg::message('E', byte_buffer(message_scanner::capture_limit, std::byte{'a'}));
        const byte_buffer over = pg::message('E', byte_buffer(message_scanner::capture_limit + 1, std::byte{'b'}));
        const auto run =
            scan_chunks(scanner, split_at(pg::concat({at_limit, over}), {at_limit.size() - 10, at_limit.size() + 20}));
        REQUIRE(run.messages.size() == 2);
        CHECK(run.messages[0] == expected(at_limit, at_limit.size()));
        CHECK(run.messages[1] == expected_truncated(over, at_limit.size() + over.size()));
    }
}

TEST_CASE("declared lengths are checked as soon as the header is complete", "[protocol][scanner]")
{
    message_scanner scanner(types("Z"), 8192);

    SECTION("below 4 is too small")
    {
        const std::uint32_t length = GENERATE(0u, 1u, 3u);
        const byte_buffer stream =
            pg::concat({pg::ready_for_query('I'), pg::header('D', length), pg::ready_for_query('I')});
        auto r = scanner.scan(stream);
        REQUIRE(r.has_message);
        r = scanner.scan(bytes_view(stream).subspan(r.consumed));
        CHECK(r.error == protocol_errc::message_length_too_small);
        CHECK(r.consumed == 5);
        CHECK_FALSE(r.has_message);
        CHECK_FALSE(scanner.at_message_boundary());
    }
    SECTION("over the maximum is too large, even before any body byte arrives")
    {
        const std::uint32_t length = GENERATE(8193u, 1u << 30, 0x7fffffffu, 0xffffffffu);
        const byte_buffer head = pg::header('D', length);
        auto r = scanner.scan(bytes_view(head).first(3));
        CHECK_FALSE(r.error);
        r = scanner.scan(bytes_view(head).subspan(3));
        CHECK(r.error == protocol_errc::message_too_large);
        CHECK(r.consumed == 2);
    }
    SECTION("exactly 4 and exactly the maximum are fine")
    {
        const byte_buffer stream = pg::concat({pg::message('Z'), pg::message('Z', byte_buffer(8192 - 4))});
        const auto run = scan_chunks(scanner, {bytes_view(stream)});
        CHECK_FALSE(run.error);
        REQUIRE(run.messages.size() == 2);
        CHECK(run.messages[0].body_length == 0);
        CHECK_FALSE(run.messages[0].truncated);
        CHECK(run.messages[1].body_length == 8188);
        CHECK(run.messages[1].truncated);
    }
    SECTION("the error sticks")
    {
        const byte_buffer bad = pg::header('Q', 2);
        REQUIRE(scanner.scan(bad).error == protocol_errc::message_length_too_small);
        const byte_buffer good = pg::ready_for_query('I');
        for (int i = 0; i < 3; ++i) {
            const auto r = scanner.scan(good);
            CHECK(r.error == protocol_errc::message_length_too_small);
            CHECK(r.consumed == 0);
            CHECK_FALSE(r.has_message);
        }
        CHECK(scanner.messages_seen() == 0);
        CHECK(scanner.scan(bytes_view{}).error == protocol_errc::message_length_too_small);
    }
}

TEST_CASE("at_message_boundary follows the stream", "[protocol][scanner]")
{
    message_scanner scanner(types(""), max_length);
    const byte_buffer msg = pg::parameter_status("a", "b"); // 5 + 4 bytes
    const bytes_view v(msg);
    CHECK(scanner.at_message_boundary());
    CHECK(scanner.scan(v.first(0)).consumed == 0);
    CHECK(scanner.at_message_boundary());
    CHECK(scanner.scan(v.first(1)).consumed == 1);
    CHECK_FALSE(scanner.at_message_boundary()); // inside the header
    CHECK(scanner.scan(v.subspan(1, 4)).consumed == 4);
    CHECK_FALSE(scanner.at_message_boundary()); // header done, body pending
    CHECK(scanner.scan(v.subspan(5, 3)).consumed == 3);
    CHECK_FALSE(scanner.at_message_boundary()); // one body byte left
    CHECK(scanner.scan(v.subspan(8)).consumed == 1);
    CHECK(scanner.at_message_boundary());
    CHECK(scanner.messages_seen() == 1);

    // A body-less message ends with its header.
    CHECK(scanner.scan(pg::sync()).consumed == 5);
    CHECK(scanner.at_message_boundary());
    CHECK(scanner.messages_seen() == 2);
}

TEST_CASE("a real PostgreSQL 15 backend stream, split at every byte", "[protocol][scanner]")
{
    const std::vector<byte_buffer> messages = load_pg15_stream();
    REQUIRE(messages.size() == 19);
    byte_buffer stream;
    std::vector<seen_message> want;
    for (const auto& m : messages) {
        stream.insert(stream.end(), m.begin(), m.end());
        if (m[0] == std::byte{'K'} || m[0] == std::byte{'Z'} || m[0] == std::byte{'E'})
            want.push_back(expected(m, stream.size()));
    }
    REQUIRE(want.size() == 5);

    const std::size_t cut = GENERATE_COPY(range(std::size_t{0}, stream.size() + 1));
    message_scanner scanner(types("KZE"), max_length);
    const auto run = scan_chunks(scanner, split_at(stream, {cut}));
    CHECK_FALSE(run.error);
    CHECK(run.consumed == stream.size());
    CHECK(run.messages == want);
    CHECK(run.seen == messages.size());
}

TEST_CASE("a body one chunk holds whole is handed out in place, a split one is reassembled", "[protocol][scanner]")
{
    const byte_buffer key = pg::backend_key_data(7, std::string(256, 'k'));
    message_scanner scanner(types("K"), max_length);

    SECTION("whole: the body is a view into the chunk, nothing is copied")
    {
        const auto r = scanner.scan(bytes_view(key));
        REQUIRE(r.has_message);
        CHECK(r.message.body.data() == key.data() + 5);
        CHECK(byte_buffer(r.message.body.begin(), r.message.body.end()) == pg::body_of(key));
    }
    SECTION("split: the body is reassembled, then the next message scans as usual")
    {
        byte_buffer stream = key;
        const byte_buffer rfq = pg::ready_for_query('T');
        stream.insert(stream.end(), rfq.begin(), rfq.end());
        const auto run = scan_chunks(scanner, split_at(stream, {100, 200}));
        REQUIRE(run.messages.size() == 1);
        CHECK(run.messages[0].body == pg::body_of(key));
        CHECK(run.boundary_at_end);
        CHECK(run.seen == 2);
    }
}
