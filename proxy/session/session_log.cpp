// The close lines of client_session (session and cancel records), and the plain data they print.
#include "proxy/session/session_log.hpp"

#include "proxy/session/client_session.hpp"

#include <sstream>

namespace patroxy::proxy {

std::vector<log_field> session_fields(const session_summary& s)
{
    return {
        {"session", std::to_string(s.id), true},
        {"client", s.client},
        {"listener", s.listener},
        {"member", s.member},
        {"server", s.server},
        {"Tw", std::to_string(s.queued_ms), true},
        {"Tc", std::to_string(s.connect_ms), true},
        {"Tt", std::to_string(s.total_ms), true},
        {"bytes_in", std::to_string(s.bytes_in), true},
        {"bytes_out", std::to_string(s.bytes_out), true},
        {"state", s.state},
        {"sqlstate", s.sqlstate},
        {"user", s.user},
        {"database", s.database},
        {"application_name", s.application_name},
        {"reason", s.reason},
    };
}

std::string_view cancel_result(close_cause cause) noexcept
{
    switch (cause) {
    case close_cause::cancel_forwarded: return "forwarded";
    case close_cause::cancel_broadcast: return "broadcast";
    case close_cause::cancel_unknown_key: return "dropped";
    case close_cause::cancel_failed: return "failed";
    default: return "";
    }
}

std::vector<log_field> cancel_fields(const cancel_summary& c)
{
    return {
        {"session", std::to_string(c.id), true},
        {"client", c.client},
        {"listener", c.listener},
        {"result", c.result},
        {"detail", c.detail},
    };
}

namespace {

std::string endpoint_text(const asio::ip::tcp::endpoint& e)
{
    std::ostringstream out;
    out << e;
    return out.str();
}

std::int64_t ms_of(std::chrono::steady_clock::duration d)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

} // namespace

close_stage client_session::current_close_stage() const noexcept
{
    switch (stage_) {
    case stage::startup: return close_stage::startup;
    case stage::connecting: return queued_for_.count() > 0 ? close_stage::queue : close_stage::connect;
    case stage::relaying: return ready_seen_ ? close_stage::data : close_stage::handshake;
    case stage::ending: return close_stage::last;
    }
    return close_stage::data;
}

void client_session::log_session_line() const
{
    session_summary s;
    s.id = id_;
    s.client = endpoint_text(peer_);
    s.listener = listener_.cfg.name;
    if (member_) {
        s.member = member_->name;
        s.server = endpoint_text(member_->endpoint);
    }
    if (connect_started_ != clock::time_point{}) s.queued_ms = queued_for_.count();
    if (connect_time_) s.connect_ms = connect_time_->count();
    s.total_ms = ms_of(clock::now() - started_);
    s.bytes_in = bytes_in_;
    s.bytes_out = bytes_out_;
    // An opaque relay (TLS end to end) cannot see a Terminate: its client's close is normal.
    s.state = termination_state({cause_, close_stage_, killed_by_, client_terminated_ || !relay_aware_});
    if (error_sent_) s.sqlstate = sqlstate_;
    s.user = user_;
    s.database = database_;
    s.application_name = application_name_;
    s.reason = std::string(to_string(cause_)) + (cause_detail_.empty() ? "" : ": " + cause_detail_);
    const auto fields = session_fields(s);
    write_log_record(log_level::info, "session", fields);
}

void client_session::log_cancel_line() const
{
    const auto level = env_.log_sessions.load(std::memory_order_relaxed) ? log_level::info : log_level::debug;
    if (!log_enabled(level)) return;
    const auto fields = cancel_fields({id_, endpoint_text(peer_), listener_.cfg.name,
                                       std::string(cancel_result(cause_)), cause_detail_});
    write_log_record(level, "cancel", fields);
}

void client_session::log_close_detail() const
{
    const auto ms = ms_of(clock::now() - started_);
    log_line(log_level::debug) << prefix() << " closed: " << to_string(cause_) << (cause_detail_.empty() ? "" : ": ")
                               << cause_detail_ << " duration=" << ms << "ms bytes_in=" << bytes_in_
                               << " bytes_out=" << bytes_out_;
}

} // namespace patroxy::proxy
