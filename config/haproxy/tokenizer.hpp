// One haproxy.cfg line into words, with HAProxy 2.6's rules (parse_line() in its src/tools.c, and
// section 2.2 and 2.3 of its configuration manual): '#' starts a comment outside quotes, '…' is
// literal, "…" keeps spaces and expands environment variables, backslash escapes outside '…'.
// Pure: the environment comes in as a lookup, so tests need no setenv().
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config::haproxy {

/// The value of an environment variable, or nullopt when it is not set.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// getenv(): the lookup patroxy runs with.
[[nodiscard]] std::optional<std::string> process_env(const std::string& name);

/// What the pseudo-variables ${.FILE}, ${.LINE} and ${.SECTION} expand to on this line.
struct line_position {
    std::string_view file;
    unsigned line = 0;
    std::string_view section; ///< the current section's name, or its keyword when it has none
};

/// HAProxy's limit of words on one line (MAX_LINE_ARGS).
inline constexpr std::size_t max_words = 64;

struct tokenized_line {
    /// The words; empty for a blank or comment line (and for one whose first word is an empty
    /// string, which HAProxy takes for a blank line too).
    std::vector<std::string> words;
    /// Why the line cannot be read ("unmatched quote at position 12"); empty when it can.
    std::string error;
};

/// Splits one line (without its line feed) into words.
///  - Outside quotes, blanks separate words and an unescaped '#' ends the line.
///  - '…': everything literal up to the next '.
///  - "…": blanks kept; \-escapes apply; $NAME, ${NAME}, ${NAME-default} and ${NAME[*]} (the
///    value split into several words) expand. Outside double quotes '$' is an ordinary character.
///  - \<space>, \\, \t, \n, \r, \#, \', \", \xHH, and \$ inside double quotes; any other
///    backslash stays as it is.
[[nodiscard]] tokenized_line tokenize_line(std::string_view text, const line_position& at, const env_lookup& env);

/// The second expansion HAProxy applies to addresses (env_expand() in its src/tools.c, called by
/// str2sa_range()): $NAME and ${NAME} anywhere in the word, quoted or not; an unset variable
/// expands to nothing. This is why `bind :${PORT}` works unquoted in HAProxy.
[[nodiscard]] std::string expand_address_env(std::string_view word, const env_lookup& env);

} // namespace patroxy::config::haproxy
