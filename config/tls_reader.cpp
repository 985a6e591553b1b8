// The TLS objects of the native config (DESIGN.md "TLS"). Only their shape is checked here: the
// files are read, and a certificate that does not parse is reported, by whoever builds the TLS
// contexts (proxy/tls), at start, on `patroxy -c` and on SIGHUP.
#include "config/tls_reader.hpp"

namespace patroxy::config::detail {
namespace {

void read_tls_fields(object_reader& obj, tls_settings& t)
{
    obj.get("cert", t.cert, read_string);
    obj.get("key", t.key, read_string);
    obj.get("client_ca", t.client_ca, read_string);
    obj.get("client_verify", t.client_verify, one_of(client_verify_mode_names));
    obj.get("server_ca", t.server_ca, read_string);
    obj.get("server_cert", t.server_cert, read_string);
    obj.get("server_key", t.server_key, read_string);
    obj.get("server_name", t.server_name, read_string);
    obj.get("min_version", t.min_version, one_of(tls_version_names));
    obj.get("ciphers", t.ciphers, read_string);
    obj.get("ciphersuites", t.ciphersuites, read_string);
    obj.get("session_tickets", t.session_tickets, read_bool);
    obj.get("ticket_lifetime", t.ticket_lifetime, read_positive_duration);
    obj.get("api_ca", t.api_ca, read_string);
    obj.get("api_cert", t.api_cert, read_string);
    obj.get("api_key", t.api_key, read_string);
    // A certificate without its key (or a key without its certificate) is a half-done edit.
    for (const auto& [cert, key, cert_name, key_name] :
         {std::tuple{&t.cert, &t.key, "cert", "key"}, std::tuple{&t.server_cert, &t.server_key, "server_cert", "server_key"},
          std::tuple{&t.api_cert, &t.api_key, "api_cert", "api_key"}}) {
        if (cert->empty() != key->empty())
            obj.diag().error(obj.path_of(cert->empty() ? cert_name : key_name),
                             std::string("missing; \"") + cert_name + "\" and \"" + key_name + "\" go together");
    }
}

} // namespace

std::function<std::optional<tls_settings>(const json&, const std::string&, diagnostics&)>
tls_overrides(const tls_settings& base)
{
    return [&base](const json& value, const std::string& path, diagnostics& d) -> std::optional<tls_settings> {
        object_reader obj(value, path, d);
        if (!obj.is_object()) return std::nullopt;
        tls_settings t = base;
        read_tls_fields(obj, t);
        obj.reject_unknown_keys();
        return t;
    };
}

void drop_api_material(tls_settings& t) noexcept
{
    t.api_ca.clear();
    t.api_cert.clear();
    t.api_key.clear();
}

void check_server_material(diagnostics& d, const std::string& path, const tls_settings& t, const std::string& where)
{
    if (t.cert.empty() || t.key.empty())
        d.error(path, "TLS needs a certificate and its key: set \"cert\" and \"key\" " + where);
    if (t.client_verify != client_verify_mode::none && t.client_ca.empty())
        d.error(path, "client_verify \"" + std::string(to_string(t.client_verify)) +
                          "\" needs the CA client certificates chain to: set \"client_ca\" " + where);
}

} // namespace patroxy::config::detail
