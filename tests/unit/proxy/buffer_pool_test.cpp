// buffer_pool: loans come back on drop, the pool keeps at most max_free buffers, the counts the
// stats page shows follow every loan, and a buffer is usable over its whole size.
#include <catch2/catch.hpp>

#include "proxy/net/buffer_pool.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

using patroxy::proxy::buffer_pool;
using patroxy::proxy::pooled_buffer;

TEST_CASE("buffer_pool: a dropped loan goes back to the pool and is lent again", "[proxy][buffers]")
{
    buffer_pool pool(32 * 1024, 4);
    std::byte* first = nullptr;
    {
        pooled_buffer b = pool.acquire();
        REQUIRE(b);
        first = b.get();
        std::memset(b.get(), 0xab, pool.buffer_size()); // every byte is writable
        CHECK(pool.in_use() == 1);
        CHECK(pool.free_count() == 0);
    }
    CHECK(pool.in_use() == 0);
    CHECK(pool.free_count() == 1);
    pooled_buffer again = pool.acquire();
    CHECK(again.get() == first);
    CHECK(pool.free_count() == 0);
    again.reset();
    CHECK_FALSE(again);
    CHECK(pool.in_use() == 0);
}

TEST_CASE("buffer_pool: a burst beyond max_free is released, not kept", "[proxy][buffers]")
{
    buffer_pool pool(8 * 1024, 3);
    std::vector<pooled_buffer> burst;
    for (int i = 0; i < 10; ++i) burst.push_back(pool.acquire());
    CHECK(pool.in_use() == 10);
    std::vector<std::byte*> distinct;
    for (const auto& b : burst) distinct.push_back(b.get());
    std::sort(distinct.begin(), distinct.end());
    CHECK(std::adjacent_find(distinct.begin(), distinct.end()) == distinct.end());
    burst.clear();
    CHECK(pool.in_use() == 0);
    CHECK(pool.free_count() == 3);
}

TEST_CASE("pooled_buffer: moving a loan keeps one owner and returns it once", "[proxy][buffers]")
{
    buffer_pool pool(4096, 8);
    pooled_buffer a = pool.acquire();
    pooled_buffer b = std::move(a);
    CHECK_FALSE(a); // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    CHECK(b);
    pooled_buffer c = pool.acquire();
    c = std::move(b); // c's own buffer goes back first
    CHECK(pool.in_use() == 1);
    CHECK(pool.free_count() == 1);
    c.reset();
    CHECK(pool.in_use() == 0);
    CHECK(pool.free_count() == 2);
}
