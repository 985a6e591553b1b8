// A listener's listening sockets, one per worker, each accepting the clients its worker serves
// and handing each to a callback: proxy/net moves sockets and knows nothing of sessions.
#pragma once

#include "proxy/net/io_types.hpp"

#include <asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace patroxy::proxy {

class worker;
class worker_pool;

/// What a listener does with each accepted connection: `socket` is registered with `target`'s
/// context (the least loaded worker at that moment), `peer` is the client's address. Called on
/// the accepting worker's thread; it must hand the socket on without blocking.
using accept_handler = std::function<void(tcp_socket socket, const asio::ip::tcp::endpoint& peer, worker& target)>;

/// A listener's listening sockets: one per worker, bound to the same address with SO_REUSEPORT.
/// The kernel hands each new connection to one worker's socket, so a client is accepted on the
/// thread that will serve it: no wakeup of the control thread and no hand-off per connection
/// (they were a third of the context switches of a connect-per-transaction load). The kernel
/// spreads connections over the workers by a hash of their addresses, as nginx's `reuseport`
/// and Envoy's listeners do.
class listener_sockets {
public:
    /// Binds and listens on `endpoint` for every worker of `workers`; nullptr with `ec` set when
    /// it cannot. An address something already holds is refused, another patroxy's included:
    /// SO_REUSEPORT alone would let a second process of the same user share the port silently.
    static std::unique_ptr<listener_sockets> bind(const asio::ip::tcp::endpoint& endpoint, worker_pool& workers,
                                                  std::error_code& ec);

    /// From now on each worker accepts on its socket and calls `on_accept` per client; `name`
    /// names the listener in the log lines about failed accepts, and `accept_pauses` (which must
    /// outlive the accept loops) counts the pauses while accepts fail (accept_backoff.hpp).
    void start(std::string name, accept_handler on_accept, std::atomic<std::uint64_t>& accept_pauses);

    /// Stops accepting: each worker closes its socket on its own thread. Returns once they all
    /// have, so the address can be bound again at once (a reload that changes a listener).
    /// Control thread.
    void close();

    [[nodiscard]] asio::ip::tcp::endpoint local_endpoint() const;

    listener_sockets(worker_pool& workers, std::vector<std::shared_ptr<listening_socket>> acceptors)
        : workers_(workers), acceptors_(std::move(acceptors))
    {
    }

private:
    worker_pool& workers_;
    /// By worker id. Shared with each worker's accept loop, which may outlive this object.
    std::vector<std::shared_ptr<listening_socket>> acceptors_;
};

} // namespace patroxy::proxy
