// The small pieces of config.hpp around the parser: lookups, names for logs, and reading a file.
#include "config/config.hpp"
#include "config/haproxy/haproxy_reader.hpp"
#include "config/names.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

namespace patroxy::config {
namespace {

/// Reads the whole file into `out`; an error code (from errno) when it cannot.
std::error_code read_file(const std::string& path, std::string& out)
{
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                              &std::fclose);
    if (!file) {
        return {errno, std::generic_category()};
    }
    char buffer[64 * 1024];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
        out.append(buffer, n);
    }
    if (std::ferror(file.get())) { // e.g. EISDIR: fopen accepts a directory, reading fails
        return {errno, std::generic_category()};
    }
    return {};
}

} // namespace

const member* config::find_member(std::string_view name) const noexcept
{
    for (const auto& m : members) {
        if (m.name == name) {
            return &m;
        }
    }
    return nullptr;
}

std::string to_string(const config_error& e)
{
    return e.path.empty() ? e.message : e.path + ": " + e.message;
}

load_result load_config_file(const std::string& path)
{
    std::string text;
    if (const auto ec = read_file(path, text)) {
        load_result result;
        result.errors.push_back({"", "cannot read config file '" + path + "': " + ec.message()});
        return result;
    }
    // By content, not by name: /etc/haproxy/haproxy.cfg and a JSON file named *.cfg both work.
    if (haproxy::looks_like_haproxy(text)) return haproxy::parse_haproxy_config(text, path);
    return parse_config(text);
}

std::string_view to_string(listener_role r) noexcept
{
    return detail::canonical_name(detail::listener_role_names, r);
}

std::string_view to_string(balance_mode b) noexcept
{
    return detail::canonical_name(detail::balance_mode_names, b);
}

std::string_view to_string(tls_mode t) noexcept
{
    return detail::canonical_name(detail::tls_mode_names, t);
}

std::string_view to_string(client_tls_mode t) noexcept
{
    return detail::canonical_name(detail::client_tls_mode_names, t);
}

std::string_view to_string(server_tls_mode t) noexcept
{
    return detail::canonical_name(detail::server_tls_mode_names, t);
}

std::string_view to_string(client_verify_mode v) noexcept
{
    return detail::canonical_name(detail::client_verify_mode_names, v);
}

std::string_view to_string(tls_version v) noexcept
{
    return detail::canonical_name(detail::tls_version_names, v);
}

std::string_view to_string(lag_action a) noexcept
{
    return detail::canonical_name(detail::lag_action_names, a);
}

std::string_view to_string(admin_level l) noexcept
{
    return detail::canonical_name(detail::admin_level_names, l);
}

std::string_view to_string(log_level l) noexcept
{
    return detail::canonical_name(detail::log_level_names, l);
}

std::string_view to_string(log_format f) noexcept
{
    return detail::canonical_name(detail::log_format_names, f);
}

} // namespace patroxy::config
