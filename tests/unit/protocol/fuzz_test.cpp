// Seeded random inputs against decode_first_packet and message_scanner: no crash, and results
// consistent with the bytes (a decoded startup re-encodes to the same packet; the scanner matches
// a whole-buffer reference walk however the stream is chunked).
#include "protocol/errors.hpp"
#include "protocol/message_scanner.hpp"
#include "protocol/startup.hpp"
#include "scan_helpers.hpp"
#include "tests/support/pg_bytes.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

namespace pg = patroxy::test::pg_bytes;
using namespace patroxy::protocol;
using patroxy::test::reference_scan;
using patroxy::test::scan_chunks;
using patroxy::test::scan_run;
using patroxy::test::seen_message;
using patroxy::test::split_at;

namespace {

constexpr int iterations = 20000;

struct rng {
    std::mt19937 gen;
    explicit rng(std::uint32_t seed) : gen(seed) {}
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(gen); }
    std::byte byte() { return static_cast<std::byte>(below(256)); }
    bool chance(std::size_t one_in) { return below(one_in) == 0; }
};

/// Bytes biased towards what startup parsing branches on: NULs and the letters of "user".
byte_buffer startup_like_body(rng& r)
{
    static constexpr char alphabet[] = {'\0', '\0', '\0', 'u', 's', 'e', 'r', 'x'};
    byte_buffer body(r.below(40));
    for (auto& b : body)
        b = r.chance(4) ? r.byte() : static_cast<std::byte>(alphabet[r.below(sizeof alphabet)]);
    return body;
}

/// A first packet that is right often enough to reach every branch.
byte_buffer random_first_packet(rng& r)
{
    if (r.chance(5)) { // plain garbage, any length word
        byte_buffer p(r.below(64));
        for (auto& b : p)
            b = r.byte();
        return p;
    }
    const std::uint32_t codes[] = {pg::cancel_code, pg::ssl_code, pg::gssenc_code, 3u << 16, (3u << 16) | 2u,
                                   2u << 16, static_cast<std::uint32_t>(r.below(1u << 20)) << 12};
    const std::uint32_t code = codes[r.below(std::size(codes))];
    if (code == pg::cancel_code || r.chance(4)) {
        byte_buffer body(r.below(270));
        for (auto& b : body)
            b = r.byte();
        return pg::first_packet(code, body);
    }
    return pg::first_packet(code, startup_like_body(r));
}

/// Checks a successful decode against the packet bytes.
void check_decoded(const byte_buffer& packet, const first_packet& decoded)
{
    if (std::holds_alternative<ssl_request>(decoded) || std::holds_alternative<gssenc_request>(decoded)) {
        CHECK(packet.size() == 8);
        return;
    }
    if (const auto* c = std::get_if<cancel_request>(&decoded)) {
        CHECK(c->secret_key.size() >= 4);
        CHECK(c->secret_key.size() <= 256);
        CHECK(pg::cancel_request(c->process_id, c->secret_key) == packet);
        return;
    }
    const auto& s = std::get<startup_message>(decoded);
    CHECK(s.major == 3);
    CHECK_FALSE(s.user().empty());
    CHECK(pg::startup(s.parameters, s.major, s.minor) == packet);
}

/// A stream of well-formed messages, sometimes followed by garbage.
byte_buffer random_stream(rng& r)
{
    static constexpr char common[] = {'D', 'T', 'C', 'Z', 'E', 'N', 'S', 'K', 'd', 'Q'};
    byte_buffer stream;
    const std::size_t count = r.below(6);
    for (std::size_t i = 0; i < count; ++i) {
        const char type = r.chance(3) ? static_cast<char>(r.byte()) : common[r.below(sizeof common)];
        const std::size_t len = r.chance(8) ? r.below(3000) : r.below(40);
        byte_buffer body(len);
        for (auto& b : body)
            b = r.byte();
        const byte_buffer msg = pg::message(type, body);
        stream.insert(stream.end(), msg.begin(), msg.end());
    }
    if (r.chance(3))
        for (std::size_t n = r.below(30); n > 0; --n)
            stream.push_back(r.byte());
    return stream;
}

} // namespace

TEST_CASE("fuzz: decode_first_packet never fails badly", "[protocol][fuzz]")
{
    rng r(20240601);
    std::size_t accepted = 0;
    for (int i = 0; i < iterations; ++i) {
        const byte_buffer packet = random_first_packet(r);
        const first_packet_result result = decode_first_packet(packet);
        if (result.error) {
            REQUIRE(&result.error.category() == &protocol_category());
            continue;
        }
        ++accepted;
        INFO("iteration " << i << " size " << packet.size());
        check_decoded(packet, result.packet);
    }
    // The generator must reach the accepting paths, or the checks above test nothing.
    CHECK(accepted > iterations / 20);
}

TEST_CASE("fuzz: message_scanner agrees with a whole-buffer walk under any chunking", "[protocol][fuzz]")
{
    rng r(1337);
    std::size_t errors = 0;
    std::size_t reported = 0;
    for (int i = 0; i < iterations; ++i) {
        const byte_buffer stream = random_stream(r);
        message_type_set types;
        for (std::size_t n = r.below(6); n > 0; --n)
            types.set(r.below(256));
        types.set('Z');
        const std::uint32_t max_length = r.chance(4) ? static_cast<std::uint32_t>(r.below(3000)) : 1u << 20;

        std::vector<std::size_t> cuts;
        for (std::size_t n = r.below(5); n > 0; --n)
            cuts.push_back(r.below(stream.size() + 1));
        std::sort(cuts.begin(), cuts.end());

        message_scanner scanner(types, max_length);
        const scan_run got = scan_chunks(scanner, split_at(stream, cuts));
        const scan_run want = reference_scan(stream, types, max_length);
        INFO("iteration " << i << " size " << stream.size());
        REQUIRE(got.error == want.error);
        REQUIRE(got.consumed == want.consumed);
        REQUIRE(got.messages == want.messages);
        REQUIRE(got.seen == want.seen);
        REQUIRE(got.boundary_at_end == want.boundary_at_end);
        errors += got.error ? 1 : 0;
        reported += got.messages.size();
    }
    CHECK(errors > 100);
    CHECK(reported > 1000);
}
