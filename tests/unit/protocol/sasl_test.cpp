// AuthenticationSASL rewriting (SCRAM-SHA-256-PLUS taken out of the server's list) and the
// GS2 channel-binding flag of a client's SASLInitialResponse.
#include "protocol/sasl.hpp"
#include "tests/support/pg_bytes.hpp"

#include <catch2/catch.hpp>

namespace pg = patroxy::test::pg_bytes;
using namespace patroxy::protocol;

namespace {

/// AuthenticationSASL with `mechanisms`, as PostgreSQL sends it.
byte_buffer auth_sasl(std::initializer_list<std::string_view> mechanisms)
{
    byte_buffer body;
    append_u32(body, auth_sasl_code);
    for (const auto m : mechanisms) {
        const auto b = pg::bytes(m);
        body.insert(body.end(), b.begin(), b.end());
        body.push_back(std::byte{0});
    }
    body.push_back(std::byte{0});
    return pg::message('R', body);
}

/// SASLInitialResponse for `mechanism` with the client-first-message `first`.
byte_buffer sasl_initial_response(std::string_view mechanism, std::string_view first)
{
    byte_buffer body = pg::bytes(mechanism);
    body.push_back(std::byte{0});
    append_u32(body, static_cast<std::uint32_t>(first.size()));
    const auto b = pg::bytes(first);
    body.insert(body.end(), b.begin(), b.end());
    return pg::message('p', body);
}

} // namespace

TEST_CASE("drop_channel_binding takes SCRAM-SHA-256-PLUS out of AuthenticationSASL", "[protocol][sasl]")
{
    const auto rest = pg::query("SELECT 1"); // whatever followed in the same chunk moves up
    SECTION("PLUS listed first, as PostgreSQL does over TLS")
    {
        auto chunk = pg::concat({auth_sasl({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}), rest});
        const auto n = drop_channel_binding(chunk);
        chunk.resize(n);
        CHECK(chunk == pg::concat({auth_sasl({"SCRAM-SHA-256"}), rest}));
    }
    SECTION("PLUS listed last")
    {
        auto chunk = auth_sasl({"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"});
        chunk.resize(drop_channel_binding(chunk));
        CHECK(chunk == auth_sasl({"SCRAM-SHA-256"}));
    }
    SECTION("nothing to drop, or not AuthenticationSASL, or not whole: untouched")
    {
        const auto plus = auth_sasl({"SCRAM-SHA-256-PLUS"});
        for (auto chunk : {auth_sasl({"SCRAM-SHA-256"}), pg::authentication_ok(), pg::query("x"),
                           byte_buffer(plus.begin(), plus.end() - 3)}) {
            const auto before = chunk;
            CHECK(drop_channel_binding(chunk) == chunk.size());
            CHECK(chunk == before);
        }
    }
    SECTION("a mechanism list without its terminator is left alone")
    {
        auto chunk = pg::message('R', pg::concat({pg::bytes(std::string("\0\0\0\x0a", 4)), pg::bytes("SCRAM-SHA-256-PLUS")}));
        const auto before = chunk;
        CHECK(drop_channel_binding(chunk) == chunk.size());
        CHECK(chunk == before);
    }
}

TEST_CASE("starts_with_auth_sasl and starts_incomplete_auth_sasl", "[protocol][sasl]")
{
    const auto whole = auth_sasl({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
    CHECK(starts_with_auth_sasl(whole));
    CHECK_FALSE(starts_incomplete_auth_sasl(whole));
    for (std::size_t cut = 1; cut < whole.size(); ++cut) {
        INFO("cut at " << cut);
        const bytes_view part(whole.data(), cut);
        CHECK_FALSE(starts_with_auth_sasl(part));
        CHECK(starts_incomplete_auth_sasl(part));
    }
    CHECK_FALSE(starts_with_auth_sasl(pg::authentication_ok()));
    CHECK_FALSE(starts_incomplete_auth_sasl(pg::authentication_ok()));
    CHECK_FALSE(starts_incomplete_auth_sasl(pg::query("x")));
}

TEST_CASE("scram_binding_flag reads the GS2 header of SASLInitialResponse", "[protocol][sasl]")
{
    CHECK(scram_binding_flag(sasl_initial_response("SCRAM-SHA-256", "n,,n=,r=abc")) == 'n');
    CHECK(scram_binding_flag(sasl_initial_response("SCRAM-SHA-256", "y,,n=,r=abc")) == 'y');
    CHECK(scram_binding_flag(sasl_initial_response("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc")) == 'p');
    CHECK(scram_binding_flag(sasl_initial_response("OTHER", "y,,")) == 0);
    CHECK(scram_binding_flag(sasl_initial_response("SCRAM-SHA-256", "x,,")) == 0);
    CHECK(scram_binding_flag(pg::query("y,,")) == 0);
    const auto whole = sasl_initial_response("SCRAM-SHA-256", "y,,n=,r=abc");
    CHECK(scram_binding_flag(bytes_view(whole.data(), whole.size() - 1)) == 0);
}
