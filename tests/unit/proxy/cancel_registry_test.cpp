// The cancel-key table: a key leads to the server that issued it, and only that session's
// close forgets it.
#include "proxy/routing/cancel_registry.hpp"

#include <catch2/catch.hpp>

using patroxy::proxy::cancel_registry;
using patroxy::proxy::cancel_target;

namespace {
cancel_target target(const char* member, unsigned short port, std::uint64_t session)
{
    return {asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), member, session};
}
} // namespace

TEST_CASE("a registered key finds its server, unknown keys find nothing", "[proxy][cancel]")
{
    cancel_registry r;
    r.add(4242, "abcd", target("pg1", 5433, 1));
    r.add(4242, "wxyz", target("pg2", 5434, 2)); // same pid on another server, other secret

    const auto a = r.find(4242, "abcd");
    REQUIRE(a);
    CHECK(a->member == "pg1");
    CHECK(a->endpoint.port() == 5433);
    CHECK(r.find(4242, "wxyz")->member == "pg2");
    CHECK_FALSE(r.find(4242, "abce"));
    CHECK_FALSE(r.find(4243, "abcd"));
    CHECK(r.size() == 2);
}

TEST_CASE("protocol 3.2 keys of up to 256 bytes are distinct by every byte", "[proxy][cancel]")
{
    cancel_registry r;
    std::string long_key(256, 'k');
    r.add(7, long_key, target("pg1", 5433, 1));
    std::string other = long_key;
    other.back() = 'j';
    CHECK(r.find(7, long_key));
    CHECK_FALSE(r.find(7, other));
}

TEST_CASE("only the owning session's close removes a key", "[proxy][cancel]")
{
    cancel_registry r;
    r.add(1, "key1", target("pg1", 5433, 10));
    r.remove(1, "key1", 11); // another session: must not remove
    CHECK(r.find(1, "key1"));
    r.remove(1, "key1", 10);
    CHECK_FALSE(r.find(1, "key1"));
    CHECK(r.size() == 0);
}
