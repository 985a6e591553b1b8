// Choosing and reaching a server. Until the server's first answer has been relayed, nothing of
// it has reached the client, so a refused connect, a reset or an early FATAL ("the database
// system is starting up", "too many clients") moves on to the next eligible member instead of
// failing the client (DESIGN.md, session lifecycle step 5).
#include "proxy/session/client_session.hpp"

#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/server_connect.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/support/log.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <ctime>
#include <sstream>

namespace patroxy::proxy {
namespace {

/// The SQLSTATE of a FATAL ErrorResponse that opens `chunk`, if the whole message is there.
std::string early_fatal_sqlstate(protocol::bytes_view chunk)
{
    constexpr std::size_t header = 5;
    if (chunk.size() < header || chunk[0] != std::byte{protocol::backend_type::error_response}) return {};
    const std::uint32_t length = protocol::read_u32(chunk.subspan(1));
    if (length < 4 || chunk.size() < 1 + std::size_t{length}) return {};
    protocol::error_fields fields;
    if (protocol::decode_error_response(chunk.subspan(header, length - 4), fields)) return {};
    return fields.severity == "FATAL" ? fields.sqlstate : std::string{};
}

/// Server answers after which another member may well succeed.
bool worth_retrying(std::string_view sqlstate)
{
    return sqlstate == "57P03" /* cannot_connect_now: starting up, shutting down, in recovery */ ||
           sqlstate == "53300" /* too_many_connections */;
}

} // namespace

void client_session::set_member(const health::member_view* member, std::uint32_t index)
{
    track_server_tls(false, false); // the encrypted leg, if any, was to the previous member
    // Counted per listener and member (leastconn, max_connections) from the claim (claim_slot())
    // while the session is connected to it.
    if (member_) release_slot(member_index_);
    member_ = member;
    member_index_ = index;
    if (!member_ || member_index_ >= listener_.member_sessions.size()) return;
    const auto live = listener_.member_sessions[member_index_].load(std::memory_order_relaxed);
    auto& server = listener_.servers[member_index_];
    raise_to(server.sessions_max, live);
    server.sessions_total.fetch_add(1, std::memory_order_relaxed);
    server.last_session_ns.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

bool client_session::claim_slot(std::uint32_t index) noexcept
{
    if (index >= listener_.member_sessions.size()) return true;
    const auto limit = snapshot_ ? snapshot_->setting(listener_.index, index).max_connections : 0;
    auto& live = listener_.member_sessions[index];
    auto seen = live.load(std::memory_order_relaxed);
    // Compare and increment in one step: sessions on other workers claim the same slots.
    do {
        if (limit != 0 && seen >= limit) return false;
    } while (!live.compare_exchange_weak(seen, seen + 1, std::memory_order_relaxed));
    return true;
}

void client_session::release_slot(std::uint32_t index) noexcept
{
    if (index >= listener_.member_sessions.size()) return;
    listener_.member_sessions[index].fetch_sub(1, std::memory_order_relaxed);
    // Only a member with a limit can have clients waiting for its slot.
    if (listener_.counters.queued.load(std::memory_order_relaxed) == 0 || !snapshot_ ||
        snapshot_->setting(listener_.index, index).max_connections == 0)
        return;
    if (env_.workers)
        env_.workers->wake_queued(&wake_slot_waiter, &listener_);
    else
        wake_slot_waiter(owner_, &listener_);
}

void client_session::note_failure(const health::member_view& member, std::uint32_t index, std::string_view what)
{
    if (index < listener_.servers.size()) listener_.servers[index].errors_conn.fetch_add(1, std::memory_order_relaxed);
    std::ostringstream line;
    line << member.name << " (" << member.endpoint << "): " << what;
    log_line(log_level::warning) << prefix() << " server " << line.str();
    // A queued client retries the same members; the 57P03 names each failure once.
    auto& failures = setup_->failures;
    if (failures.find(line.str()) != std::string::npos) return;
    if (!failures.empty()) failures += "; ";
    failures += line.str();
}

task<std::error_code> client_session::connect_with_timeout(const asio::ip::tcp::endpoint& endpoint)
{
    std::error_code ec;
    // On loopback the handshake is over before connect() returns: no wait.
    if (start_connect(server_, endpoint, ec) != connect_progress::in_progress) co_return ec;
    arm_step_deadline();
    auto [wait_error] = co_await server_.async_wait(tcp_socket::wait_write, nothrow_awaitable);
    if (step_timed_out()) co_return asio::error::timed_out;
    if (wait_error) co_return wait_error; // closed by a kill
    co_return connect_outcome(server_);
}

namespace {

/// FNV-1a over the address bytes: stable across runs and instances, so every patroxy of a fleet
/// sends one client to the same member.
std::uint64_t address_hash(const asio::ip::address& a)
{
    std::uint64_t h = 14695981039346656037ull;
    const auto mix = [&h](const auto& bytes) {
        for (const unsigned char b : bytes) h = (h ^ b) * 1099511628211ull;
    };
    if (a.is_v4()) mix(a.to_v4().to_bytes());
    else mix(a.to_v6().to_bytes());
    return h;
}

} // namespace

void client_session::plan_from_current_snapshot()
{
    snapshot_ = owner_.snapshot();
    setup_->plan = {};
    if (!snapshot_) return;
    auto ticket = listener_.counters.routed.fetch_add(1, std::memory_order_relaxed);
    // balance source: the same client address lands on the same member while the set holds.
    if (listener_.cfg.balance == config::balance_mode::source) ticket = address_hash(peer_.address());
    setup_->plan = plan_route(*snapshot_, listener_.index, listener_.cfg.balance, ticket, env_.retries,
                       &listener_.member_sessions, &listener_.admin);
    setup_->members_full = setup_->plan.full();
}

task<bool> client_session::connect_server()
{
    enter_stage(stage::connecting);
    connect_started_ = clock::now();
    // A listener whose members can change (Patroni roles, or servers with a Patroni API) holds
    // its clients for up to queue_timeout; a purely static one has nothing to wait for.
    // A client waiting for a full member's slot is held up to queue_timeout on any listener.
    const auto hold = listener_.can_queue ? listener_.cfg.queue_timeout : config::duration{0};
    const auto now = clock::now();
    setup_->queue_deadline = now + hold;
    setup_->slot_deadline = now + listener_.cfg.queue_timeout;
    plan_from_current_snapshot();
    setup_->next_candidate = 0;
    co_return co_await find_server();
}

client_session::clock::time_point client_session::hold_until() const noexcept
{
    return setup_->members_full ? setup_->slot_deadline : setup_->queue_deadline;
}

task<bool> client_session::find_server()
{
    // Nothing of a server reaches the client before it answered the startup, so a member that
    // refuses, resets or says "starting up" is no reason to fail the client: try the others,
    // then wait for a newer snapshot (a failover under way) while the queue time lasts.
    // The awaited result goes into a named local before the test: GCC 12 turned
    // `if (co_await try_candidates())` in this loop into a busy loop.
    for (;;) {
        const bool connected = co_await try_candidates();
        if (connected) co_return true;
        if (clock::now() >= hold_until()) break;
        if (owner_.snapshot() == snapshot_) co_await wait_for_newer_snapshot();
        plan_from_current_snapshot();
        setup_->next_candidate = 0;
    }
    if (setup_->members_full)
        prepare_members_full_error();
    else
        prepare_no_server_error();
    co_await send_prepared_error();
    co_return false;
}

task<void> client_session::wait_for_newer_snapshot()
{
    using namespace asio::experimental::awaitable_operators;
    auto& setup = *setup_;
    const auto start = clock::now();
    if (queued_for_.count() == 0) {
        const char* why = setup.members_full ? "every eligible server is at its max_connections"
                          : setup.plan.empty() ? "no eligible server"
                                               : nullptr;
        log_line(log_level::info) << prefix() << " queued: " << (why ? std::string(why) : setup.failures);
        listener_.counters.queued_total.fetch_add(1, std::memory_order_relaxed);
    }
    const auto waiting = listener_.counters.queued.fetch_add(1, std::memory_order_relaxed) + 1;
    raise_to(listener_.counters.queued_max, waiting);
    setup.queue_timer.expires_at(hold_until());
    setup.waiting_for_slot = setup.members_full;
    co_await (owner_.snapshot_signal().async_wait(nothrow_awaitable) || setup.queue_timer.async_wait(nothrow_awaitable));
    setup.waiting_for_slot = false;
    listener_.counters.queued.fetch_sub(1, std::memory_order_relaxed);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    queued_for_ += waited;
}

bool client_session::wake_for_slot(const listener_runtime* listener)
{
    if (!setup_ || !setup_->waiting_for_slot || &listener_ != listener) return false;
    setup_->waiting_for_slot = false; // woken once: the next freed slot goes to the next waiter
    setup_->queue_timer.cancel();
    return true;
}

void wake_slot_waiter(worker& owner, const listener_runtime* listener)
{
    // The setup list is in order of arrival: the first waiter found has waited longest.
    for (auto& session : owner.setup_sessions())
        if (session.wake_for_slot(listener)) return;
}

task<bool> client_session::try_candidates()
{
    auto& setup = *setup_;
    while (setup.next_candidate < setup.plan.attempts()) {
        const auto index = setup.plan.candidate_index(setup.next_candidate);
        const auto& member = setup.plan.candidate(setup.next_candidate++);
        if (!claim_slot(index)) { // its last slot went to another session since the plan
            setup.members_full = true;
            continue;
        }
        if (index < listener_.servers.size()) listener_.servers[index].lb_total.fetch_add(1, std::memory_order_relaxed);
        const auto started = clock::now();
        if (auto ec = co_await connect_with_timeout(member.endpoint)) {
            release_slot(index);
            note_failure(member, index, ec == asio::error::timed_out ? "connect timed out" : ec.message());
            continue;
        }
        // Until the startup packet went out nothing of this server has reached the client: a
        // server that refuses TLS under server_tls, or fails its handshake, is one more failure.
        const auto tls_failure = co_await start_server_tls(member);
        if (!tls_failure.empty()) {
            release_slot(index);
            note_failure(member, index, tls_failure);
            continue;
        }
        if (index < listener_.servers.size()) listener_.servers[index].connect_time.observe(clock::now() - started);
        connect_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - connect_started_) - queued_for_;
        set_member(&member, index);
        track_server_tls(server_tls_ != nullptr, false);
        co_return true;
    }
    co_return false;
}

task<std::tuple<std::error_code, std::size_t>> client_session::send_first_packet_and_read_answer()
{
    // A server that accepts but never answers (a hung host, a stopped postmaster) counts as
    // unreachable after the connect timeout, like a connect that never completes. The answer
    // is read as the relay reads: when it empties the socket, the relay's first read of the
    // server waits for epoll instead of trying a recv() that could only answer EAGAIN.
    arm_step_deadline();
    auto ec = co_await write_all(server_, asio::buffer(client_buf_.get(), setup_->first_packet_length));
    std::size_t n = 0;
    if (!ec) std::tie(ec, n) = co_await read_some(server_, server_buf_, 0);
    if (step_timed_out() && ec) ec = asio::error::timed_out;
    co_return std::tuple{ec, n};
}

task<std::size_t> client_session::forward_startup_and_peek()
{
    for (;;) {
        auto [ec, n] = co_await send_first_packet_and_read_answer();
        if (!ec) {
            last_server_rx_ = clock::now();
            const auto sqlstate = early_fatal_sqlstate(protocol::bytes_view(server_buf_.get(), n));
            if (!worth_retrying(sqlstate)) co_return co_await drop_channel_binding(n);
            note_failure(*member_, member_index_, "answered FATAL " + sqlstate);
        } else {
            note_failure(*member_, member_index_,
                         ec == asio::error::timed_out ? std::string("did not answer the startup within the connect timeout")
                                                      : "closed before answering the startup: " + ec.message());
        }
        set_member(nullptr, 0);
        connect_time_.reset(); // Tc is the final server's
        const bool found = co_await find_server();
        if (!found) co_return 0;
    }
}

std::string client_session::empty_since_text() const
{
    if (!snapshot_ || listener_.index >= snapshot_->empty_since.size()) return {};
    const auto since = snapshot_->empty_since[listener_.index];
    if (since == std::chrono::system_clock::time_point{}) return {};
    const auto t = std::chrono::system_clock::to_time_t(since);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%H:%M:%S UTC", &tm);
    return " since " + std::string(buf, n);
}

void client_session::prepare_no_server_error()
{
    listener_.counters.rejected_no_server.fetch_add(1, std::memory_order_relaxed);
    std::string message = "listener \"" + listener_.cfg.name + "\" cannot reach any server";
    std::string detail;
    if (setup_->plan.empty()) {
        message += ": no server is eligible";
        if (listener_.cfg.role) message += std::string(" for role ") + std::string(config::to_string(*listener_.cfg.role));
        message += empty_since_text();
        if (queued_for_.count() > 0) message += " (held " + std::to_string(queued_for_.count()) + " ms in the queue)";
        // The incidents say why (no DCS leader, two claimants, the leader still in recovery).
        if (snapshot_)
            for (const auto& inc : snapshot_->incidents) detail += (detail.empty() ? "" : "; ") + inc.text;
    } else
        detail = "tried " + setup_->failures;
    prepare_error(close_cause::no_server, "57P03", std::move(message), std::move(detail),
                  "patroxy will route new connections as soon as a server is reachable again");
}

void client_session::prepare_members_full_error()
{
    listener_.counters.rejected_member_limit.fetch_add(1, std::memory_order_relaxed);
    std::string message = "sorry, too many clients already: every eligible server of listener \"" +
                          listener_.cfg.name + "\" is at its max_connections";
    if (queued_for_.count() > 0) message += " (held " + std::to_string(queued_for_.count()) + " ms in the queue)";
    std::string detail;
    if (snapshot_ && listener_.index < snapshot_->eligible.size()) {
        for (const auto i : snapshot_->eligible[listener_.index]) {
            const auto limit = snapshot_->setting(listener_.index, i).max_connections;
            if (limit == 0 || i >= listener_.member_sessions.size()) continue;
            detail += (detail.empty() ? "" : "; ") + snapshot_->members[i].name + ": " +
                      std::to_string(listener_.member_sessions[i].load(std::memory_order_relaxed)) + " of " +
                      std::to_string(limit) + " sessions";
        }
    }
    prepare_error(close_cause::too_many_clients, "53300", std::move(message), std::move(detail),
                  "a waiting client is admitted as soon as a session on one of them ends; raise the members' "
                  "max_connections or the listener's queue_timeout to wait longer");
}

} // namespace patroxy::proxy
