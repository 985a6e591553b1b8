// The socket and timer types of the data path. They name the worker's io_context executor
// instead of Asio's default, the type-erased any_io_executor: that one is 56 bytes, kept in
// every socket and timer and, twice over, in every pending operation's work tracking. For an
// idle session (two sockets, a timer, two pending reads) that was about a third of its memory;
// with the concrete executor type those copies shrink to a pointer or vanish. The same goes for
// coroutines: task<T> runs on the io_context executor, so resuming one after each operation
// goes through no type-erased executor (any_io_executor's copies and virtual calls showed in
// profiles of a connect-per-transaction load).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>

namespace patroxy::proxy {

using io_executor = asio::io_context::executor_type;
using tcp_socket = asio::basic_stream_socket<asio::ip::tcp, io_executor>;
/// A listening socket: a stream socket object rather than Asio's acceptor, because patroxy
/// accepts with a reactor operation of its own (nonblocking_sockets.hpp), which needs the
/// socket's reactor state, and an acceptor keeps that private.
using listening_socket = tcp_socket;
using steady_deadline =
    asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, io_executor>;
/// A coroutine of the data path.
template <typename T>
using task = asio::awaitable<T, io_executor>;

} // namespace patroxy::proxy
