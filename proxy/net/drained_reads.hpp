// Socket reads that tell Asio's reactor when they have emptied the socket, as HAProxy does with
// fd_cant_recv(): after a short read, the next read is not tried at once (a recv() that could
// only answer EAGAIN) but waits for epoll's next edge, which the kernel raises for any byte that
// arrives after the read. Asio 1.22 draws that conclusion only from a read of 0 bytes, so a
// relay that reads, forwards and reads again pays one EAGAIN recv() per message and direction:
// two of the six and a half syscalls of a relayed round trip.
//
// Nothing is lost by it: the reactor clears the flag on every readiness event of the socket,
// and every byte that arrives after a read raises one (edge-triggered epoll, which Asio uses).
//
// The read is assembled from Asio's reactor parts (asio::detail), which are not a stable API.
// It is compiled only for the Asio it was checked against (Debian 12's 1.22.1, epoll); any other
// build gets Asio's own async_read_some, which behaves the same apart from the extra recv().
#pragma once

#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/version.hpp>

#include <memory>
#include <type_traits>
#include <utility>

#if ASIO_VERSION == 102201 && defined(ASIO_HAS_EPOLL) && !defined(ASIO_HAS_IO_URING_AS_DEFAULT) &&                    \
    !defined(ASIO_DISABLE_EPOLL)
#define PATROXY_DRAINED_READS 1
#include <asio/detail/bind_handler.hpp>
#include <asio/detail/fenced_block.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/detail/socket_ops.hpp>
#else
#define PATROXY_DRAINED_READS 0
#endif

namespace patroxy::proxy {

#if PATROXY_DRAINED_READS
namespace drained_reads_detail {

/// Asio's reactive_socket_recv_op for one buffer, with the one difference this file is about.
template <typename Handler, typename IoExecutor>
class recv_op : public asio::detail::reactor_op {
public:
    ASIO_DEFINE_HANDLER_PTR(recv_op);

    recv_op(asio::detail::socket_type socket, asio::mutable_buffer buffer, Handler& handler, const IoExecutor& io_ex)
        : reactor_op(asio::error_code(), &recv_op::do_perform, &recv_op::do_complete),
          socket_(socket),
          buffer_(buffer),
          handler_(std::move(handler)),
          work_(handler_, io_ex)
    {
    }

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<recv_op*>(base);
        if (!asio::detail::socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(), 0, true,
                                                          o->ec_, o->bytes_transferred_))
            return not_done; // EAGAIN: the reactor waits for the edge
        // A short read took all there was (an error or the end of the stream, too).
        return o->ec_ || o->bytes_transferred_ < o->buffer_.size() ? done_and_exhausted : done;
    }

    static void do_complete(void* owner, asio::detail::operation* base, const asio::error_code&, std::size_t)
    {
        auto* o = static_cast<recv_op*>(base);
        ptr p = {std::addressof(o->handler_), o, o};
        asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
        // The handler is moved out and the operation freed before the upcall, as Asio does: the
        // handler may start the next read, which can then reuse this memory.
        asio::detail::binder2<Handler, asio::error_code, std::size_t> handler(o->handler_, o->ec_,
                                                                              o->bytes_transferred_);
        p.h = std::addressof(handler.handler_);
        p.reset();
        if (owner) {
            asio::detail::fenced_block b(asio::detail::fenced_block::half);
            w.complete(handler, handler.handler_);
        }
    }

private:
    asio::detail::socket_type socket_;
    asio::mutable_buffer buffer_;
    Handler handler_;
    asio::detail::handler_work<Handler, IoExecutor> work_;
};

/// basic_socket keeps its implementation protected; a pointer to member formed in a derived
/// class reaches it without touching the object's type.
struct socket_access : asio::ip::tcp::socket {
    static auto& of(asio::ip::tcp::socket& socket) { return socket.*(&socket_access::impl_); }
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

    /// socket.async_read_some(buffer, handler), minus the recv() that would answer EAGAIN after
    /// a read that emptied the socket. `socket` must belong to this object's io_context.
    template <typename Handler>
    void async_read_some(asio::ip::tcp::socket& socket, asio::mutable_buffer buffer, Handler&& handler)
    {
#if PATROXY_DRAINED_READS
        namespace ad = asio::detail;
        auto& io_object = drained_reads_detail::socket_access::of(socket);
        auto& impl = io_object.get_implementation();
        using handler_type = std::decay_t<Handler>;
        using executor_type = std::decay_t<decltype(io_object.get_executor())>;
        using op = drained_reads_detail::recv_op<handler_type, executor_type>;
        handler_type h(std::forward<Handler>(handler));
        typename op::ptr p = {std::addressof(h), op::ptr::allocate(h), nullptr};
        p.p = new (p.v) op(impl.socket_, buffer, h, io_object.get_executor());
        // As Asio's own reactive socket service starts a read.
        if ((impl.state_ & ad::socket_ops::non_blocking) ||
            ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_))
            reactor_.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false, true);
        else
            reactor_.post_immediate_completion(p.p, false);
        p.v = p.p = nullptr;
#else
        socket.async_read_some(buffer, std::forward<Handler>(handler));
#endif
    }

private:
#if PATROXY_DRAINED_READS
    asio::detail::reactor& reactor_;
#endif
};

} // namespace patroxy::proxy
