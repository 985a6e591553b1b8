// `server` / `default-server` options; see server_options.hpp. The tables name HAProxy 2.6's
// server keywords (src/server.c and src/cfgparse-ssl.c) with what each becomes here.
#include "config/haproxy/server_options.hpp"

#include "config/haproxy/keyword_notes.hpp"

#include <array>
#include <string_view>

namespace patroxy::config::haproxy {
namespace {

/// A keyword patroxy reads past: how many values it takes, and why it changes nothing.
struct ignored_option {
    std::string_view name;
    unsigned args;
    std::string_view why;
};

constexpr std::string_view why_resolve = "patroxy takes the system resolver's answer";
constexpr std::string_view why_agent = "patroxy has no agent checks: Patroni's REST API decides";
constexpr std::string_view why_tls = "the Patroni API's TLS details are OpenSSL's defaults in patroxy";
constexpr std::string_view why_pool = "patroxy does not pool or reuse server connections";
constexpr std::string_view why_sni =
    "patroxy sends the API URL's host as SNI and checks that the certificate names it";
constexpr std::string_view why_traffic = "patroxy does not mark members down from live traffic";

constexpr std::array ignored_options{
    ignored_option{"downinter", 1, "patroxy polls a member that is down at the normal interval"},
    ignored_option{"on-error", 1, "patroxy counts failed checks toward fall; a definitive answer from Patroni acts at once"},
    ignored_option{"maxqueue", 1, "patroxy's queue belongs to the listener (timeout queue), not to a server"},
    ignored_option{"minconn", 1, "patroxy has no dynamic limit: maxconn is the limit"},
    ignored_option{"slowstart", 1, "patroxy gives a member its full share at once"},
    ignored_option{"init-addr", 1, "patroxy resolves host names while it runs and starts whatever the answer"},
    ignored_option{"resolve-prefer", 1, why_resolve},
    ignored_option{"resolve-opts", 1, why_resolve},
    ignored_option{"resolve-net", 1, why_resolve},
    ignored_option{"agent-check", 0, why_agent},
    ignored_option{"no-agent-check", 0, why_agent},
    ignored_option{"agent-port", 1, why_agent},
    ignored_option{"agent-inter", 1, why_agent},
    ignored_option{"agent-addr", 1, why_agent},
    ignored_option{"agent-send", 1, why_agent},
    ignored_option{"observe", 1, why_traffic},
    ignored_option{"error-limit", 1, why_traffic},
    ignored_option{"cookie", 1, "cookies need HTTP; patroxy relays PostgreSQL"},
    ignored_option{"id", 1, "patroxy knows members by name"},
    ignored_option{"check-send-proxy", 0, "patroxy's checks do not send a PROXY header"},
    ignored_option{"sni", 1, why_sni},
    ignored_option{"check-sni", 1, why_sni},
    ignored_option{"verifyhost", 1, why_sni},
    ignored_option{"no-verifyhost", 0, why_sni},
    ignored_option{"crl-file", 1, why_tls},
    ignored_option{"ciphers", 1, why_tls},
    ignored_option{"ciphersuites", 1, why_tls},
    ignored_option{"curves", 1, why_tls},
    ignored_option{"sigalgs", 1, why_tls},
    ignored_option{"client-sigalgs", 1, why_tls},
    ignored_option{"ssl-min-ver", 1, why_tls},
    ignored_option{"ssl-max-ver", 1, why_tls},
    ignored_option{"ssl-reuse", 0, why_tls},
    ignored_option{"no-ssl-reuse", 0, why_tls},
    ignored_option{"tls-tickets", 0, why_tls},
    ignored_option{"no-tls-tickets", 0, why_tls},
    ignored_option{"no-sslv3", 0, why_tls},
    ignored_option{"no-tlsv10", 0, why_tls},
    ignored_option{"no-tlsv11", 0, why_tls},
    ignored_option{"no-tlsv12", 0, why_tls},
    ignored_option{"no-tlsv13", 0, why_tls},
    ignored_option{"force-sslv3", 0, why_tls},
    ignored_option{"force-tlsv10", 0, why_tls},
    ignored_option{"force-tlsv11", 0, why_tls},
    ignored_option{"force-tlsv12", 0, why_tls},
    ignored_option{"force-tlsv13", 0, why_tls},
    ignored_option{"alpn", 1, why_tls},
    ignored_option{"check-alpn", 1, why_tls},
    ignored_option{"npn", 1, why_tls},
    ignored_option{"allow-0rtt", 0, why_tls},
    ignored_option{"tfo", 0, "TCP fast open towards servers is not used"},
    ignored_option{"pool-max-conn", 1, why_pool},
    ignored_option{"pool-low-conn", 1, why_pool},
    ignored_option{"pool-purge-delay", 1, why_pool},
    ignored_option{"max-reuse", 1, why_pool},
    ignored_option{"tcp-ut", 1, "TCP_USER_TIMEOUT is not set towards servers"},
    ignored_option{"non-stick", 0, "patroxy has no stick tables"},
    ignored_option{"stick", 0, "patroxy has no stick tables"},
    ignored_option{"log-proto", 1, "patroxy does not log to servers"},
    ignored_option{"ws", 1, "WebSocket is HTTP; patroxy relays PostgreSQL"},
    ignored_option{"check-proto", 1, "patroxy's checks speak Patroni's HTTP"},
    ignored_option{"no-send-proxy", 0, "patroxy never sends a PROXY header"},
    ignored_option{"no-send-proxy-v2", 0, "patroxy never sends a PROXY header"},
};

/// Keywords that change where or how patroxy would have to connect: refused, with why.
constexpr std::string_view why_proxy_protocol = why::no_proxy_protocol;

constexpr std::array refused_options{
    keyword_note{"send-proxy", why_proxy_protocol},
    keyword_note{"send-proxy-v2", why_proxy_protocol},
    keyword_note{"send-proxy-v2-ssl", why_proxy_protocol},
    keyword_note{"send-proxy-v2-ssl-cn", why_proxy_protocol},
    keyword_note{"proxy-v2-options", why_proxy_protocol},
    keyword_note{"track", "a server that follows another server's checks is not supported; each member is polled itself"},
    keyword_note{"redir", "redirects need HTTP; patroxy relays PostgreSQL"},
    keyword_note{"source", "patroxy connects from the address the system picks"},
    keyword_note{"socks4", "patroxy does not connect through a SOCKS proxy"},
    keyword_note{"namespace", "patroxy does not connect from another network namespace"},
    keyword_note{"proto", "patroxy relays PostgreSQL as it is (no mux protocol)"},
};

/// Reads one option at `words[i]` that takes values; returns the index after it.
class option_reader {
public:
    option_reader(const std::vector<std::string>& words, unsigned line, server_options& out, report& r)
        : words_(words), line_(line), out_(out), r_(r)
    {
    }

    /// Reads words[i]; returns the index of the next option, or words.size() to stop.
    std::size_t read(std::size_t i);

private:
    template <class T>
    void set(std::optional<located<T>>& field, T value)
    {
        field = located<T>{std::move(value), line_};
    }
    /// The value after words[i], or nullopt (reported) when the line ends there.
    std::optional<std::string> value_of(std::size_t i);
    void read_time(std::optional<located<duration>>& field, std::size_t i);
    void read_count(std::optional<located<unsigned>>& field, std::size_t i, unsigned lo, unsigned hi);
    void read_u32(std::optional<located<std::uint32_t>>& field, std::size_t i, std::uint32_t hi);
    bool read_valued(std::size_t i);

    const std::vector<std::string>& words_;
    unsigned line_;
    server_options& out_;
    report& r_;
};

std::optional<std::string> option_reader::value_of(std::size_t i)
{
    if (i + 1 < words_.size()) return words_[i + 1];
    r_.error(line_, "'" + words_[i] + "' needs a value");
    return std::nullopt;
}

void option_reader::read_time(std::optional<located<duration>>& field, std::size_t i)
{
    const auto text = value_of(i);
    if (!text) return;
    std::string why;
    const auto t = parse_time(*text, time_unit::milliseconds, why);
    if (!t) r_.error(line_, words_[i] + ": " + why);
    else if (t->count() == 0) r_.error(line_, words_[i] + " must be longer than 0");
    else set(field, *t);
}

void option_reader::read_count(std::optional<located<unsigned>>& field, std::size_t i, unsigned lo, unsigned hi)
{
    const auto text = value_of(i);
    if (!text) return;
    const auto n = parse_count(*text, hi);
    if (!n || *n < lo)
        r_.error(line_, words_[i] + ": expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                            ", got '" + *text + "'");
    else set(field, static_cast<unsigned>(*n));
}

void option_reader::read_u32(std::optional<located<std::uint32_t>>& field, std::size_t i, std::uint32_t hi)
{
    const auto text = value_of(i);
    if (!text) return;
    const auto n = parse_count(*text, hi);
    if (!n) r_.error(line_, words_[i] + ": expected a whole number from 0 to " + std::to_string(hi) + ", got '" + *text + "'");
    else set(field, static_cast<std::uint32_t>(*n));
}

/// The options that take one value; false when words[i] is none of them.
bool option_reader::read_valued(std::size_t i)
{
    const auto& w = words_[i];
    if (w == "inter") read_time(out_.inter, i);
    else if (w == "fastinter") read_time(out_.fastinter, i);
    else if (w == "fall") read_count(out_.fall, i, 1, 100);
    else if (w == "rise") read_count(out_.rise, i, 1, 100);
    else if (w == "weight") read_u32(out_.weight, i, 256);
    else if (w == "maxconn") read_u32(out_.maxconn, i, 1000000);
    else if (w == "port") {
        const auto text = value_of(i);
        const auto n = text ? parse_count(*text, 65535) : std::nullopt;
        if (text && (!n || *n == 0)) r_.error(line_, "port: expected a port 1-65535, got '" + *text + "'");
        else if (n) set(out_.port, static_cast<std::uint16_t>(*n));
    } else if (w == "addr" || w == "resolvers" || w == "ca-file" || w == "crt" || w == "verify" ||
               w == "on-marked-down" || w == "on-marked-up") {
        const auto text = value_of(i);
        if (!text) return true;
        if (w == "addr") set(out_.addr, text->size() > 2 && text->front() == '[' ? text->substr(1, text->size() - 2) : *text);
        else if (w == "resolvers") set(out_.resolvers, *text);
        else if (w == "ca-file") set(out_.ca_file, *text);
        else if (w == "crt") set(out_.crt, *text);
        else if (w == "verify" && (*text == "none" || *text == "required")) set(out_.verify, *text);
        else if (w == "verify") r_.error(line_, "verify: expected none or required, got '" + *text + "'");
        else if (w == "on-marked-down" && *text == "shutdown-sessions") set(out_.shutdown_sessions, true);
        else if (w == "on-marked-up" && *text == "shutdown-backup-sessions") set(out_.shutdown_backup_sessions, true);
        else r_.error(line_, w + ": unknown action '" + *text + "'");
    } else {
        return false;
    }
    return true;
}

std::size_t option_reader::read(std::size_t i)
{
    const auto& w = words_[i];
    if (w == "check") set(out_.check, true);
    else if (w == "no-check") set(out_.check, false);
    else if (w == "backup") set(out_.backup, true);
    else if (w == "no-backup") set(out_.backup, false);
    else if (w == "disabled") set(out_.disabled, true);
    else if (w == "enabled") set(out_.disabled, false);
    else if (w == "check-ssl") set(out_.check_ssl, true);
    else if (w == "no-check-ssl") set(out_.check_ssl, false);
    else if (w == "ssl") set(out_.ssl, true);
    else if (w == "no-ssl") set(out_.ssl, false);
    else if (read_valued(i)) return i + 2;
    else {
        if (const auto* o = find_keyword(ignored_options, w)) {
            if (i + o->args >= words_.size()) {
                r_.error(line_, "'" + w + "' needs a value");
                return words_.size();
            }
            r_.warn(line_, "server option '" + w + "' has no effect: " + std::string(o->why));
            return i + 1 + o->args;
        }
        if (const auto* o = find_keyword(refused_options, w))
            r_.error(line_, "server option '" + w + "' is not supported: " + std::string(o->why));
        else r_.error(line_, "unknown server option '" + w + "'");
        return words_.size(); // the option's values are unknown: stop reading this line
    }
    return i + 1;
}

} // namespace

void merge(server_options& into, const server_options& over)
{
    auto take = [](auto& a, const auto& b) {
        if (b) a = b;
    };
    take(into.check, over.check);
    take(into.port, over.port);
    take(into.addr, over.addr);
    take(into.inter, over.inter);
    take(into.fastinter, over.fastinter);
    take(into.fall, over.fall);
    take(into.rise, over.rise);
    take(into.shutdown_sessions, over.shutdown_sessions);
    take(into.shutdown_backup_sessions, over.shutdown_backup_sessions);
    take(into.backup, over.backup);
    take(into.disabled, over.disabled);
    take(into.weight, over.weight);
    take(into.maxconn, over.maxconn);
    take(into.resolvers, over.resolvers);
    take(into.check_ssl, over.check_ssl);
    take(into.ssl, over.ssl);
    take(into.verify, over.verify);
    take(into.ca_file, over.ca_file);
    take(into.crt, over.crt);
}

void read_server_options(const std::vector<std::string>& words, std::size_t first, unsigned line,
                         server_options& out, report& r)
{
    option_reader reader(words, line, out, r);
    for (std::size_t i = first; i < words.size();) i = reader.read(i);
}

} // namespace patroxy::config::haproxy
