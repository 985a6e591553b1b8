// How the config spells each enum value: one table per enum, shared by the parser (which accepts
// every spelling) and to_string() (which gives the canonical one). Internal to config/.
#pragma once

#include "config/config.hpp"

#include <array>
#include <string_view>

namespace patroxy::config::detail {

/// One spelling the config may use for `value`. A non-empty `unsupported` marks a name the format
/// defines but this build rejects; it is the error message to show.
template <class E>
struct name_entry {
    std::string_view name;
    E value;
    std::string_view unsupported = {};
};

/// The first entry for each value is its canonical name; the others are aliases.
inline constexpr std::array listener_role_names{
    name_entry<listener_role>{"primary", listener_role::primary},
    name_entry<listener_role>{"leader", listener_role::primary},
    name_entry<listener_role>{"master", listener_role::primary},
    name_entry<listener_role>{"replica", listener_role::replica},
    name_entry<listener_role>{"read-only", listener_role::read_only},
    name_entry<listener_role>{"sync", listener_role::sync},
    name_entry<listener_role>{"async", listener_role::async},
    name_entry<listener_role>{"standby-leader", listener_role::standby_leader},
    name_entry<listener_role>{"any", listener_role::any},
};

inline constexpr std::array balance_mode_names{
    name_entry<balance_mode>{"roundrobin", balance_mode::roundrobin},
    name_entry<balance_mode>{"leastconn", balance_mode::leastconn},
    name_entry<balance_mode>{"first", balance_mode::first},
    name_entry<balance_mode>{"source", balance_mode::source},
};

inline constexpr std::array admin_level_names{
    name_entry<admin_level>{"admin", admin_level::admin},
    name_entry<admin_level>{"operator", admin_level::operator_},
    name_entry<admin_level>{"user", admin_level::user},
};

inline constexpr std::array log_level_names{
    name_entry<log_level>{"debug", log_level::debug},
    name_entry<log_level>{"info", log_level::info},
    name_entry<log_level>{"warning", log_level::warning},
    name_entry<log_level>{"error", log_level::error},
};

inline constexpr std::array log_format_names{
    name_entry<log_format>{"text", log_format::text},
    name_entry<log_format>{"json", log_format::json},
};

inline constexpr std::array lag_action_names{
    name_entry<lag_action>{"keep", lag_action::keep},
    name_entry<lag_action>{"shutdown", lag_action::shutdown},
};

inline constexpr std::array tls_mode_names{
    name_entry<tls_mode>{"passthrough", tls_mode::passthrough},
    name_entry<tls_mode>{"disable", tls_mode::disable},
    name_entry<tls_mode>{"terminate", tls_mode::terminate},
};

inline constexpr std::array client_tls_mode_names{
    name_entry<client_tls_mode>{"prefer", client_tls_mode::prefer},
    name_entry<client_tls_mode>{"require", client_tls_mode::require},
};

inline constexpr std::array server_tls_mode_names{
    name_entry<server_tls_mode>{"disable", server_tls_mode::disable},
    name_entry<server_tls_mode>{"prefer", server_tls_mode::prefer},
    name_entry<server_tls_mode>{"require", server_tls_mode::require},
    name_entry<server_tls_mode>{"verify-ca", server_tls_mode::verify_ca},
    name_entry<server_tls_mode>{"verify-full", server_tls_mode::verify_full},
};

inline constexpr std::array client_verify_mode_names{
    name_entry<client_verify_mode>{"none", client_verify_mode::none},
    name_entry<client_verify_mode>{"optional", client_verify_mode::optional},
    name_entry<client_verify_mode>{"required", client_verify_mode::required},
};

inline constexpr std::array tls_version_names{
    name_entry<tls_version>{"TLSv1.2", tls_version::v1_2},
    name_entry<tls_version>{"TLSv1.3", tls_version::v1_3},
};

/// The entry whose name is `name`, or nullptr.
template <class Table>
constexpr const typename Table::value_type* find_name(const Table& table, std::string_view name) noexcept
{
    for (const auto& entry : table) {
        if (entry.name == name) {
            return &entry;
        }
    }
    return nullptr;
}

/// The canonical (first supported) name of `value`.
template <class Table, class E>
constexpr std::string_view canonical_name(const Table& table, E value) noexcept
{
    for (const auto& entry : table) {
        if (entry.value == value && entry.unsupported.empty()) {
            return entry.name;
        }
    }
    return "?";
}

} // namespace patroxy::config::detail
