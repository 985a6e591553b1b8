// A blocking HTTP/1.1 client for the tests of patroxy's stats listener: one request per
// connection (Connection: close), no compression asked for, the reply read whole with a bounded
// wait. Enough for GET pages and POST forms on loopback; not a general client.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::test {

/// An HTTP reply as it came off the wire.
struct http_response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers; ///< in order, names as sent
    std::string body;

    /// The first header field named `name` (case-insensitive), or nullopt.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

/// Header fields to add to a request, e.g. {{"Authorization", basic_authorization("u", "p")}}.
using http_fields = std::vector<std::pair<std::string, std::string>>;

/// "Basic <base64 of user:password>" (RFC 7617), an Authorization field value.
[[nodiscard]] std::string basic_authorization(std::string_view user, std::string_view password);

/// Sends one request to 127.0.0.1:`port` and reads the reply: Content-Length framed, or up to the
/// close when the server sends none. A body makes it a form POST unless `fields` name another
/// Content-Type. Throws std::runtime_error when the connection fails or the reply is incomplete
/// or malformed within `timeout`.
[[nodiscard]] http_response http_request(std::uint16_t port, std::string_view method, std::string_view target,
                                         const http_fields& fields = {}, std::string_view body = {},
                                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// GET `target`.
[[nodiscard]] inline http_response http_get(std::uint16_t port, std::string_view target, const http_fields& fields = {},
                                            std::chrono::milliseconds timeout = std::chrono::seconds(5))
{
    return http_request(port, "GET", target, fields, {}, timeout);
}

} // namespace patroxy::test
