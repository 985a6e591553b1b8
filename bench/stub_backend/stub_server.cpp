// Sessions of the stub backend. An idle session holds no read buffer: it waits for readability,
// then reads into its worker's one buffer and answers everything that chunk completed before it
// waits again, so ten thousand idle sessions cost their sockets, a scanner and a coroutine frame.
#include "bench/stub_backend/stub_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstdio>
#include <exception>
#include <memory>
#include <random>
#include <thread>
#include <variant>
#include <vector>

#include <sys/socket.h>

namespace patroxy::bench {

namespace {

namespace proto = patroxy::protocol;
using asio::ip::tcp;

constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t read_buffer_size = 64 * 1024;
constexpr std::size_t copy_block_target = 256 * 1024; ///< bytes per write while streaming COPY OUT
constexpr std::size_t copy_block_cache = 8;           ///< row widths kept per worker
constexpr std::size_t idle_out_capacity = 16 * 1024;  ///< larger answer buffers are released after use
constexpr std::uint32_t max_message_length = 1u << 30; ///< PostgreSQL's own limit

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

/// One thread's share: its io_context, acceptor and the buffers its sessions take turns with.
struct worker {
    explicit worker(const stub_settings& s, unsigned index) : settings(s), next_pid(static_cast<std::int32_t>(index) << 24)
    {
    }

    /// CopyData messages of one row width, enough for one large write; shared so that a
    /// session streaming from it keeps it alive while another width is added.
    std::shared_ptr<const proto::byte_buffer> copy_block(std::uint32_t row_bytes)
    {
        for (const auto& [width, block] : copy_blocks)
            if (width == row_bytes) return block;
        if (copy_blocks.size() >= copy_block_cache) copy_blocks.erase(copy_blocks.begin());
        const std::uint64_t rows = std::max<std::uint64_t>(1, copy_block_target / (row_bytes + 5u));
        auto block = std::make_shared<const proto::byte_buffer>(build_copy_rows(rows, row_bytes));
        copy_blocks.emplace_back(row_bytes, block);
        return block;
    }

    asio::io_context ctx{1};
    tcp::acceptor acceptor{ctx};
    const stub_settings& settings;
    std::unique_ptr<std::byte[]> read_buffer = std::make_unique<std::byte[]>(read_buffer_size);
    std::vector<std::pair<std::uint32_t, std::shared_ptr<const proto::byte_buffer>>> copy_blocks;
    std::int32_t next_pid;
    std::minstd_rand secrets{std::random_device{}()};
};

asio::awaitable<bool> write_all(tcp::socket& socket, proto::bytes_view data)
{
    const auto buffer = asio::buffer(data.data(), data.size());
    auto op = asio::async_write(socket, buffer, nothrow_awaitable);
    const auto [ec, n] = co_await std::move(op);
    co_return !ec;
}

asio::awaitable<bool> read_exactly(tcp::socket& socket, std::byte* into, std::size_t n)
{
    const auto buffer = asio::buffer(into, n);
    auto op = asio::async_read(socket, buffer, nothrow_awaitable);
    const auto [ec, got] = co_await std::move(op);
    co_return !ec && got == n;
}

/// Reads first packets until a StartupMessage: SSLRequest and GSSENCRequest are refused with
/// 'N' (the client goes on in plain text), a CancelRequest is dropped (nothing runs long here).
/// False when the session should end.
asio::awaitable<bool> read_startup(tcp::socket& socket, proto::startup_message& out)
{
    for (int attempt = 0; attempt < 4; ++attempt) {
        std::array<std::byte, 4> length_word{};
        const bool have_length = co_await read_exactly(socket, length_word.data(), length_word.size());
        if (!have_length) co_return false;
        const std::uint32_t length = proto::read_u32(length_word);
        if (proto::check_startup_length(length)) co_return false;
        proto::byte_buffer packet(length);
        std::copy(length_word.begin(), length_word.end(), packet.begin());
        const bool have_rest = co_await read_exactly(socket, packet.data() + 4, length - 4);
        if (!have_rest) co_return false;
        auto decoded = proto::decode_first_packet(packet);
        if (decoded.error) co_return false;
        if (auto* startup = std::get_if<proto::startup_message>(&decoded.packet)) {
            out = std::move(*startup);
            co_return true;
        }
        if (std::holds_alternative<proto::cancel_request>(decoded.packet)) co_return false;
        const std::array<std::byte, 1> refuse{proto::encryption_refused};
        const proto::bytes_view answer(refuse);
        const bool answered = co_await write_all(socket, answer);
        if (!answered) co_return false;
    }
    co_return false;
}

/// Streams a COPY TO STDOUT: the rows from the worker's cached block, then CopyDone,
/// CommandComplete and ReadyForQuery (appended to `out`, which the caller writes).
asio::awaitable<bool> stream_copy_out(tcp::socket& socket, worker& w, copy_out_job job, proto::byte_buffer& out)
{
    const auto block = w.copy_block(job.row_bytes);
    const std::size_t message_bytes = job.row_bytes + 5u;
    const std::uint64_t rows_per_block = block->size() / message_bytes;
    for (std::uint64_t left = job.rows; left > 0;) {
        const std::uint64_t rows = std::min(left, rows_per_block);
        const proto::bytes_view part(block->data(), rows * message_bytes);
        const bool written = co_await write_all(socket, part);
        if (!written) co_return false;
        left -= rows;
    }
    append_copy_out_end(out, job.rows);
    co_return true;
}

asio::awaitable<void> serve(tcp::socket socket, worker& w)
{
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored); // as PostgreSQL does
    proto::startup_message startup;
    const bool started = co_await read_startup(socket, startup);
    if (!started) co_return;

    proto::byte_buffer out;
    append_greeting(out, w.settings, startup, ++w.next_pid, static_cast<std::uint32_t>(w.secrets()));
    startup = {}; // nothing of it is needed any more: keep idle sessions small
    const proto::bytes_view greeting(out);
    const bool greeted = co_await write_all(socket, greeting);
    if (!greeted) co_return;
    out.clear();

    proto::message_scanner scanner(stub_reported_messages(), max_message_length);
    stub_protocol engine(w.settings);
    proto::byte_buffer carried; // bytes after a COPY TO STDOUT query, handled once it is streamed
    socket.non_blocking(true, ignored);
    for (;;) {
        proto::byte_buffer pending;
        proto::bytes_view chunk;
        if (!carried.empty()) {
            pending.swap(carried);
            chunk = pending;
        } else {
            auto wait = socket.async_wait(tcp::socket::wait_read, nothrow_awaitable);
            const auto [wait_ec] = co_await std::move(wait);
            if (wait_ec) co_return;
            std::error_code ec;
            const std::size_t n = socket.read_some(asio::buffer(w.read_buffer.get(), read_buffer_size), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
            if (ec || n == 0) co_return;
            chunk = proto::bytes_view(w.read_buffer.get(), n);
        }

        // Answer everything this chunk completes before the next suspension: the worker's
        // read buffer is shared, so nothing may look at it after a co_await.
        next_step step = next_step::carry_on;
        while (!chunk.empty() && step == next_step::carry_on) {
            const auto r = scanner.scan(chunk);
            if (r.error) {
                append_fatal(out, "08P01", "invalid frontend message: " + r.error.message());
                step = next_step::terminate;
                break;
            }
            chunk = chunk.subspan(r.consumed);
            if (r.has_message) step = engine.on_message(r.message, scanner.messages_seen(), out);
            if (r.consumed == 0) break;
        }
        if (step == next_step::copy_out) carried.assign(chunk.begin(), chunk.end());

        if (!out.empty()) {
            const proto::bytes_view answers(out);
            const bool written = co_await write_all(socket, answers);
            if (!written) co_return;
            out.clear();
        }
        if (step == next_step::copy_out) {
            const copy_out_job job = engine.pending_copy_out();
            const bool streamed = co_await stream_copy_out(socket, w, job, out);
            if (!streamed) co_return;
            const proto::bytes_view end(out);
            const bool ended = co_await write_all(socket, end);
            if (!ended) co_return;
            out.clear();
        }
        if (out.capacity() > idle_out_capacity) proto::byte_buffer().swap(out);
        if (step == next_step::terminate) co_return;
    }
}

void log_exception(std::exception_ptr e)
{
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        std::fprintf(stderr, "patroxy_stub_backend: session failed: %s\n", x.what());
    }
}

asio::awaitable<void> accept_loop(worker& w)
{
    asio::steady_timer backoff(w.ctx);
    for (;;) {
        auto op = w.acceptor.async_accept(nothrow_awaitable);
        auto [ec, socket] = co_await std::move(op);
        if (ec == asio::error::operation_aborted || !w.acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or a reset before accept: wait a little rather than spin.
            backoff.expires_after(std::chrono::milliseconds(10));
            auto wait = backoff.async_wait(nothrow_awaitable);
            co_await std::move(wait);
            continue;
        }
        asio::co_spawn(w.ctx, serve(std::move(socket), w), log_exception);
    }
}

} // namespace

int run_stub_server(const stub_server_options& options)
{
    std::vector<std::unique_ptr<worker>> workers;
    tcp::endpoint endpoint(asio::ip::make_address(options.host), options.port);
    for (unsigned i = 0; i < options.threads; ++i) {
        auto w = std::make_unique<worker>(options.settings, i);
        w->acceptor.open(endpoint.protocol());
        w->acceptor.set_option(tcp::acceptor::reuse_address(true));
        w->acceptor.set_option(reuse_port(true));
        w->acceptor.bind(endpoint);
        w->acceptor.listen(4096);
        endpoint = w->acceptor.local_endpoint(); // port 0: the others share the one chosen
        workers.push_back(std::move(w));
    }
    std::printf("listening on %s:%u\n", endpoint.address().to_string().c_str(), endpoint.port());
    std::fflush(stdout);

    asio::io_context control(1);
    asio::signal_set signals(control, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code&, int) {
        for (auto& w : workers) w->ctx.stop();
    });
    {
        std::vector<std::jthread> threads;
        for (auto& w : workers) {
            asio::co_spawn(w->ctx, accept_loop(*w), log_exception);
            threads.emplace_back([&ctx = w->ctx] { ctx.run(); });
        }
        control.run();
    }
    return 0;
}

} // namespace patroxy::bench
