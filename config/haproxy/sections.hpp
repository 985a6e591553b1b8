// haproxy.cfg text into its sections: each section keyword line (global, defaults, listen, …)
// opens one, and every line up to the next belongs to it, as in HAProxy's readcfgfile().
#pragma once

#include "config/haproxy/report.hpp"
#include "config/haproxy/tokenizer.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config::haproxy {

enum class section_kind {
    global,
    defaults,
    listen,   ///< a frontend and a backend in one
    frontend, ///< listens; routes to a backend
    backend,  ///< servers and their checks
    resolvers,
    userlist, ///< users and passwords, for the stats page's `stats http-request auth`
    other, ///< peers, mailers, program, …: HAProxy features patroxy has no use for
};

/// One line of a section, split into words (never empty).
struct directive {
    unsigned line = 0;
    std::vector<std::string> words;
};

struct section {
    section_kind kind = section_kind::other;
    std::string keyword; ///< as written: "listen", "userlist", …
    std::string name;    ///< empty for global and for an unnamed defaults section
    std::string from;    ///< the defaults section named by "from NAME"; empty when none
    unsigned line = 0;   ///< of the keyword line
    /// False when the keyword line itself is wrong (already reported): the section's lines are
    /// kept together but not read, so they cause no errors of their own.
    bool header_ok = true;
    std::vector<directive> directives;
};

/// The kind of a section keyword, or nullopt when `word` is not one.
[[nodiscard]] std::optional<section_kind> section_keyword(std::string_view word) noexcept;

/// Splits `text` into sections. Lines that cannot be read (an unmatched quote, a line before any
/// section, a conditional block) are errors in `r`; the rest is still read, so one pass reports
/// every problem.
[[nodiscard]] std::vector<section> read_sections(std::string_view text, report& r, const env_lookup& env,
                                                 std::string_view file);

} // namespace patroxy::config::haproxy
