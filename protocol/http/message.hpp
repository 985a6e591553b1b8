// What the HTTP/1.1 codec produces: a request or a response, head and decoded body.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::protocol::http {

/// Field lines in the order received: names lower-cased, values without surrounding blanks; a
/// repeated field stays repeated.
using field_list = std::vector<std::pair<std::string, std::string>>;

/// What requests and responses share.
struct message {
    unsigned version_minor = 1; ///< 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x)
    field_list headers;
    std::string body; ///< decoded: de-chunked, never over limits::max_body_bytes
    /// The connection may carry the next message after this one: HTTP/1.1 without
    /// "Connection: close", HTTP/1.0 with "Connection: keep-alive"; never after a close-delimited
    /// response body or a response with both Transfer-Encoding and Content-Length.
    bool keep_alive = false;

    /// The first value of field `lower_case_name`, if present.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_case_name) const;

    bool operator==(const message&) const = default;
};

struct request : message {
    std::string method; ///< as sent, case-sensitive ("GET", "HEAD", "POST", ...)
    /// The target's path, raw: not percent-decoded, so "/%68ealth" is not "/health". Starts with
    /// '/', or is "*" for "OPTIONS *"; an absolute-form target ("http://host/p") is reduced to it.
    std::string path;
    std::string query; ///< what follows the first '?', raw; empty when there is none

    bool operator==(const request&) const = default;
};

struct response : message {
    int status = 0; ///< 200..599 (interim 1xx answers are skipped)

    bool operator==(const response&) const = default;
};

} // namespace patroxy::protocol::http
