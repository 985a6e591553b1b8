// The drop-in's entry points: recognising HAProxy syntax, and text -> sections -> config.
#include "config/haproxy/haproxy_reader.hpp"

#include "config/haproxy/report.hpp"
#include "config/haproxy/sections.hpp"
#include "config/haproxy/translate.hpp"

#include <exception>

namespace patroxy::config::haproxy {

bool looks_like_haproxy(std::string_view text)
{
    constexpr std::string_view blanks = " \t\r\v\f";
    for (std::size_t start = 0; start < text.size();) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        auto line = text.substr(start, end - start);
        start = end + 1;
        const auto first = line.find_first_not_of(blanks);
        if (first == std::string_view::npos || line[first] == '#') continue;
        line.remove_prefix(first);
        return section_keyword(line.substr(0, line.find_first_of(blanks))).has_value();
    }
    return false;
}

load_result parse_haproxy_config(std::string_view text, const std::string& file_name, const env_lookup& env)
{
    report r(file_name);
    load_result result;
    try {
        const auto sections = read_sections(text, r, env, file_name);
        auto translated = translate(sections, env, r);
        if (!r.has_errors()) result.value = std::move(translated);
    } catch (const std::exception& e) {
        // The readers check every word before use, so this is a bug (or out of memory); it still
        // becomes an error rather than an exception escaping to the caller.
        r.error(0, std::string("internal error while reading the config: ") + e.what());
        result.value.reset();
    }
    result.errors = r.take_errors();
    result.warnings = r.take_warnings();
    return result;
}

} // namespace patroxy::config::haproxy
