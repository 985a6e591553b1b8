// The errors and warnings of one haproxy.cfg, each located at "file:line", collected so that one
// pass reports every problem (as the JSON reader does) and each is said once.
#pragma once

#include "config/config.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace patroxy::config::haproxy {

class report {
public:
    explicit report(std::string file) : file_(std::move(file)) {}

    /// "file:line"; the file name alone for line 0 (the whole file).
    [[nodiscard]] std::string where(unsigned line) const;

    /// Something that would change routing and cannot be honoured: the config is refused.
    void error(unsigned line, std::string message);
    /// A directive read without effect (or with a different one): the config stays valid.
    void warn(unsigned line, std::string message);

    [[nodiscard]] bool has_errors() const noexcept { return !errors_.empty(); }
    /// Errors as {path = "file:line", message}, in line order.
    [[nodiscard]] std::vector<config_error> take_errors();
    /// Warnings as "file:line: message", in line order.
    [[nodiscard]] std::vector<std::string> take_warnings();

private:
    struct entry {
        unsigned line;
        std::string message;
    };
    /// Adds `message` at `line` to `to` unless that very message was said there already: a
    /// defaults line inherited by several sections is reported once, not once per section.
    void add(std::vector<entry>& to, char kind, unsigned line, std::string message);

    std::string file_;
    std::vector<entry> errors_;
    std::vector<entry> warnings_;
    std::set<std::pair<unsigned, std::string>> said_;
};

} // namespace patroxy::config::haproxy
