// The one place patroxy reaches into Asio's reactor internals (asio::detail), which are not a
// stable API. They are used only with the Asio they were checked against, Debian 12's 1.22.1 on
// epoll; PATROXY_ASIO_INTERNALS is 0 for any other, and the callers fall back to Asio's public
// calls (each caller says what that costs).
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/version.hpp>

#include "proxy/net/io_types.hpp"

#if ASIO_VERSION == 102201 && defined(ASIO_HAS_EPOLL) && !defined(ASIO_HAS_IO_URING_AS_DEFAULT) &&                    \
    !defined(ASIO_DISABLE_EPOLL)
#define PATROXY_ASIO_INTERNALS 1
#include <asio/detail/fenced_block.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/socket_ops.hpp>

#include <memory>
#include <sys/epoll.h>
#include <type_traits>
#include <utility>
#else
#define PATROXY_ASIO_INTERNALS 0
#endif

namespace patroxy::proxy::asio_internals {

#if PATROXY_ASIO_INTERNALS
/// basic_socket keeps its implementation protected; a pointer to member formed in a derived
/// class reaches it without touching the object's type.
struct socket_access : tcp_socket {
    static auto& implementation(tcp_socket& socket) { return (socket.*(&socket_access::impl_)).get_implementation(); }
};

/// Explicit instantiation may name a private member (C++20 [temp.spec.general]/6); this is how
/// expect_nothing_to_read() reaches the reactor's per-socket "a read may succeed now" flags, and
/// reported_hangup() the events epoll last reported for a socket.
template <typename Tag, typename Tag::type Member>
struct private_member {
    friend typename Tag::type get(Tag) { return Member; }
};
struct try_speculative_flags {
    using type = bool (asio::detail::epoll_reactor::descriptor_state::*)[asio::detail::epoll_reactor::max_ops];
    friend type get(try_speculative_flags);
};
template struct private_member<try_speculative_flags, &asio::detail::epoll_reactor::descriptor_state::try_speculative_>;
/// The reactor keeps the events of a socket's last epoll report in its descriptor state's
/// task_result_ (a member of scheduler_operation, a private base of descriptor_state), from the
/// epoll_wait() that reported them until the next one that reports the socket.
struct reported_events_member {
    using type = unsigned int asio::detail::scheduler_operation::*;
    friend type get(reported_events_member);
};
template struct private_member<reported_events_member, &asio::detail::scheduler_operation::task_result_>;

inline unsigned int& reported_events(asio::detail::epoll_reactor::descriptor_state& state)
{
    // Only an old-style cast may convert to an inaccessible base ([expr.cast]/4).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    auto& base = (asio::detail::scheduler_operation&)state;
#pragma GCC diagnostic pop
    return base.*get(reported_events_member{});
}

/// Tells Asio what is true of a socket patroxy opened or accepted itself with SOCK_NONBLOCK:
/// it is non-blocking (so Asio makes no ioctl(FIONBIO) of its own), and no other descriptor
/// shares its open file (so close() needs no EPOLL_CTL_DEL first: closing the only descriptor
/// removes it from epoll). Asio assumes the opposite of any socket given to assign(). Nor has
/// epoll reported anything of it yet, whatever the reused descriptor state held of a closed
/// socket before (reported_hangup()).
inline void mark_nonblocking_and_unshared(tcp_socket& socket)
{
    namespace ops = asio::detail::socket_ops;
    auto& impl = socket_access::implementation(socket);
    impl.state_ = static_cast<ops::state_type>((impl.state_ | ops::user_set_non_blocking | ops::internal_non_blocking) &
                                               ~ops::possible_dup);
    if (impl.reactor_data_) reported_events(*impl.reactor_data_) = 0;
}

/// Tells the reactor that `socket` holds nothing to read: its next read waits for epoll to
/// report it readable instead of trying a recv() first, as after a read that emptied it (Asio
/// registers every socket as possibly readable). Any epoll event for the socket undoes this, so
/// bytes that come meanwhile are read at once. True of a socket not yet connected, and of one
/// the kernel said is empty (TCP_INQ).
inline void expect_nothing_to_read(tcp_socket& socket)
{
    auto* state = socket_access::implementation(socket).reactor_data_;
    if (state) (state->*get(try_speculative_flags{}))[asio::detail::epoll_reactor::read_op] = false;
}

/// The reactor's state of `socket` (null while it is closed), for reported_hangup().
inline asio::detail::epoll_reactor::per_descriptor_data reactor_state(tcp_socket& socket)
{
    return socket_access::implementation(socket).reactor_data_;
}

/// Whether epoll has reported the socket hung up or failed (EPOLLHUP, EPOLLERR: for TCP a reset,
/// or both directions closed). No further edge comes for such a socket, so a read that finds its
/// receive queue empty must not leave the next read to one: a reset that arrived right behind
/// the bytes raised its edge together with them, TCP_INQ reports a FIN but not a reset, and
/// only the next recv() returns the error.
inline bool reported_hangup(asio::detail::epoll_reactor::per_descriptor_data state)
{
    return state && (reported_events(*state) & (EPOLLHUP | EPOLLERR)) != 0;
}

/// Starts a read-side reactor operation of our own, `Op`, on `socket`, as Asio's reactive socket
/// service starts its own: allocated with the handler's allocator and constructed as
/// `Op(descriptor, args..., handler, executor)`.
template <template <typename> class Op, typename Handler, typename... Args>
void start_read_op(asio::detail::reactor& reactor, tcp_socket& socket, Handler&& handler, Args&&... args)
{
    namespace ad = asio::detail;
    auto& impl = socket_access::implementation(socket);
    using handler_type = std::decay_t<Handler>;
    using op = Op<handler_type>;
    handler_type h(std::forward<Handler>(handler));
    typename op::ptr p = {std::addressof(h), op::ptr::allocate(h), nullptr};
    p.p = new (p.v) op(impl.socket_, std::forward<Args>(args)..., h, socket.get_executor());
    if ((impl.state_ & ad::socket_ops::non_blocking) ||
        ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_))
        reactor.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false, true);
    else
        reactor.post_immediate_completion(p.p, false);
    p.v = p.p = nullptr;
}

/// The end of an operation's do_complete, as in Asio's own: frees the operation `p` (its handler
/// now moved into `bound`), then runs the handler unless the reactor is being destroyed
/// (`owner` null).
template <typename Ptr, typename Work, typename Binder>
void free_and_invoke(void* owner, Ptr& p, Work& work, Binder& bound)
{
    p.h = std::addressof(bound.handler_);
    p.reset();
    if (owner) {
        asio::detail::fenced_block b(asio::detail::fenced_block::half);
        work.complete(bound, bound.handler_);
    }
}
#endif

} // namespace patroxy::proxy::asio_internals
