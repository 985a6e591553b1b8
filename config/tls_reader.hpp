// Reading the TLS objects of the native config: the top-level "tls" and a listener's or the stats
// listener's "tls_options", which override it key by key. Internal to config/.
#pragma once

#include "config/json_reader.hpp"

#include <functional>
#include <optional>
#include <string>

namespace patroxy::config::detail {

/// Reader of a "tls"/"tls_options" object: `base` with the keys the object sets replaced.
std::function<std::optional<tls_settings>(const json&, const std::string&, diagnostics&)>
tls_overrides(const tls_settings& base);

/// Clears what only the Patroni API uses from a listener's copy of the tls object, so that a
/// reload that changes only the API's certificates does not replace every listener.
void drop_api_material(tls_settings& t) noexcept;

/// What a TLS server (a terminating listener, the stats listener) needs: a certificate and its
/// key, and client_ca when client certificates are asked for. `where` tells the reader where
/// such keys go; errors are reported at `path`.
void check_server_material(diagnostics& d, const std::string& path, const tls_settings& t, const std::string& where);

} // namespace patroxy::config::detail
