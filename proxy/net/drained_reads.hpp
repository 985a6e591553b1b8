// Socket reads that tell Asio's reactor when they have emptied the socket, as HAProxy does with
// fd_cant_recv(): after such a read, the next read is not tried at once (a recv() that could
// only answer EAGAIN) but waits for epoll's next edge, which the kernel raises for any byte that
// arrives after the read. Asio 1.22 draws that conclusion only from a read of 0 bytes, so a
// relay that reads, forwards and reads again pays one EAGAIN recv() per message and direction:
// two of the six and a half syscalls of a relayed round trip.
//
// Whether a read emptied the socket is the kernel's to say, not a guess from a short read: the
// socket's TCP_INQ option (set_relay_options(), socket_options.hpp) makes each recvmsg() report
// the bytes still queued, and 1 when only the peer's FIN is left. That last case is why a short
// read is not enough: a server's final FATAL and its close arrive together, one epoll event for
// both; the read that takes the message leaves the end of the stream for a next read that no
// further event would ever wake. A socket without TCP_INQ is never reported empty, and pays the
// EAGAIN recv() instead.
//
// Nothing is lost by it: the reactor clears the flag on every readiness event of the socket,
// and every byte that arrives after a read raises one (edge-triggered epoll, which Asio uses).
// A reset is the exception: TCP_INQ reports 0, not 1, when the peer's RST is all that is left
// (a PostgreSQL that exits with bytes unread, after a Terminate that came with a TLS close_notify,
// sends its last bytes and then a reset), and when both came before epoll looked, their one
// event (EPOLLIN|EPOLLERR|EPOLLHUP) has woken the read that took the bytes. So a socket epoll has
// reported hung up or failed is never reported empty (asio_internals::reported_hangup()).
//
// async_read_pooled() goes one step further, as HAProxy does with its buffers: the read takes
// its buffer from the worker's pool only when it is performed, and gives it back if the socket
// had nothing, so a read waiting for bytes holds no memory.
//
// The read is assembled from Asio's reactor parts (asio_internals.hpp), so it is compiled only
// for the Asio they were checked against; any other build gets Asio's own async_read_some into
// a buffer taken up front: the same bytes, plus the EAGAIN recv() and a buffer held while the
// read waits.
#pragma once

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/net/buffer_pool.hpp"
#include "proxy/net/io_types.hpp"

#include <memory>
#include <type_traits>
#include <utility>

#include "proxy/net/asio_internals.hpp"

#if PATROXY_ASIO_INTERNALS
#define PATROXY_DRAINED_READS 1
#include <asio/detail/bind_handler.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/detail/socket_ops.hpp>

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#else
#define PATROXY_DRAINED_READS 0
#endif

namespace patroxy::proxy {

#if PATROXY_DRAINED_READS
namespace drained_reads_detail {

/// What one non-blocking recvmsg() into a buffer came to: `n` bytes, or the error (eof when the
/// peer closed and the buffer had room), or nothing there yet (`would_block`); and whether the
/// socket is now known to be empty (`exhausted`: the kernel said nothing is queued (TCP_INQ), or
/// the read failed or hit the end), so the next read should wait for epoll.
struct receive_outcome {
    std::size_t n = 0;
    std::error_code ec;
    bool would_block = false;
    bool exhausted = false;
};

inline receive_outcome receive_reporting_queue(asio::detail::socket_type socket, asio::mutable_buffer buffer)
{
    iovec part{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n = 0;
    do
        n = ::recvmsg(socket, &message, 0);
    while (n < 0 && errno == EINTR);
    receive_outcome r;
    if (n < 0) {
        r.would_block = errno == EAGAIN || errno == EWOULDBLOCK;
        if (!r.would_block) r.ec = std::error_code(errno, asio::error::get_system_category());
        r.exhausted = !r.would_block;
        return r;
    }
    if (n == 0) {
        if (buffer.size() == 0) return r;
        r.ec = asio::error::eof;
        r.exhausted = true;
        return r;
    }
    r.n = static_cast<std::size_t>(n);
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != IPPROTO_TCP || c->cmsg_type != TCP_CM_INQ) continue;
        int queued = 0;
        std::memcpy(&queued, CMSG_DATA(c), sizeof queued);
        r.exhausted = queued == 0;
    }
    return r; // without TCP_INQ on the socket never exhausted: the next read tries at once
}

/// Whether, after a read that left nothing queued on the socket with reactor state `state`, the
/// next read may wait for epoll's next edge: not once epoll has reported the socket hung up or
/// failed, for no edge may come any more.
inline bool may_wait_for_edge(asio::detail::epoll_reactor::per_descriptor_data state)
{
    return !asio_internals::reported_hangup(state);
}

/// One receive into `buffer` for `op`, and what it tells the reactor.
inline asio::detail::reactor_op::status receive(asio::detail::reactor_op& op, asio::detail::socket_type socket,
                                                asio::detail::epoll_reactor::per_descriptor_data state,
                                                asio::mutable_buffer buffer)
{
    using asio::detail::reactor_op;
    const auto r = receive_reporting_queue(socket, buffer);
    if (r.would_block) return reactor_op::not_done; // the reactor waits for the edge
    op.bytes_transferred_ = r.n;
    op.ec_ = r.ec;
    // A read that failed or hit the end completes the op with that: no next read depends on it.
    return r.exhausted && (r.ec || may_wait_for_edge(state)) ? reactor_op::done_and_exhausted : reactor_op::done;
}

/// Asio's reactive_socket_recv_op for one buffer, with the two differences this file is about:
/// a read that leaves nothing queued reports the socket exhausted, and the buffer comes from a
/// pool when the read is performed and goes back to it when the socket had nothing. On
/// completion the buffer is handed to `destination`.
template <typename Handler>
class pooled_recv_op : public asio::detail::reactor_op {
public:
    ASIO_DEFINE_HANDLER_PTR(pooled_recv_op);

    pooled_recv_op(asio::detail::socket_type socket, asio::detail::epoll_reactor::per_descriptor_data state,
                   buffer_pool& pool, pooled_buffer& destination, std::size_t offset, Handler& handler,
                   const io_executor& io_ex)
        : reactor_op(asio::error_code(), &pooled_recv_op::do_perform, &pooled_recv_op::do_complete),
          socket_(socket),
          state_(state),
          pool_(pool),
          destination_(destination),
          offset_(offset),
          buffer_(std::move(destination)),
          handler_(std::move(handler)),
          work_(handler_, io_ex)
    {
    }

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<pooled_recv_op*>(base);
        if (!o->buffer_) o->buffer_ = o->pool_.try_acquire();
        if (!o->buffer_) {
            o->ec_ = std::make_error_code(std::errc::not_enough_memory);
            return done;
        }
        const status result = receive(*o, o->socket_, o->state_,
                                      asio::buffer(o->buffer_.get() + o->offset_, o->pool_.buffer_size() - o->offset_));
        // Nothing there: wait without the buffer, unless it holds bytes already.
        if (result == not_done && o->offset_ == 0) o->buffer_.reset();
        return result;
    }

    static void do_complete(void* owner, asio::detail::operation* base, const asio::error_code&, std::size_t)
    {
        auto* o = static_cast<pooled_recv_op*>(base);
        ptr p = {std::addressof(o->handler_), o, o};
        asio::detail::handler_work<Handler, io_executor> w(std::move(o->work_));
        asio::detail::binder2<Handler, asio::error_code, std::size_t> handler(o->handler_, o->ec_,
                                                                              o->bytes_transferred_);
        // The handler keeps the buffer's owner alive, so the buffer may be handed over now.
        if (owner) o->destination_ = std::move(o->buffer_);
        asio_internals::free_and_invoke(owner, p, w, handler);
    }

private:
    asio::detail::socket_type socket_;
    /// The socket's reactor state, which outlives the op's performing (the reactor performs the
    /// op only while the socket is registered).
    asio::detail::epoll_reactor::per_descriptor_data state_;
    buffer_pool& pool_;
    pooled_buffer& destination_;
    std::size_t offset_;
    pooled_buffer buffer_;
    Handler handler_;
    asio::detail::handler_work<Handler, io_executor> work_;
};

} // namespace drained_reads_detail
#endif

/// Reads on the sockets of one io_context. One per worker; its thread only.
class drained_reads {
public:
    explicit drained_reads(asio::io_context& context)
#if PATROXY_DRAINED_READS
        : reactor_(asio::use_service<asio::detail::reactor>(context))
#endif
    {
        (void)context;
    }

    /// socket.async_read_some() into `buffer` from `offset` on, minus the recv() that would answer
    /// EAGAIN after a read that emptied the socket. With `offset` 0 the buffer is taken from
    /// `pool` only when bytes are there (one `buffer` already holds is used as it is) and given
    /// back while the socket has none; a read at an offset > 0 must find `buffer` holding one and
    /// keeps it. The completion `(ec, n)` finds the bytes in `buffer`, which must outlive the
    /// read (the handler should own it). `socket` must belong to this object's io_context.
    /// Cancelled by socket.cancel() or close(), not by a cancellation slot.
    template <typename CompletionToken>
    auto async_read_pooled(tcp_socket& socket, buffer_pool& pool, pooled_buffer& buffer, std::size_t offset,
                           CompletionToken&& token)
    {
        return asio::async_initiate<CompletionToken, void(std::error_code, std::size_t)>(
            [this, &socket, &pool, &buffer, offset](auto handler) {
#if PATROXY_DRAINED_READS
                this->start(socket, std::move(handler), pool, buffer, offset); // this->: clang 14 misses the use otherwise
#else
                // Asio's own read needs its buffer up front.
                if (!buffer) buffer = pool.try_acquire();
                if (!buffer) {
                    asio::post(socket.get_executor(), [h = std::move(handler)]() mutable {
                        h(std::make_error_code(std::errc::not_enough_memory), std::size_t{0});
                    });
                    return;
                }
                socket.async_read_some(asio::buffer(buffer.get() + offset, pool.buffer_size() - offset),
                                       std::move(handler));
#endif
            },
            token);
    }

    /// socket.receive() now, outside the event loop, with what the kernel tells about the rest:
    /// when the read emptied the socket, the next async_read_pooled() waits for epoll instead of
    /// trying a recv() first. `ec` is would_block when nothing was there, eof at the end.
    /// `socket` must be non-blocking.
    std::size_t read_now(tcp_socket& socket, asio::mutable_buffer buffer, std::error_code& ec)
    {
#if PATROXY_DRAINED_READS
        const auto r = drained_reads_detail::receive_reporting_queue(socket.native_handle(), buffer);
        ec = r.would_block ? asio::error::would_block : r.ec;
        if (!ec && r.exhausted && drained_reads_detail::may_wait_for_edge(asio_internals::reactor_state(socket)))
            asio_internals::expect_nothing_to_read(socket);
        return r.n;
#else
        return socket.receive(buffer, 0, ec);
#endif
    }

private:
#if PATROXY_DRAINED_READS
    /// Starts the read for `handler` on `socket`.
    template <typename Handler>
    void start(tcp_socket& socket, Handler&& handler, buffer_pool& pool, pooled_buffer& buffer, std::size_t offset)
    {
        asio_internals::start_read_op<drained_reads_detail::pooled_recv_op>(
            reactor_, socket, std::forward<Handler>(handler), asio_internals::reactor_state(socket), pool, buffer,
            offset);
    }

    asio::detail::reactor& reactor_;
#endif
};

} // namespace patroxy::proxy
