// drained_reads over a loopback connection: a read that emptied the socket makes the next one
// wait for epoll instead of trying recv() at once, and a waiting read holds no buffer. No byte
// may be lost or delayed by either, whenever it arrives: before the next read is started, after,
// or while the reactor is idle.
#include "proxy/net/drained_reads.hpp"
#include "proxy/net/socket_options.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using patroxy::proxy::buffer_pool;
using patroxy::proxy::drained_reads;
using patroxy::proxy::pooled_buffer;
using tcp = asio::ip::tcp;

namespace {

/// A connected pair on loopback: `writer` sends, `reader` is read through drained_reads into
/// buffers of `buffer_size` bytes from `pool`.
struct loopback_pair {
    asio::io_context io{1};
    drained_reads reads{io};
    buffer_pool pool;
    pooled_buffer buffer;
    patroxy::proxy::tcp_socket reader{io};
    tcp::socket writer{io};
    std::optional<std::pair<std::error_code, std::string>> result;

    explicit loopback_pair(std::size_t buffer_size = 32) : pool(buffer_size, 4)
    {
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        writer.connect(acceptor.local_endpoint());
        acceptor.accept(reader);
        // As patroxy's sockets have it: the reads learn from the kernel when the socket is empty.
        REQUIRE_FALSE(patroxy::proxy::set_relay_options(reader.native_handle()));
    }

    void send(const std::string& bytes) { asio::write(writer, asio::buffer(bytes)); }

    /// Starts one read; its outcome lands in `result`.
    void start_read()
    {
        result.reset();
        reads.async_read_pooled(reader, pool, buffer, 0, [this](std::error_code ec, std::size_t n) {
            result.emplace(ec, std::string(n ? reinterpret_cast<const char*>(buffer.get()) : "", n));
        });
    }

    /// Runs what is ready without waiting (a read with nothing to read stays pending).
    void poll()
    {
        io.restart();
        io.poll();
    }

    /// Runs the context until the pending read completes (at most 5 s).
    std::pair<std::error_code, std::string> finish_read()
    {
        io.restart();
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!result && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
        REQUIRE(result.has_value());
        return *result;
    }

    std::pair<std::error_code, std::string> read()
    {
        start_read();
        return finish_read();
    }
};

} // namespace

TEST_CASE("drained reads: bytes that arrive after a short read reach the next read", "[proxy][drained_reads]")
{
    loopback_pair pair;
    pair.send("hello");
    const auto first = pair.read();
    REQUIRE_FALSE(first.first);
    CHECK(first.second == "hello"); // short: the socket is marked empty

    SECTION("sent before the next read starts, the event seen by the reactor first")
    {
        pair.send("world");
        pair.poll(); // the edge arrives while no read is queued
        const auto second = pair.read();
        REQUIRE_FALSE(second.first);
        CHECK(second.second == "world");
    }
    SECTION("sent before the next read starts, the read queued first")
    {
        pair.send("world");
        const auto second = pair.read();
        REQUIRE_FALSE(second.first);
        CHECK(second.second == "world");
    }
    SECTION("sent while the next read waits")
    {
        pair.start_read();
        pair.poll(); // the read is queued and waits
        CHECK_FALSE(pair.result.has_value());
        pair.send("world");
        const auto second = pair.finish_read();
        REQUIRE_FALSE(second.first);
        CHECK(second.second == "world");
    }
    SECTION("the peer closes: the next read sees the end of the stream")
    {
        pair.writer.close();
        CHECK(pair.read().first == asio::error::eof);
    }
}

TEST_CASE("drained reads: bytes and the end of the stream that came together reach two reads",
          "[proxy][drained_reads]")
{
    // A server's last error and its close arrive before the relay reads either (PostgreSQL's
    // FATAL, then exit): one epoll event for both, and the read that takes the bytes leaves the
    // end of the stream for the next read, for which no other event will come.
    loopback_pair pair;
    pair.start_read();
    pair.poll(); // the read waits in the reactor
    pair.send("FATAL");
    pair.writer.close();
    std::this_thread::sleep_for(20ms); // both are in the reader's socket before epoll looks
    const auto first = pair.finish_read();
    REQUIRE_FALSE(first.first);
    CHECK(first.second == "FATAL");
    CHECK(pair.read().first == asio::error::eof);
}

TEST_CASE("drained reads: bytes and a reset that came together reach two reads", "[proxy][drained_reads]")
{
    // As a PostgreSQL ends a TLS session: after a Terminate that came with the client's
    // close_notify it sends its own close_notify and exits with that alert unread, so its close
    // is a reset right behind its last bytes. Both are there before epoll looks: one event
    // (EPOLLIN|EPOLLERR|EPOLLHUP) for both, TCP_INQ reports 0 once the bytes are read (it
    // reports a FIN, not a reset), and no event will come for the reset any more.
    loopback_pair pair;
    asio::write(pair.reader, asio::buffer(std::string("unread"))); // the writer never reads it
    std::this_thread::sleep_for(20ms);

    SECTION("taken by a read that waited in the reactor")
    {
        pair.start_read();
        pair.poll(); // the read waits in the reactor
        pair.send("close_notify");
        pair.writer.close(); // bytes unread: a reset
        std::this_thread::sleep_for(20ms);
        const auto first = pair.finish_read();
        REQUIRE_FALSE(first.first);
        CHECK(first.second == "close_notify");
    }
    SECTION("taken by read_now after the reactor saw the reset")
    {
        pair.reader.non_blocking(true);
        pair.send("startup");
        pair.writer.close();
        std::this_thread::sleep_for(20ms);
        // The reactor reports the socket (here to a wait for an error) while no read is queued.
        std::optional<std::error_code> waited;
        pair.reader.async_wait(patroxy::proxy::tcp_socket::wait_error, [&](std::error_code ec) { waited = ec; });
        pair.io.restart();
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!waited && std::chrono::steady_clock::now() < deadline) pair.io.run_one_for(100ms);
        REQUIRE(waited.has_value());
        std::error_code ec;
        char bytes[32];
        const auto n = pair.reads.read_now(pair.reader, asio::buffer(bytes), ec);
        REQUIRE_FALSE(ec);
        CHECK(std::string(bytes, n) == "startup");
    }
    // The next read ends with the reset instead of waiting for an event that will not come.
    CHECK(pair.read().first == asio::error::connection_reset);
}

TEST_CASE("drained reads: full reads keep reading until the socket is empty", "[proxy][drained_reads]")
{
    loopback_pair pair(8);
    const std::string sent = "0123456789abcdefghijklmnopqrstuvwxyz";
    pair.send(sent);
    std::string received;
    while (received.size() < sent.size()) {
        const auto got = pair.read();
        REQUIRE_FALSE(got.first);
        REQUIRE_FALSE(got.second.empty());
        received += got.second;
    }
    CHECK(received == sent);
}

TEST_CASE("drained reads: a waiting read is cancelled like any Asio read", "[proxy][drained_reads]")
{
    loopback_pair pair;
    pair.start_read();
    pair.poll();
    REQUIRE_FALSE(pair.result.has_value());
    pair.reader.cancel();
    CHECK(pair.finish_read().first == asio::error::operation_aborted);
}

TEST_CASE("drained reads: a read holds a buffer only once bytes are there", "[proxy][drained_reads]")
{
    loopback_pair pair;
    pair.start_read();
    pair.poll(); // tried at once: nothing there, so it waits without a buffer
    CHECK_FALSE(pair.result.has_value());
    CHECK(pair.pool.in_use() == 0);

    pair.send("select");
    CHECK(pair.finish_read().second == "select");
    REQUIRE(pair.buffer);
    CHECK(pair.pool.in_use() == 1);

    // Given back by its owner after use; the next read, after a drained one, waits for the edge.
    pair.buffer.reset();
    CHECK(pair.pool.in_use() == 0);
    pair.start_read();
    pair.poll();
    CHECK_FALSE(pair.result.has_value());
    CHECK(pair.pool.in_use() == 0);
    pair.send("more");
    CHECK(pair.finish_read().second == "more");

    // A buffer the owner kept (after a full read) is read into as it is.
    const std::byte* kept = pair.buffer.get();
    pair.send("again");
    CHECK(pair.read().second == "again");
    CHECK(pair.buffer.get() == kept);
    CHECK(pair.pool.in_use() == 1);
}

TEST_CASE("drained reads: read_now takes what is there, and the next read still gets bytes that come later")
{
    loopback_pair pair;
    pair.reader.non_blocking(true); // as patroxy's sockets are from their accept
    std::error_code ec;
    char bytes[32];
    CHECK(pair.reads.read_now(pair.reader, asio::buffer(bytes), ec) == 0);
    CHECK(ec == asio::error::would_block);

    pair.send("startup");
    // Loopback delivers within the write; read_now empties the socket and tells the reactor so.
    const auto n = pair.reads.read_now(pair.reader, asio::buffer(bytes), ec);
    CHECK_FALSE(ec);
    CHECK(std::string(bytes, n) == "startup");

    // Bytes after the drained read_now, before the next read starts: read, not waited on.
    pair.send("query");
    CHECK(pair.read() == std::pair{std::error_code{}, std::string("query")});

    // And bytes that come while that next read waits.
    (void)pair.reads.read_now(pair.reader, asio::buffer(bytes), ec);
    CHECK(ec == asio::error::would_block);
    pair.start_read();
    pair.poll();
    CHECK_FALSE(pair.result);
    pair.send("later");
    CHECK(pair.finish_read() == std::pair{std::error_code{}, std::string("later")});

    // The end of the stream after a drained read_now ends the next read.
    pair.send("last");
    CHECK(std::string(bytes, pair.reads.read_now(pair.reader, asio::buffer(bytes), ec)) == "last");
    pair.writer.close();
    CHECK(pair.read().first == asio::error::eof);
}
