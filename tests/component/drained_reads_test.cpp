// drained_reads over a loopback connection: a read that emptied the socket makes the next one
// wait for epoll instead of trying recv() at once, and no byte may be lost or delayed by that,
// whenever it arrives: before the next read is started, after, or while the reactor is idle.
#include "proxy/net/drained_reads.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <optional>
#include <string>

using namespace std::chrono_literals;
using patroxy::proxy::drained_reads;
using tcp = asio::ip::tcp;

namespace {

/// A connected pair on loopback: `writer` sends, `reader` is read through drained_reads.
struct loopback_pair {
    asio::io_context io{1};
    drained_reads reads{io};
    tcp::socket reader{io};
    tcp::socket writer{io};

    loopback_pair()
    {
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        writer.connect(acceptor.local_endpoint());
        acceptor.accept(reader);
    }

    void send(const std::string& bytes) { asio::write(writer, asio::buffer(bytes)); }

    struct outcome {
        std::error_code ec;
        std::string bytes;
    };

    /// Starts one drained read of up to `size` bytes and runs the context until it completes.
    outcome read(std::size_t size)
    {
        std::array<char, 64> buffer{};
        REQUIRE(size <= buffer.size());
        std::optional<outcome> got;
        reads.async_read_some(reader, asio::buffer(buffer.data(), size), [&](std::error_code ec, std::size_t n) {
            got = outcome{ec, std::string(buffer.data(), n)};
        });
        io.restart();
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!got && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
        REQUIRE(got.has_value());
        return *got;
    }
};

} // namespace

TEST_CASE("drained reads: bytes that arrive after a short read reach the next read", "[proxy][drained_reads]")
{
    loopback_pair pair;
    pair.send("hello");
    auto first = pair.read(32);
    REQUIRE_FALSE(first.ec);
    CHECK(first.bytes == "hello"); // short: the socket is marked empty

    SECTION("sent before the next read starts, the event seen by the reactor first")
    {
        pair.send("world");
        pair.io.restart();
        pair.io.poll(); // the edge arrives while no read is queued
        const auto second = pair.read(32);
        REQUIRE_FALSE(second.ec);
        CHECK(second.bytes == "world");
    }
    SECTION("sent before the next read starts, the read queued first")
    {
        pair.send("world");
        const auto second = pair.read(32);
        REQUIRE_FALSE(second.ec);
        CHECK(second.bytes == "world");
    }
    SECTION("sent while the next read waits")
    {
        std::array<char, 32> buffer{};
        std::optional<std::string> got;
        pair.reads.async_read_some(pair.reader, asio::buffer(buffer), [&](std::error_code ec, std::size_t n) {
            REQUIRE_FALSE(ec);
            got = std::string(buffer.data(), n);
        });
        pair.io.restart();
        pair.io.poll(); // the read is queued and waits
        CHECK_FALSE(got.has_value());
        pair.send("world");
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!got && std::chrono::steady_clock::now() < deadline) pair.io.run_one_for(100ms);
        CHECK(got == std::string("world"));
    }
    SECTION("the peer closes: the next read sees the end of the stream")
    {
        pair.writer.close();
        const auto second = pair.read(32);
        CHECK(second.ec == asio::error::eof);
    }
}

TEST_CASE("drained reads: full reads keep reading until the socket is empty", "[proxy][drained_reads]")
{
    loopback_pair pair;
    const std::string sent = "0123456789abcdefghijklmnopqrstuvwxyz";
    pair.send(sent);
    std::string received;
    while (received.size() < sent.size()) {
        const auto got = pair.read(8);
        REQUIRE_FALSE(got.ec);
        REQUIRE_FALSE(got.bytes.empty());
        received += got.bytes;
    }
    CHECK(received == sent);
}

TEST_CASE("drained reads: a waiting read is cancelled like any Asio read", "[proxy][drained_reads]")
{
    loopback_pair pair;
    std::array<char, 16> buffer{};
    std::optional<std::error_code> result;
    pair.reads.async_read_some(pair.reader, asio::buffer(buffer),
                               [&](std::error_code ec, std::size_t) { result = ec; });
    pair.io.restart();
    pair.io.poll();
    REQUIRE_FALSE(result.has_value());
    pair.reader.cancel();
    pair.io.restart();
    pair.io.run_for(1s);
    REQUIRE(result.has_value());
    CHECK(*result == asio::error::operation_aborted);
}
