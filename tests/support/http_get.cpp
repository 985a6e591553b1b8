// The tests' HTTP client, over raw_connection (whose reads all have deadlines).
#include "tests/support/http_get.hpp"

#include "tests/support/patroxy_process.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <span>
#include <stdexcept>

namespace patroxy::test {
namespace {

using clock = std::chrono::steady_clock;

/// Headers larger than this are not what the stats listener sends; stop rather than read forever.
constexpr std::size_t max_header_bytes = 64 * 1024;

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::string base64(std::string_view in)
{
    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, in.size() - i);
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 3; ++k)
            v = (v << 8) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0u);
        for (std::size_t k = 0; k < 4; ++k)
            out += k <= n ? alphabet[(v >> (18 - 6 * k)) & 63u] : '=';
    }
    return out;
}

std::chrono::milliseconds left(clock::time_point deadline)
{
    return std::max(std::chrono::milliseconds{0},
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

/// The status line and header fields, up to and including the empty line.
std::string read_head(raw_connection& conn, clock::time_point deadline)
{
    std::string head;
    while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
        if (head.size() > max_header_bytes)
            throw std::runtime_error("HTTP reply headers over 64 kB");
        const auto byte = conn.read_exact(1, left(deadline));
        if (!byte)
            throw std::runtime_error("HTTP reply ended or timed out in its headers after: " + head);
        head += static_cast<char>((*byte)[0]);
    }
    return head;
}

http_response parse_head(const std::string& head)
{
    http_response r;
    std::size_t line_end = head.find("\r\n");
    const std::string_view status_line(head.data(), line_end);
    // "HTTP/1.1 200 OK"
    if (status_line.substr(0, 5) != "HTTP/" || status_line.find(' ') == std::string_view::npos)
        throw std::runtime_error("not an HTTP status line: " + std::string(status_line));
    r.status = std::stoi(std::string(status_line.substr(status_line.find(' ') + 1, 3)));
    for (std::size_t at = line_end + 2; at < head.size();) {
        line_end = head.find("\r\n", at);
        const std::string_view line(head.data() + at, line_end - at);
        at = line_end + 2;
        if (line.empty())
            break;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            throw std::runtime_error("malformed header line: " + std::string(line));
        r.headers.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
    return r;
}

} // namespace

std::optional<std::string> http_response::header(std::string_view name) const
{
    for (const auto& [n, v] : headers)
        if (iequals(n, name))
            return v;
    return std::nullopt;
}

std::string basic_authorization(std::string_view user, std::string_view password)
{
    return "Basic " + base64(std::string(user) + ":" + std::string(password));
}

http_response http_request(std::uint16_t port, std::string_view method, std::string_view target,
                           const http_fields& fields, std::string_view body, std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::string request = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                          std::to_string(port) + "\r\nConnection: close\r\n";
    bool typed = false;
    for (const auto& [name, value] : fields) {
        request += name + ": " + value + "\r\n";
        typed = typed || iequals(name, "Content-Type");
    }
    if (!body.empty() || method == "POST") {
        if (!typed)
            request += "Content-Type: application/x-www-form-urlencoded\r\n";
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "\r\n";
    request += body;

    raw_connection conn(port);
    if (!conn.send(std::as_bytes(std::span(request.data(), request.size()))))
        throw std::runtime_error("HTTP request could not be sent to port " + std::to_string(port));
    http_response r = parse_head(read_head(conn, deadline));
    if (method == "HEAD" || r.status == 204 || r.status == 304)
        return r;
    if (const auto length = r.header("Content-Length")) {
        const auto n = static_cast<std::size_t>(std::stoull(*length));
        const auto bytes = conn.read_exact(n, left(deadline));
        if (!bytes)
            throw std::runtime_error("HTTP reply body shorter than its Content-Length " + *length);
        r.body.assign(reinterpret_cast<const char*>(bytes->data()), bytes->size());
        return r;
    }
    // No length: the body ends at the close (the client asked for Connection: close).
    while (const auto byte = conn.read_exact(1, left(deadline)))
        r.body += static_cast<char>((*byte)[0]);
    return r;
}

} // namespace patroxy::test
