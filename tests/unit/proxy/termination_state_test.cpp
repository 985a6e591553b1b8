// close_cause and stage -> HAProxy's two-letter termination state, case by case as README.md's
// "Logging" table lists them.
#include "proxy/session/termination_state.hpp"

#include <catch2/catch.hpp>

using namespace patroxy::proxy;

namespace {

std::string state(close_cause cause, close_stage stage, bool graceful = false,
                  std::optional<kill_kind> kind = std::nullopt)
{
    return termination_state({cause, stage, kind, graceful});
}

} // namespace

TEST_CASE("normal ends are --", "[proxy][termination]")
{
    CHECK(state(close_cause::client_closed, close_stage::data, true) == "--");
    CHECK(state(close_cause::cancel_forwarded, close_stage::connect) == "--");
}

TEST_CASE("the client: C at the stage it left, c when it timed out", "[proxy][termination]")
{
    CHECK(state(close_cause::client_closed, close_stage::data) == "CD");  // left mid-query, no Terminate
    CHECK(state(close_cause::client_closed, close_stage::startup) == "CR");
    CHECK(state(close_cause::client_error, close_stage::handshake) == "CH");
    CHECK(state(close_cause::client_error, close_stage::last) == "CL");
    CHECK(state(close_cause::client_tls_failed, close_stage::startup) == "CR");
    CHECK(state(close_cause::startup_timeout, close_stage::startup) == "cR");
    CHECK(state(close_cause::client_idle_timeout, close_stage::data) == "cD");
}

TEST_CASE("the server: S at the stage it left or refused, s when it timed out", "[proxy][termination]")
{
    CHECK(state(close_cause::server_closed, close_stage::data) == "SD");
    CHECK(state(close_cause::server_closed, close_stage::handshake) == "SH"); // authentication failed
    CHECK(state(close_cause::server_error, close_stage::data) == "SD");
    CHECK(state(close_cause::server_idle_timeout, close_stage::data) == "sD");
    CHECK(state(close_cause::no_server, close_stage::connect) == "SC"); // refused, nothing to wait for
}

TEST_CASE("the queue: held until queue_timeout is sQ, whatever the last attempt did", "[proxy][termination]")
{
    CHECK(state(close_cause::no_server, close_stage::queue) == "sQ");
    CHECK(state(close_cause::too_many_clients, close_stage::queue) == "sQ");   // every member's slots full
    CHECK(state(close_cause::too_many_clients, close_stage::connect) == "sQ");
    CHECK(state(close_cause::client_closed, close_stage::queue) == "CQ");      // gave up while queued
}

TEST_CASE("patroxy refused: P, at the stage of the refusal", "[proxy][termination]")
{
    CHECK(state(close_cause::too_many_clients, close_stage::startup) == "PR"); // max_connections
    CHECK(state(close_cause::bad_startup, close_stage::startup) == "PR");
    CHECK(state(close_cause::plaintext_refused, close_stage::startup) == "PR");
    CHECK(state(close_cause::direct_tls_refused, close_stage::startup) == "PR");
    CHECK(state(close_cause::client_protocol_error, close_stage::data) == "PD");
    CHECK(state(close_cause::server_protocol_error, close_stage::handshake) == "PH");
}

TEST_CASE("kills: D for a member down or demoted, K for an operator, U for a backup replaced",
          "[proxy][termination]")
{
    CHECK(state(close_cause::killed, close_stage::data, false, kill_kind::role_lost) == "DD");
    CHECK(state(close_cause::killed, close_stage::data, false, kill_kind::member_down) == "DD");
    CHECK(state(close_cause::killed, close_stage::handshake, false, kill_kind::over_lag) == "DH");
    CHECK(state(close_cause::killed, close_stage::data, false, kill_kind::maint) == "KD");
    CHECK(state(close_cause::killed, close_stage::data, false, kill_kind::backup_replaced) == "UD");
    CHECK(state(close_cause::shutdown, close_stage::data) == "KD");
}

TEST_CASE("a close without a recorded cause is internal", "[proxy][termination]")
{
    CHECK(state(close_cause::none, close_stage::data) == "ID");
}
