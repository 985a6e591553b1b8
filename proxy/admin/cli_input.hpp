// The runtime API's input grammar, as HAProxy's CLI reads it (management guide 9.3): commands end
// at a line feed or at an unescaped ';', a trailing CR is dropped, words are separated by spaces
// and tabs, and a backslash escapes the character after it. Pure and incremental: bytes in,
// commands out, the buffer bounded, so it is testable and fuzzable without a socket.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::proxy::admin {

/// One command's words, escapes resolved: "set server primary/node1 state maint" ->
/// {"set", "server", "primary/node1", "state", "maint"}. An empty line has no words.
using command_words = std::vector<std::string>;

/// Splits one command (its terminator already removed) into words. "\\" stands for a backslash,
/// a backslash before any other character stands for that character (so "\ " and "\;" keep a
/// space or a semicolon inside a word). At most `max_words` words (HAProxy's MAX_CLI_ARGS);
/// the rest of the line is dropped.
[[nodiscard]] command_words split_words(std::string_view command);

/// The bytes a connection has sent, cut into commands.
class cli_input {
public:
    /// The longest command accepted, in bytes, terminator included (HAProxy's tune.bufsize).
    static constexpr std::size_t max_command = 16384;
    /// Words kept per command (HAProxy's MAX_CLI_ARGS).
    static constexpr std::size_t max_words = 64;

    enum class status {
        command,   ///< `words` holds the next command
        need_more, ///< no complete command buffered yet
        too_long,  ///< max_command bytes without a terminator: the connection should close
    };
    struct result {
        status state = status::need_more;
        command_words words;
    };

    /// Appends bytes as received.
    void feed(std::string_view bytes) { pending_.append(bytes); }

    /// The next complete command, in the order sent.
    [[nodiscard]] result next();

    /// Nothing buffered: in non-interactive mode the connection closes once a command's answer
    /// is out and nothing more has arrived (as HAProxy's does).
    [[nodiscard]] bool empty() const noexcept { return pending_.empty(); }

private:
    std::string pending_;
};

} // namespace patroxy::proxy::admin
