// Sockets that are non-blocking from birth: accepted with accept4(SOCK_NONBLOCK) and opened with
// socket(SOCK_NONBLOCK). Asio accepts and opens without that flag and sets O_NONBLOCK later with
// an ioctl(FIONBIO) per socket, and it closes an accepted socket with an EPOLL_CTL_DEL first
// (it cannot know the descriptor is not shared). For a connection per transaction those were
// three of about thirty syscalls; here they are none.
//
// Accepts come in batches, from a reactor operation of our own: it takes what the backlog holds
// (up to a batch) and, when the backlog ran dry, tells the reactor so, as drained_reads.hpp does
// for reads. The next accept then waits for epoll's edge without trying accept4() first, so a
// batch costs one EAGAIN accept4(), as HAProxy's accept loop does. Asio's own accept takes one
// connection per operation and completes each through the scheduler's queue (a zero-timeout
// epoll_wait per connection in a burst), and an async_wait on the listener would cost an
// EPOLL_CTL_MOD per wait (Asio re-arms a descriptor for each wait it does not try at once).
// Without the Asio internals (asio_internals.hpp) it is that async_wait, then accept4().
#pragma once

#include "proxy/net/asio_internals.hpp"
#include "proxy/net/io_types.hpp"

#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

#if PATROXY_ASIO_INTERNALS
#include <asio/detail/bind_handler.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#endif

namespace patroxy::proxy {

/// Opens `socket` (closed) for `protocol`, non-blocking from the start. Nothing can be read from
/// it before it connects, so its first read waits for epoll instead of trying a recv() first.
std::error_code open_nonblocking(tcp_socket& socket, const asio::ip::tcp& protocol);

/// Listens on `socket`, bound already; accept with async_accept_batch().
std::error_code listen_nonblocking(listening_socket& socket);

/// One accepted connection's descriptor, not yet handed to a socket object; closed if it is
/// dropped so. Movable, so it can travel to the worker that will serve it.
class accepted_descriptor {
public:
    accepted_descriptor(int fd, const asio::ip::tcp::endpoint& peer) noexcept : fd_(fd), peer_(peer) {}
    accepted_descriptor(accepted_descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)), peer_(other.peer_) {}
    accepted_descriptor& operator=(accepted_descriptor&&) = delete;
    ~accepted_descriptor();

    [[nodiscard]] const asio::ip::tcp::endpoint& peer() const noexcept { return peer_; }
    /// Hands the connection to `socket` (closed) as a non-blocking socket Asio knows to be so;
    /// the descriptor is closed if that fails. On the thread that runs `socket`'s context only:
    /// registering registers with that context's reactor, whose state of the socket is then set
    /// up here, which must not race with its epoll_wait() reporting the socket.
    std::error_code adopt(tcp_socket& socket);

private:
    int fd_;
    asio::ip::tcp::endpoint peer_;
};

/// Connections accepted in one go: descriptors not yet handed to a socket object, which the
/// batch closes if it is dropped with them.
class accepted_batch {
public:
    /// As many as HAProxy's tune.maxaccept: a burst of connects cannot keep a worker from its
    /// sessions for long.
    static constexpr std::size_t capacity = 64;

    accepted_batch() = default;
    accepted_batch(accepted_batch&& other) noexcept;
    accepted_batch& operator=(accepted_batch&&) = delete;
    ~accepted_batch();

    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] const asio::ip::tcp::endpoint& peer(std::size_t i) const noexcept { return peers_[i]; }
    /// Hands connection `i` to `socket` (closed, of the context that runs on this thread) as a
    /// non-blocking socket Asio knows to be so; the descriptor is closed if that fails.
    std::error_code take(std::size_t i, tcp_socket& socket) { return release(i).adopt(socket); }
    /// Connection `i`, for another thread to adopt (accepted_descriptor::adopt()).
    [[nodiscard]] accepted_descriptor release(std::size_t i) noexcept
    {
        return {std::exchange(fds_[i], -1), peers_[i]};
    }

    /// Accepts from `listener` until its backlog is empty (true) or the batch is full (false).
    /// `ec` is set on a failure other than an empty backlog; what was accepted before it stays.
    bool fill(int listener, std::error_code& ec) noexcept;

private:
    std::size_t count_ = 0;
    std::array<int, capacity> fds_{};
    std::array<asio::ip::tcp::endpoint, capacity> peers_{};
};

namespace nonblocking_detail {

#if PATROXY_ASIO_INTERNALS
template <typename Handler>
class accept_op : public asio::detail::reactor_op {
public:
    ASIO_DEFINE_HANDLER_PTR(accept_op);

    accept_op(int listener, Handler& handler, const io_executor& io_ex)
        : reactor_op(asio::error_code(), &accept_op::do_perform, &accept_op::do_complete),
          listener_(listener),
          handler_(std::move(handler)),
          work_(handler_, io_ex)
    {
    }

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<accept_op*>(base);
        std::error_code ec;
        const bool drained = o->batch_.fill(o->listener_, ec);
        if (o->batch_.size() == 0 && !ec) return not_done; // the reactor waits for the next event
        if (o->batch_.size() == 0) o->ec_ = ec; // else the error comes back on the next try
        return drained && !ec ? done_and_exhausted : done;
    }

    static void do_complete(void* owner, asio::detail::operation* base, const asio::error_code&, std::size_t)
    {
        auto* o = static_cast<accept_op*>(base);
        ptr p = {std::addressof(o->handler_), o, o};
        asio::detail::handler_work<Handler, io_executor> w(std::move(o->work_));
        asio::detail::move_binder2<Handler, asio::error_code, accepted_batch> handler(0, std::move(o->handler_), o->ec_,
                                                                                     std::move(o->batch_));
        asio_internals::free_and_invoke(owner, p, w, handler);
    }

private:
    int listener_;
    accepted_batch batch_;
    Handler handler_;
    asio::detail::handler_work<Handler, io_executor> work_;
};

/// Starts `handler`'s accept on `listener`.
template <typename Handler>
void start_accept(listening_socket& listener, Handler&& handler)
{
    auto& reactor = asio::use_service<asio::detail::reactor>(listener.get_executor().context());
    asio_internals::start_read_op<accept_op>(reactor, listener, std::forward<Handler>(handler));
}
#else
/// Without the internals: wait for the listener to be readable, then accept. Asio re-arms the
/// descriptor for each wait (EPOLL_CTL_MOD), so no connection queued before it is missed.
struct wait_then_accept {
    listening_socket& listener;

    template <typename Self>
    void operator()(Self& self, std::error_code ec = {}, bool waited = false)
    {
        if (!ec && waited) {
            accepted_batch batch;
            batch.fill(listener.native_handle(), ec);
            if (batch.size() > 0) {
                self.complete(std::error_code{}, std::move(batch));
                return;
            }
        }
        if (!ec) {
            listener.async_wait(listening_socket::wait_read,
                                [s = std::move(self)](std::error_code e) mutable { s(e, true); });
            return;
        }
        self.complete(ec, accepted_batch{});
    }
};
#endif

} // namespace nonblocking_detail

/// Accepts the connections waiting on `listener`, at least one, at most a batch. Completion:
/// `void(std::error_code, accepted_batch)`. Cancelled by closing the listener.
template <typename CompletionToken>
auto async_accept_batch(listening_socket& listener, CompletionToken&& token)
{
#if PATROXY_ASIO_INTERNALS
    return asio::async_initiate<CompletionToken, void(std::error_code, accepted_batch)>(
        [&listener](auto handler) { nonblocking_detail::start_accept(listener, std::move(handler)); }, token);
#else
    return asio::async_compose<CompletionToken, void(std::error_code, accepted_batch)>(
        nonblocking_detail::wait_then_accept{listener}, token, listener);
#endif
}

} // namespace patroxy::proxy
