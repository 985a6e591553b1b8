// A session's end in HAProxy's two-letter termination state (HAProxy 2.6 configuration manual,
// 8.5 "Session state at disconnection"), so an operator reads patroxy's session lines as the
// tcplog lines they know. README.md "Logging" has the table.
#pragma once

#include "proxy/routing/kill_policy.hpp"
#include "proxy/session/close_reason.hpp"

#include <optional>
#include <string>

namespace patroxy::proxy {

/// Where the session was when its cause was recorded: HAProxy's second letter.
enum class close_stage {
    startup,   ///< R: reading the client's first packets; nothing went to a server
    queue,     ///< Q: held for an eligible member (or a free slot) and not connected
    connect,   ///< C: connecting to a server, or waiting for its first answer
    handshake, ///< H: relaying authentication, before the server's first ReadyForQuery
    data,      ///< D: relaying after the first ReadyForQuery
    last,      ///< L: the relay is over; patroxy's final error is still going to the client
};

/// What decides the state, collected by the session as it goes.
struct termination_facts {
    close_cause cause = close_cause::none;
    close_stage stage = close_stage::startup;
    /// For close_cause::killed: why the member left the listener.
    std::optional<kill_kind> killed_by{};
    /// For close_cause::client_closed: the client said goodbye (Terminate), or patroxy could not
    /// have seen it (an opaque TLS relay); otherwise it left without one, mid-conversation.
    bool graceful = false;
};

/// Two letters: who or what ended the session, and at which stage; "--" for a normal end.
[[nodiscard]] std::string termination_state(const termination_facts& facts);

} // namespace patroxy::proxy
