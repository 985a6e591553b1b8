// The state of one client session and its stages. Internal to proxy/session: the rest of the
// proxy only calls start_session(). Each stage lives in its own file:
//   client_session.cpp  life cycle, rejections, close accounting
//   startup_stage.cpp   first packet: SSL/GSS negotiation, CancelRequest, StartupMessage
//   connect_stage.cpp   routing and connecting to a server, early-failure retry
//   relay_stage.cpp     the two pumps, and the idle deadlines the worker's sweep checks
//   tls_stage.cpp       TLS on either leg: terminating the client's, encrypting the server's
//   session_log.cpp     the line each session (or CancelRequest) leaves at its close
//
// Startup and connect are one coroutine: they are short and read best as a sequence. The relay,
// where a session spends its life, runs on plain completion handlers instead, so a session
// that sits idle in an application's pool costs this object and its two pending reads, not the
// half dozen coroutine frames (about 8 kB) a suspended coroutine stack would keep. What only
// startup and connect need (setup_state) is freed when the relay starts, and the relay's idle
// deadlines are checked by the worker's sweeps (deadline_sweeps.cpp), not by a timer per session.
#pragma once

#include "health/cluster_snapshot.hpp"
#include "protocol/backend_messages.hpp"
#include "protocol/message_scanner.hpp"
#include "protocol/startup.hpp"
#include "proxy/net/buffer_pool.hpp"
#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/kill_policy.hpp"
#include "proxy/routing/route.hpp"
#include "proxy/session/close_reason.hpp"
#include "proxy/session/session.hpp"
#include "proxy/session/termination_state.hpp"
#include "proxy/tls/tls_stream.hpp"

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

namespace patroxy::proxy {

class worker;

/// Completion token that reports errors as values: the data path branches on error codes and
/// keeps exceptions for bugs (STYLE.md section 4).
inline constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable_t<io_executor>{});

/// A session is in its worker's live list from construction to destruction, and in its setup
/// list until the relay starts (worker_pool.hpp).
class client_session : public std::enable_shared_from_this<client_session>,
                       public list_hook<live_list_tag>,
                       public list_hook<setup_list_tag> {
public:
    using clock = std::chrono::steady_clock;

    client_session(tcp_socket client, const asio::ip::tcp::endpoint& peer, listener_runtime& listener,
                   worker& owner, session_env& env, std::uint64_t id);
    ~client_session();
    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    /// Serves the client: startup and connect in this coroutine, then, if the session gets that
    /// far, starts the relay and returns; the relay's handlers keep the session alive until it
    /// ends. Either way the session logs its close and the destructor accounts for it.
    task<void> run();

    /// Ends the session because its member may no longer serve this listener. Where the stream
    /// to the client is at a message boundary the client first gets FATAL 57P01 with `reason`,
    /// so drivers reconnect at once. Call on the session's worker thread.
    void kill(const kill_decision& decision);

    /// The relay's idle deadlines, and the deadline of a final error to a client that stopped
    /// reading, checked by the worker's idle sweep (deadline_sweeps.cpp) against `now`. Worker
    /// thread.
    void check_deadlines(clock::time_point now);
    /// The startup deadline and the current connect step's, checked by the worker's setup sweep:
    /// one that has passed cancels the socket the session waits on (step_timed_out() tells the
    /// waiting coroutine why). Worker thread.
    void check_setup_deadline(clock::time_point now);

    /// What the runtime API's `show sess` shows of this session, aged at `now`. Worker thread.
    [[nodiscard]] admin::session_row describe(clock::time_point now) const;

    /// Wakes this session if it waits for a slot of `listener`'s members (wake_slot_waiter());
    /// false when it does not. Worker thread.
    bool wake_for_slot(const listener_runtime* listener);

    [[nodiscard]] const listener_runtime& listener() const noexcept { return listener_; }
    /// The server this session is connected to (or connecting to), or nullptr.
    [[nodiscard]] const health::member_view* member() const noexcept { return member_; }

private:
    /// Which deadline rules the session at the moment.
    enum class stage {
        startup,    ///< reading the first packet(s): timeouts.startup from accept
        connecting, ///< each connect attempt and the queue have their own deadline
        relaying,   ///< idle timeouts per side, checked by the worker's sweep
        ending,     ///< the relay is over; a final error goes to the client within client_idle
    };
    /// Moves to `next`: the startup deadline rules in stage::startup, no setup deadline in the
    /// others until a connect step arms one.
    void enter_stage(stage next);
    /// A connect step (connect, the startup packet's write, the server's first answer) that must
    /// be over within the connect timeout, from now.
    void arm_step_deadline();
    /// Whether the setup sweep cancelled the socket for a passed deadline; the next step starts
    /// afresh. Disarms the deadline.
    [[nodiscard]] bool step_timed_out() noexcept;

    // client_session.cpp
    task<void> serve();
    /// The 53300 for a connection over the listener's or the global max_connections, counted.
    void prepare_over_limit_error();
    /// Closes both sockets and logs how the session ended.
    void close_and_report();
    /// The session line (log.sessions): HAProxy's tcplog fields (session_log.hpp).
    void log_session_line() const;
    /// A CancelRequest's own line: forwarded, dropped, failed or broadcast.
    void log_cancel_line() const;
    /// The old free-text close line, at debug, for when log.sessions is off.
    void log_close_detail() const;
    /// The stage a cause recorded now belongs to (termination_state.hpp).
    [[nodiscard]] close_stage current_close_stage() const noexcept;
    /// Adds the bytes relayed since the last call to the listener's and the server's counters,
    /// so the stats see a long session's traffic as it flows, not only at its close.
    void publish_bytes() noexcept;
    void finish(close_cause cause, std::string detail = {});
    // Rejections come in two steps on purpose: the message is built in a plain function, then a
    // coroutine without arguments sends it. GCC 12 mis-destroys class-type temporaries that
    // live in a co_await full-expression (seen here as free(): invalid pointer).
    void prepare_error(close_cause cause, std::string_view sqlstate, std::string message, std::string detail = {},
                       std::string hint = {});
    task<void> send_prepared_error();
    /// Writes all of `buffer` to `socket` (through its TLS stream when it has one): at once when
    /// the socket takes it (eager_write.hpp), else waiting for room.
    task<std::error_code> write_all(tcp_socket& socket, asio::const_buffer buffer);
    /// Reads what `socket` has (through its TLS stream when it has one) into `buffer` from
    /// `offset` on, during startup and connect.
    task<std::tuple<std::error_code, std::size_t>> read_some(tcp_socket& socket, pooled_buffer& buffer,
                                                             std::size_t offset);
    [[nodiscard]] std::string prefix() const;
    void close_sockets() noexcept;
    /// Adds this session's errors to its server's counters, at close.
    void account_server() noexcept;
    /// Counts a CancelRequest session by its outcome.
    void count_cancel() noexcept;

    // startup_stage.cpp
    task<std::optional<protocol::first_packet>> read_first_packet();
    /// Reads until client_buf_ holds `wanted` bytes, keeping what came after them; false (and the
    /// session finished) when the client fails or leaves first.
    task<bool> buffer_client_bytes(std::size_t wanted);
    /// Drops the first packet handled from client_buf_; bytes the client sent after it move up.
    void consume_first_packet();
    task<void> forward_cancel(const protocol::cancel_request& request);
    /// A cancel whose key no session knows, on a passthrough listener: it may belong to a session
    /// relayed opaquely (TLS end to end), so it goes to every server holding one.
    task<void> broadcast_cancel(const protocol::cancel_request& request);
    /// Sends the CancelRequest at client_buf_'s start to `endpoint` and half-closes; "" when
    /// delivered, else why not.
    task<std::string> deliver_cancel(const asio::ip::tcp::endpoint& endpoint);
    task<void> serve_ssl_passthrough();
    void remember_startup(const protocol::startup_message& startup);

    // connect_stage.cpp
    task<bool> connect_server();
    void plan_from_current_snapshot();
    task<bool> find_server();
    task<bool> try_candidates();
    task<void> wait_for_newer_snapshot();
    task<std::error_code> connect_with_timeout(const asio::ip::tcp::endpoint& endpoint);
    /// Writes the first packet to the server and reads its first answer, within the connect
    /// timeout.
    task<std::tuple<std::error_code, std::size_t>> send_first_packet_and_read_answer();
    task<std::size_t> forward_startup_and_peek();
    void prepare_no_server_error();
    /// 53300 after queue_timeout: every member that could take the client is at its max_connections.
    void prepare_members_full_error();
    [[nodiscard]] std::string empty_since_text() const;
    /// Takes one of member `index`'s sessions on this listener, within its max_connections under
    /// snapshot_; false when it is full. A claimed slot is held until set_member() moves off the
    /// member (or release_slot(), when the connect fails first).
    [[nodiscard]] bool claim_slot(std::uint32_t index) noexcept;
    /// Gives the slot back; clients queued for a slot are woken to look again.
    void release_slot(std::uint32_t index) noexcept;
    /// How long the client may still be held: up to queue_timeout for a full member's slot (on
    /// any listener), else the queue deadline (none on a purely static listener).
    [[nodiscard]] clock::time_point hold_until() const noexcept;
    void note_failure(const health::member_view& member, std::uint32_t index, std::string_view what);
    void set_member(const health::member_view* member, std::uint32_t index);

    // tls_stage.cpp
    /// The TLS handshake with the client, as its server; `replay` holds bytes of it already read
    /// (a direct-TLS ClientHello, when `direct`, which also requires ALPN "postgresql"). False,
    /// with the session finished, when the handshake fails.
    task<bool> accept_client_tls(std::string replay, bool direct);
    /// A connection that opened with a TLS record (sslnegotiation=direct): handshaken at once
    /// on a terminating listener, refused on the others. True when the session goes on, over TLS.
    task<bool> serve_direct_tls();
    /// Answers the SSLRequest at client_buf_'s start with 'S' and does the handshake.
    task<bool> terminate_ssl_request();
    /// Whether a plaintext StartupMessage may go on; otherwise answers 28000 (client_tls: require).
    task<bool> allow_plaintext_startup();
    /// SSLRequest to the server just connected and, on 'S', the handshake (server_tls). "" when the
    /// leg is ready (encrypted, or plaintext under prefer), else why this server cannot be used.
    task<std::string> start_server_tls(const health::member_view& member);
    /// On a session whose server leg is TLS, the server's AuthenticationSASL at server_buf_'s
    /// start loses SCRAM-SHA-256-PLUS (protocol/sasl.hpp says why); returns the answer's new size.
    task<std::size_t> drop_channel_binding(std::size_t answer_bytes);
    /// After the server's first answer on a session with TLS on both legs: a client that asks
    /// for channel binding the server leg cannot carry is moved to a plaintext leg (server_tls:
    /// prefer) or refused. Returns the server bytes still to relay, nullopt when the session ended.
    task<std::optional<std::size_t>> settle_channel_binding(std::size_t answer_bytes);
    [[nodiscard]] tls::tls_stream* tls_of(const tcp_socket& socket) const noexcept;
    [[nodiscard]] const listener_tls& tls_contexts();
    /// One handshake on `leg`: done, or failed for `failure`.
    void count_handshake(tls_leg leg, std::optional<tls::handshake_failure> failure) noexcept;
    /// Marks the session as holding (or no longer holding) an encrypted leg to its member, for the
    /// server rows and the cancel broadcast.
    void track_server_tls(bool on, bool opaque) noexcept;

    // relay_stage.cpp
    /// Called by the startup/connect coroutine as its last step: the relay starts when the
    /// coroutine has returned (run()). `pending_server_bytes` of the server's first answer are
    /// already in the server side's buffer; bytes the client sent after its first packet wait in
    /// the client side's.
    void prepare_relay(bool protocol_aware, std::size_t pending_server_bytes);
    void start_relay();
    /// The reference each relay handler holds, handed from one operation to the next.
    using session_ref = std::shared_ptr<client_session>;
    /// Reads what `socket` has into `buffer` and calls `handler(n)`; a read that fails stops
    /// the pump instead (read_failed()).
    template <typename Handler>
    void read_chunk(tcp_socket& socket, pooled_buffer& buffer, Handler&& handler);
    void read_client(session_ref self);
    void on_client_chunk(std::size_t n, session_ref self);
    void read_server(session_ref self);
    void write_to_client(std::size_t n, session_ref self);
    /// Writes the n bytes read from the other socket to `to`, then reads that other socket again.
    void forward_chunk(tcp_socket& to, std::size_t n, session_ref self);
    /// One pump has stopped; the second to stop ends the relay.
    void pump_stopped();
    /// Ends the relay: the client first gets error_out_ if send_error_at_end_ says it may.
    void end_relay();
    /// Stops both pumps without closing the client, which may still get error_out_.
    void stop_relay() noexcept;
    [[nodiscard]] std::error_code scan_client_bytes(std::size_t n);
    void refuse_client_stream(std::error_code error);
    [[nodiscard]] bool scan_server_bytes(std::size_t n);
    void on_server_message(const protocol::scanned_message& message);
    void read_failed(bool from_client, const std::error_code& ec);
    void on_read_end(bool from_client, const std::error_code& ec);
    /// The client has closed, or said Terminate: the server gets a FIN and ends the session.
    void pass_client_close_on();

    /// What only startup and connect need. It lives from accept until the relay starts, so an
    /// idle session keeps none of it.
    struct setup_state {
        explicit setup_state(const io_executor& executor) : queue_timer(executor) {}
        /// The deadline the setup sweep enforces now: the startup deadline, a connect step's,
        /// or none (max).
        clock::time_point deadline = clock::time_point::max();
        bool timed_out = false; ///< the sweep cancelled a wait for `deadline`
        clock::time_point startup_deadline{};
        /// For the queue: a session waiting for a newer snapshot wakes at queue_deadline.
        steady_deadline queue_timer;
        clock::time_point queue_deadline{}; ///< give up finding a server after this
        clock::time_point slot_deadline{};  ///< give up waiting for a full member's slot after this
        route_plan plan;                    ///< members to try, in order
        std::size_t next_candidate = 0;     ///< index into plan of the next member to try
        std::string failures;               ///< "pg1 (127.0.0.1:5433): refused; ..." for 57P03
        /// The last plan found every member that could take the client at its max_connections.
        bool members_full = false;
        /// Waiting in the queue for such a member's slot, not yet woken for one.
        bool waiting_for_slot = false;
        std::size_t first_packet_length = 0; ///< of the packet at client_buf_'s start, re-sent on a retry
        std::size_t client_bytes = 0;        ///< read into client_buf_: the first packet and any after it
        /// The client negotiates TLS with the server itself (passthrough): patroxy must not.
        bool client_negotiates_tls = false;
        /// SCRAM with a binding-capable client: the server leg goes plaintext (settle_channel_binding).
        bool plaintext_server_leg = false;
    };

    tcp_socket client_;
    tcp_socket server_;
    /// The contexts this session's TLS streams use, kept alive as long as they are.
    std::shared_ptr<const listener_tls> tls_contexts_;
    /// Declared after the sockets they borrow, so they go first.
    std::unique_ptr<tls::tls_stream> client_tls_; ///< set once the client's handshake is done (terminate)
    std::unique_ptr<tls::tls_stream> server_tls_; ///< set while the server leg is patroxy's TLS (server_tls)
    std::unique_ptr<setup_state> setup_; ///< until the relay starts
    listener_runtime& listener_;
    worker& owner_;
    session_env& env_;
    const std::uint64_t id_;
    asio::ip::tcp::endpoint peer_; ///< the client's address, formatted only for a log line
    /// Which max_connections the connection is over, if any: only a CancelRequest is then served.
    enum class limit_hit : std::uint8_t { none, listener, global };
    limit_hit over_limit_ = limit_hit::none;

    health::snapshot_ptr snapshot_;                ///< the snapshot this session was routed by
    std::chrono::milliseconds queued_for_{0};      ///< time spent waiting for an eligible member
    const health::member_view* member_ = nullptr; ///< the server, once connected (points into snapshot_)
    std::uint32_t member_index_ = 0;              ///< member_'s index in snapshot_

    // Relay buffers, one per direction, named by the socket they are read from, on loan from the
    // worker's pool: from accept until the relay starts (client_buf_ holds the first packet,
    // re-sent on a retried connect; server_buf_ the first answer), then only while bytes read
    // from that socket are in flight (drained_reads.hpp).
    pooled_buffer client_buf_;
    pooled_buffer server_buf_;
    std::size_t buffer_size_ = 0;
    std::size_t pending_server_bytes_ = 0; ///< the server's first answer, not yet relayed
    unsigned pumps_running_ = 0;           ///< 0 before the relay starts and once it is over

    protocol::message_scanner client_scanner_;
    protocol::message_scanner server_scanner_;

    stage stage_ = stage::startup;
    clock::time_point started_;
    clock::time_point last_client_rx_;
    clock::time_point last_server_rx_;

    std::string user_;
    std::string database_;
    std::string application_name_;
    std::optional<protocol::backend_key_data> cancel_key_;
    protocol::transaction_status transaction_ = protocol::transaction_status::idle;
    bool writing_to_client_ = false; ///< the server->client pump is in the middle of a write
    bool relay_aware_ = false;       ///< relaying with message framing (not opaque TLS)
    bool server_leg_tracked_ = false; ///< counted in its server's tls_live (track_server_tls)
    bool opaque_tracked_ = false;     ///< counted in its server's opaque_live
    bool killed_ = false;            ///< kill() was called; the relay is ending
    /// The client sent Terminate: once that is forwarded, its pump stops without reading again.
    bool client_terminated_ = false;
    /// error_out_ goes to the client when the relay ends: it was prepared while nothing was
    /// being written to the client, at a server message boundary, so it cannot cut one in two.
    bool send_error_at_end_ = false;
    std::uint64_t bytes_in_ = 0;  ///< client -> server
    std::uint64_t bytes_out_ = 0; ///< server -> client
    std::uint64_t published_in_ = 0;  ///< of bytes_in_, already added to the counters
    std::uint64_t published_out_ = 0; ///< of bytes_out_, already added to the counters
    clock::time_point published_at_{}; ///< the last publish_bytes() while relaying

    // For the session line.
    clock::time_point connect_started_{};          ///< entering the connect stage; epoch: never
    std::optional<std::chrono::milliseconds> connect_time_; ///< Tc: attempts until connected, queue excluded
    bool ready_seen_ = false;  ///< the server's first ReadyForQuery went by: authentication is over
    std::string sqlstate_;     ///< of error_out_, once prepared
    bool error_sent_ = false;  ///< error_out_ was written to the client (or its write was begun)
    close_stage close_stage_ = close_stage::startup; ///< where cause_ was recorded
    std::optional<kill_kind> killed_by_;           ///< kill()'s reason kind

    protocol::byte_buffer error_out_; ///< an ErrorResponse patroxy sends itself
    close_cause cause_ = close_cause::none;
    std::string cause_detail_;
};

} // namespace patroxy::proxy
