// What a session's close line says, as plain data, and its fields in the order they print: the
// fields of HAProxy's `option tcplog` line (client, listener, server, Tw/Tc/Tt, bytes, state)
// plus what only a PostgreSQL-aware proxy knows (the SQLSTATE it sent, the startup's names).
// The id is the `session=` every data-path line carries (STYLE.md), so a grep finds them all.
#pragma once

#include "proxy/session/close_reason.hpp"
#include "proxy/support/log.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::proxy {

struct session_summary {
    std::uint64_t id = 0;
    std::string client;   ///< "address:port"
    std::string listener;
    std::string member;   ///< the member's name; "" when the session reached none
    std::string server;   ///< its "address:port"; "" when none
    std::int64_t queued_ms = -1;  ///< Tw: held waiting for a member; -1: never got that far
    std::int64_t connect_ms = -1; ///< Tc: connecting, retries included; -1: never connected
    std::int64_t total_ms = 0;    ///< Tt: accept to close
    std::uint64_t bytes_in = 0;   ///< client -> server
    std::uint64_t bytes_out = 0;  ///< server -> client
    std::string state;            ///< termination_state()
    std::string sqlstate;         ///< of the ErrorResponse patroxy sent the client; "" when none
    std::string user;
    std::string database;
    std::string application_name;
    std::string reason; ///< to_string(close_cause) and its detail
};

/// The fields of the "session" record, in print order.
[[nodiscard]] std::vector<log_field> session_fields(const session_summary& s);

/// What became of a CancelRequest: "forwarded", "broadcast", "dropped" (unknown key) or
/// "failed"; "" for a cause that is not a cancel's.
[[nodiscard]] std::string_view cancel_result(close_cause cause) noexcept;

struct cancel_summary {
    std::uint64_t id = 0;
    std::string client;
    std::string listener;
    std::string result; ///< cancel_result()
    std::string detail; ///< the backend pid and where it went; never the secret key
};

/// The fields of the "cancel" record, in print order.
[[nodiscard]] std::vector<log_field> cancel_fields(const cancel_summary& c);

} // namespace patroxy::proxy
