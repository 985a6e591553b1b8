// haproxy.cfg text into sections; see sections.hpp.
#include "config/haproxy/sections.hpp"

#include "config/haproxy/keyword_notes.hpp"

#include <array>
#include <utility>

namespace patroxy::config::haproxy {
namespace {

struct keyword_entry {
    std::string_view name;
    section_kind kind;
};

// HAProxy 2.6's section keywords (cfg_register_section() calls).
constexpr std::array section_keywords{
    keyword_entry{"global", section_kind::global},     keyword_entry{"defaults", section_kind::defaults},
    keyword_entry{"listen", section_kind::listen},     keyword_entry{"frontend", section_kind::frontend},
    keyword_entry{"backend", section_kind::backend},   keyword_entry{"resolvers", section_kind::resolvers},
    keyword_entry{"userlist", section_kind::userlist},    keyword_entry{"peers", section_kind::other},
    keyword_entry{"mailers", section_kind::other},     keyword_entry{"program", section_kind::other},
    keyword_entry{"http-errors", section_kind::other}, keyword_entry{"ring", section_kind::other},
    keyword_entry{"cache", section_kind::other},       keyword_entry{"fcgi-app", section_kind::other},
};

/// The header's "[NAME] [from DEFAULTS]" into `s`; false (with the error reported) when it has
/// another shape.
bool read_header(const std::vector<std::string>& words, section& s, report& r)
{
    const auto n = words.size();
    const bool proxy = s.kind == section_kind::listen || s.kind == section_kind::frontend ||
                       s.kind == section_kind::backend;
    if (s.kind == section_kind::defaults) {
        if (n == 3 && words[1] == "from") { // "defaults from NAME": an unnamed one that inherits
            s.from = words[2];
            return true;
        }
        if (n >= 2) s.name = words[1];
        if (n == 4 && words[2] == "from") s.from = words[3];
        if (n <= 2 || (n == 4 && words[2] == "from")) return true;
        r.error(s.line, "expected 'defaults [NAME] [from DEFAULTS]'");
        return false;
    }
    if (s.kind == section_kind::global) {
        if (n > 1) r.warn(s.line, "words after 'global' have no meaning and are ignored");
        return true;
    }
    if (n < 2) {
        r.error(s.line, "the " + s.keyword + " section needs a name");
        return false;
    }
    s.name = words[1];
    if (proxy && n == 4 && words[2] == "from") {
        s.from = words[3];
        return true;
    }
    if (n == 2 || !proxy) return true;
    r.error(s.line, s.kind == section_kind::backend
                        ? "expected 'backend NAME [from DEFAULTS]'"
                        : "expected '" + s.keyword + " NAME [from DEFAULTS]'; listening addresses go on 'bind' lines");
    return false;
}

/// HAProxy's preprocessor lines (.if, .warning, …). Messages are passed on; conditional blocks
/// are refused rather than half-evaluated.
void read_dot_directive(const std::vector<std::string>& words, unsigned line, report& r)
{
    const auto& w = words[0];
    if (w == ".if") {
        r.error(line, "conditional blocks (.if … .endif) are not supported; keep only the lines patroxy should read");
    } else if (w == ".elif" || w == ".else" || w == ".endif") {
        // part of the block refused at its .if
    } else if (w == ".warning") {
        r.warn(line, words.size() > 1 ? words[1] : std::string());
    } else if (w == ".alert") {
        r.error(line, words.size() > 1 ? words[1] : std::string(".alert"));
    } else if (w != ".notice" && w != ".diag") {
        r.error(line, "unknown directive '" + w + "'");
    }
}

} // namespace

std::optional<section_kind> section_keyword(std::string_view word) noexcept
{
    if (const auto* k = find_keyword(section_keywords, word)) return k->kind;
    return std::nullopt;
}

std::vector<section> read_sections(std::string_view text, report& r, const env_lookup& env, std::string_view file)
{
    std::vector<section> out;
    bool in_section = false; // a header that failed still opens its section, so its lines are not orphans
    unsigned line = 0;
    for (std::size_t start = 0; start <= text.size();) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const auto raw = text.substr(start, end - start);
        start = end + 1;
        ++line;
        std::string_view current;
        if (!out.empty()) current = out.back().name.empty() ? out.back().keyword : out.back().name;
        auto tokens = tokenize_line(raw, line_position{file, line, current}, env);
        if (!tokens.error.empty()) {
            r.error(line, tokens.error);
            continue;
        }
        auto& words = tokens.words;
        if (words.empty()) continue;
        if (words[0].front() == '.') {
            read_dot_directive(words, line, r);
        } else if (words[0].front() == '[') {
            r.error(line, "scopes ('" + words[0] + "') are not supported");
        } else if (auto kind = section_keyword(words[0])) {
            section s;
            s.kind = *kind;
            s.keyword = words[0];
            s.line = line;
            in_section = true;
            s.header_ok = read_header(words, s, r);
            out.push_back(std::move(s));
        } else if (!in_section) {
            r.error(line, "'" + words[0] + "' outside any section: a haproxy.cfg starts with a section keyword "
                                           "(global, defaults, listen, frontend, backend, resolvers, …)");
        } else {
            out.back().directives.push_back({line, std::move(words)});
        }
        if (end == text.size()) break;
    }
    return out;
}

} // namespace patroxy::config::haproxy
