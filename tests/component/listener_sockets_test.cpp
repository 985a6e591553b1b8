// listener_sockets over loopback with real worker threads: every accepted connection reaches the
// callback the listener's owner gave, with the client's address and a socket that belongs to the
// worker it names; close() stops accepting. proxy/net starts no session itself.
#include "proxy/net/listener.hpp"
#include "proxy/net/worker_pool.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <atomic>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using patroxy::proxy::listener_sockets;
using patroxy::proxy::tcp_socket;
using patroxy::proxy::worker;
using patroxy::proxy::worker_pool;
using tcp = asio::ip::tcp;

namespace {

/// What the callback saw of one connection.
struct accepted {
    tcp::endpoint peer;
    bool on_target_context = false; ///< the socket runs on the context of the worker it came with
    std::error_code write_error;
};

/// Collects the callback's calls from the worker threads.
struct accept_log {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<accepted> seen;
    std::vector<tcp_socket> sockets; ///< kept open until the test ends

    /// Waits (at most 5 s) until `n` connections were accepted; false on timeout.
    bool wait_for(std::size_t n)
    {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 5s, [&] { return seen.size() >= n; });
    }
};

} // namespace

TEST_CASE("listener sockets hand each accepted connection to the owner's callback", "[component][net]")
{
    worker_pool workers(2);
    std::error_code ec;
    auto sockets = listener_sockets::bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), workers, ec);
    REQUIRE(sockets);
    REQUIRE_FALSE(ec);
    const auto address = sockets->local_endpoint();
    REQUIRE(address.port() != 0);

    accept_log log;
    std::atomic<std::uint64_t> accept_pauses{0};
    sockets->start("test", [&log](tcp_socket socket, const tcp::endpoint& peer, worker& target) {
        accepted a;
        a.peer = peer;
        a.on_target_context = &socket.get_executor().context() == &target.context();
        // A greeting through the handed-over socket shows it is connected and usable.
        asio::write(socket, asio::buffer(std::string_view("hi")), a.write_error);
        std::lock_guard lock(log.mutex);
        log.seen.push_back(a);
        log.sockets.push_back(std::move(socket));
        log.changed.notify_all();
    }, accept_pauses);
    workers.start();

    asio::io_context io;
    std::vector<tcp::socket> clients;
    std::set<tcp::endpoint> client_addresses;
    constexpr std::size_t count = 6;
    for (std::size_t i = 0; i < count; ++i) {
        auto& client = clients.emplace_back(io);
        client.connect(address);
        client_addresses.insert(client.local_endpoint());
    }
    REQUIRE(log.wait_for(count));

    {
        std::lock_guard lock(log.mutex);
        CHECK(log.seen.size() == count);
        std::set<tcp::endpoint> peers;
        for (const auto& a : log.seen) {
            peers.insert(a.peer);
            CHECK(a.on_target_context);
            CHECK_FALSE(a.write_error);
        }
        CHECK(peers == client_addresses); // each client once, under its own address
    }
    for (auto& client : clients) {
        std::array<char, 2> greeting{};
        asio::read(client, asio::buffer(greeting)); // written before the callback returned
        CHECK(std::string_view(greeting.data(), greeting.size()) == "hi");
    }

    SECTION("close() stops accepting: the address refuses connections at once")
    {
        sockets->close();
        tcp::socket late(io);
        std::error_code refused;
        late.connect(address, refused);
        CHECK(refused == asio::error::connection_refused);
        std::lock_guard lock(log.mutex);
        CHECK(log.seen.size() == count);
    }
    sockets->close();
    workers.stop_now();
}
