// The runtime API's commands: HAProxy's stats-socket commands that mean something for patroxy,
// answered in HAProxy 2.6's words and formats so that operators' scripts keep working. Pure:
// a command's words and the proxy's state (through `backend`) in, the answer's text out; no
// socket. admin_server.hpp serves it on a Unix socket.
#pragma once

#include "config/config.hpp"
#include "proxy/admin/cli_input.hpp"
#include "proxy/admin/runtime_facts.hpp"
#include "proxy/stats/stats_view.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::proxy::admin {

/// What the commands need from the running proxy. Called on the control thread.
struct backend {
    /// A fresh stats view: `show stat`, `show servers state`, `show info`, and the names the
    /// server commands look up.
    std::function<stats::stats_view()> view;
    std::function<process_info()> process;
    /// The live sessions on every worker.
    std::function<std::vector<session_row>()> sessions;
    /// The stats page's admin action: puts `member` in `state` on `listener` (maint closes its
    /// sessions there). "" on success, else an operator-readable error.
    std::function<std::string(std::string_view listener, std::string_view member, stats::admin_state state)> set_admin;
};

/// One connection's state across its commands.
struct cli_session {
    /// What the connection may do: the socket's level, lowered by `operator` or `user`.
    config::admin_level level = config::admin_level::admin;
    /// Interactive mode (`prompt`): the connection stays open and each answer ends with "> ".
    bool prompt = false;
};

/// The answer to one command.
struct reply {
    std::string text;   ///< the output, each line ending in '\n'; empty for a silent success
    bool close = false; ///< `quit`: close the connection without writing anything more
};

/// Runs one command. The caller writes `text`, then the end-of-answer mark (end_of_answer()).
[[nodiscard]] reply execute(const command_words& words, cli_session& session, const backend& proxy);

/// What follows every answer: an empty line, which marks its end for scripts ("\n" after the
/// answer's own last '\n'), and in interactive mode the prompt ("\n> ").
[[nodiscard]] std::string_view end_of_answer(const cli_session& session) noexcept;

/// The text HAProxy gives for `help [words...]` and for an unknown command: a header line, the
/// commands that match `words` (exactly on their first words, else by resemblance) or all of
/// them, then help, prompt and quit. `words` starts with "help" for the help listing.
[[nodiscard]] std::string usage_text(const command_words& words);

} // namespace patroxy::proxy::admin
