// close_cause -> HAProxy's letters. The first letter follows HAProxy's meanings: C client
// aborted, S server aborted or refused, P patroxy refused (a limit, a malformed message), R a
// resource ran out, I internal error, D killed because the member went down or lost its role,
// U killed on a backup because a non-backup member came back, K killed by an operator,
// c/s client/server timeout, - normal.
#include "proxy/session/termination_state.hpp"

namespace patroxy::proxy {
namespace {

char stage_letter(close_stage stage)
{
    switch (stage) {
    case close_stage::startup: return 'R';
    case close_stage::queue: return 'Q';
    case close_stage::connect: return 'C';
    case close_stage::handshake: return 'H';
    case close_stage::data: return 'D';
    case close_stage::last: return 'L';
    }
    return '-';
}

char kill_letter(std::optional<kill_kind> kind)
{
    if (!kind) return 'K';
    switch (*kind) {
    case kill_kind::role_lost:
    case kill_kind::member_down:
    case kill_kind::over_lag: return 'D';
    case kill_kind::maint: return 'K';
    case kill_kind::backup_replaced: return 'U';
    }
    return 'K';
}

/// The first letter; '-' only for a normal end.
char cause_letter(const termination_facts& f)
{
    switch (f.cause) {
    case close_cause::none: return 'I'; // closed without a recorded cause: a bug
    case close_cause::client_closed: return f.graceful ? '-' : 'C';
    case close_cause::client_error:
    case close_cause::client_tls_failed: return 'C';
    case close_cause::server_closed:
    case close_cause::server_error: return 'S';
    case close_cause::client_protocol_error:
    case close_cause::server_protocol_error:
    case close_cause::bad_startup:
    case close_cause::plaintext_refused:
    case close_cause::direct_tls_refused: return 'P';
    case close_cause::startup_timeout:
    case close_cause::client_idle_timeout: return 'c';
    case close_cause::server_idle_timeout: return 's';
    // Over max_connections at accept is HAProxy's "connection limit enforcement" (P); every
    // member's slots full until queue_timeout is its server-maxconn queue expiry (sQ).
    case close_cause::too_many_clients: return f.stage == close_stage::startup ? 'P' : 's';
    // Held in the queue until queue_timeout: sQ, as HAProxy's `timeout queue`; refused or
    // unreachable without waiting: SC, as HAProxy's <NOSRV>.
    case close_cause::no_server: return f.stage == close_stage::queue ? 's' : 'S';
    case close_cause::shutdown: return 'K';
    case close_cause::killed: return kill_letter(f.killed_by);
    case close_cause::cancel_forwarded:
    case close_cause::cancel_broadcast: return '-';
    case close_cause::cancel_unknown_key: return 'P';
    case close_cause::cancel_failed: return 'S';
    }
    return 'I';
}

} // namespace

std::string termination_state(const termination_facts& facts)
{
    const char who = cause_letter(facts);
    if (who == '-') return "--";
    close_stage stage = facts.stage;
    // A queue expiry is always at the queue stage, wherever the last attempt left the session.
    if (who == 's' && (facts.cause == close_cause::too_many_clients || facts.cause == close_cause::no_server))
        stage = close_stage::queue;
    return {who, stage_letter(stage)};
}

} // namespace patroxy::proxy
