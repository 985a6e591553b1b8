// Listening: a socket per worker in one SO_REUSEPORT group, and each worker's accept loop, which
// hands every accepted connection to its owner's callback.
#include "proxy/net/listener.hpp"

#include "proxy/net/accept_backoff.hpp"
#include "proxy/net/nonblocking_sockets.hpp"
#include "proxy/net/socket_options.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/support/log.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <sys/socket.h>

namespace patroxy::proxy {
namespace {

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

/// What a listener's accept loops hand connections to. Shared with the hand-offs to other
/// workers, which can still be queued there when the loop has ended.
struct accept_target {
    std::string name;
    accept_handler on_accept;
};

/// Registers `connection` with the reactor of `owner`, whose thread this runs on, and hands it
/// to the listener's handler there.
void serve(accepted_descriptor connection, const accept_target& to, worker& owner)
{
    tcp_socket socket(owner.context().get_executor());
    if (auto failed = connection.adopt(socket)) {
        log_line(log_level::error) << "listener=" << to.name << " worker=" << owner.id()
                                   << " an accepted connection could not be registered: " << failed.message();
        return;
    }
    // The peer's address comes with the accept: no getpeername() per connection.
    to.on_accept(std::move(socket), connection.peer(), owner);
}

/// Accepts on `acceptor` until it is closed, handing each connection to `on_accept` on the least
/// loaded worker: `owner` itself unless another worker has fewer sessions, which then gets the
/// connection handed over: the descriptor travels, and that worker registers it with its own
/// reactor on its own thread. Registered from here, the other worker's epoll_wait() could
/// report the socket while this thread still set up the reactor's state of it (a data race
/// TSan found, tests/integration/threads_test.cpp). Runs on `owner`'s thread and holds the
/// acceptor and the handler, which outlive the listener_sockets.
task<void> accept_loop(std::shared_ptr<listening_socket> acceptor, std::shared_ptr<const accept_target> to,
                       std::atomic<std::uint64_t>& accept_pauses, worker& owner, worker_pool& workers)
{
    const auto nothrow = asio::experimental::as_tuple(asio::use_awaitable_t<io_executor>{});
    accept_backoff backoff("listener=" + to->name + " worker=" + std::to_string(owner.id()), accept_pauses);
    for (;;) {
        auto [ec, batch] = co_await async_accept_batch(*acceptor, nothrow);
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            worker& target = workers.least_loaded(owner);
            if (&target == &owner) {
                serve(batch.release(i), *to, owner);
                continue;
            }
            target.arriving.fetch_add(1, std::memory_order_relaxed);
            asio::post(target.context(), [connection = batch.release(i), to, &target]() mutable {
                serve(std::move(connection), *to, target);
                target.arriving.fetch_sub(1, std::memory_order_relaxed); // counted in sessions by now
            });
        }
        // Out of descriptors or similar: pause and back off instead of spinning (accept_backoff.hpp).
        if (ec)
            co_await backoff.wait(ec);
        else
            backoff.succeeded();
    }
}

/// Opens `acceptor` and binds it to `endpoint`; `in_group` joins the SO_REUSEPORT group.
std::error_code open_and_bind(listening_socket& acceptor, const asio::ip::tcp::endpoint& endpoint, bool in_group)
{
    std::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && in_group) acceptor.set_option(reuse_port(true), ec);
    // Set once here, every accepted connection has them (socket_options.hpp).
    if (!ec) ec = set_relay_options(acceptor.native_handle());
    if (!ec) acceptor.bind(endpoint, ec);
    return ec;
}

} // namespace

std::unique_ptr<listener_sockets> listener_sockets::bind(const asio::ip::tcp::endpoint& endpoint, worker_pool& workers,
                                                         std::error_code& ec)
{
    // First a plain bind, without SO_REUSEPORT: it fails where anything holds the address, as a
    // single listening socket's bind would.
    {
        listening_socket probe(workers.at(0).context().get_executor());
        if ((ec = open_and_bind(probe, endpoint, false))) return nullptr;
    }
    std::vector<std::shared_ptr<listening_socket>> acceptors;
    auto bound = endpoint;
    for (std::size_t i = 0; i < workers.size(); ++i) {
        auto acceptor = std::make_shared<listening_socket>(workers.at(i).context().get_executor());
        if ((ec = open_and_bind(*acceptor, bound, true))) return nullptr;
        if ((ec = listen_nonblocking(*acceptor))) return nullptr;
        bound = acceptor->local_endpoint(ec); // port 0 binds one port for the whole group
        if (ec) return nullptr;
        acceptors.push_back(std::move(acceptor));
    }
    return std::make_unique<listener_sockets>(workers, std::move(acceptors));
}

void listener_sockets::start(std::string name, accept_handler on_accept, std::atomic<std::uint64_t>& accept_pauses)
{
    const auto to = std::make_shared<const accept_target>(accept_target{std::move(name), std::move(on_accept)});
    for (std::size_t i = 0; i < acceptors_.size(); ++i) {
        auto& owner = workers_.at(i);
        asio::co_spawn(owner.context(), accept_loop(acceptors_[i], to, accept_pauses, owner, workers_), asio::detached);
    }
}

void listener_sockets::close()
{
    workers_.run_on_each_and_wait([this](worker& w) {
        std::error_code ignored;
        acceptors_[w.id()]->close(ignored);
    });
}

asio::ip::tcp::endpoint listener_sockets::local_endpoint() const
{
    std::error_code ignored;
    return acceptors_.front()->local_endpoint(ignored);
}

} // namespace patroxy::proxy
