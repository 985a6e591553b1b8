// What the stats listener's HTTP/1.1 server hands its handler and takes back: the request as the
// HTTP codec parsed it (protocol/http), and the reply the handler builds.
#pragma once

#include "protocol/http/message.hpp"
#include "protocol/http/message_parser.hpp"

#include <string>
#include <utility>
#include <vector>

namespace patroxy::proxy::stats {

/// One parsed request: method, raw path and query, fields, decoded body.
using http_request = protocol::http::request;

/// What a handler answers. The server adds Content-Length, Connection, Server, Cache-Control,
/// Server-Timing and (when it compresses) Content-Encoding and Vary.
struct http_reply {
    unsigned status = 200;
    std::string content_type; ///< "text/plain; charset=utf-8" when empty and there is a body
    std::string body;
    /// Extra fields (e.g. Location, Refresh). Values must not contain CR or LF; Content-Length,
    /// Transfer-Encoding and Connection are the server's and are dropped from here.
    std::vector<std::pair<std::string, std::string>> headers;
};

/// The caps on one request to the stats listener: a request line over max_start_line is
/// answered 414, a field section over max_field_bytes or max_fields 431, a body over
/// max_body_bytes 413 (before the client sends it, when Content-Length announces it).
[[nodiscard]] constexpr protocol::http::limits default_request_limits() noexcept
{
    protocol::http::limits caps;
    caps.max_start_line = 8 * 1024;
    caps.max_field_bytes = 16 * 1024;
    caps.max_fields = 64;
    caps.max_body_bytes = 64 * 1024;
    return caps;
}

} // namespace patroxy::proxy::stats
