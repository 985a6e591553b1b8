// The pause of an accept loop that fails (out of descriptors): how long it waits before each try.
#include <catch2/catch.hpp>

#include "proxy/net/accept_backoff.hpp"

using patroxy::proxy::accept_backoff;
using patroxy::proxy::accept_backoff_wait;
using std::chrono::milliseconds;

TEST_CASE("accept backoff: 10 ms after the first failure, doubling, never over 500 ms", "[proxy][accept]")
{
    CHECK(accept_backoff_wait(1) == milliseconds(10));
    CHECK(accept_backoff_wait(2) == milliseconds(20));
    CHECK(accept_backoff_wait(3) == milliseconds(40));
    CHECK(accept_backoff_wait(6) == milliseconds(320));
    CHECK(accept_backoff_wait(7) == accept_backoff::longest_wait);
    CHECK(accept_backoff_wait(1000) == accept_backoff::longest_wait);
    // However long the pause, a try comes at least twice a second: accepts resume within 500 ms
    // of descriptors being free, and a paused listener wakes no more than that.
    for (unsigned failures = 1; failures < 100; ++failures) {
        CHECK(accept_backoff_wait(failures) >= accept_backoff::first_wait);
        CHECK(accept_backoff_wait(failures) <= milliseconds(500));
    }
}
