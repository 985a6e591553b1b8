// The server side of the HTTP/1.1 codec: requests (RFC 9112 section 3 for the request line,
// section 6 for the body). What the stats listener's server feeds.
#pragma once

#include "protocol/http/message_parser.hpp"

#include <utility>

namespace patroxy::protocol::http {

/// Incremental parser for one request; reusable through reset(). Bytes after a complete
/// request belong to the next (pipelined) one. A request body is framed by Content-Length or by
/// chunked alone; a Transfer-Encoding with another coding, with Content-Length beside it, or in
/// an HTTP/1.0 request is refused (smuggling, RFC 9112 section 6.1).
class request_parser final : public message_parser {
public:
    explicit request_parser(limits l = {}) : message_parser(l) {}

    /// Ready for the next request (same limits).
    void reset() noexcept;

    /// True once, when the head is complete, asks "Expect: 100-continue" and announces a body of
    /// which no byte has come yet: the server then sends "100 Continue" so the client sends it.
    [[nodiscard]] bool take_continue_request() noexcept
    {
        return std::exchange(continue_requested_, false) && !body_started();
    }

    /// The request as parsed so far (complete after done).
    [[nodiscard]] const request& parsed() const noexcept { return request_; }
    /// Moves the request out; call after done.
    [[nodiscard]] request take() noexcept { return std::move(request_); }

private:
    message& current() noexcept override { return request_; }
    void clear_message() noexcept override { request_ = {}; }
    bool start_byte_ok(std::size_t index, char c) noexcept override;
    std::error_code on_start_line(std::string_view line) override;
    std::error_code on_head_end(const framing_fields& fields, body_framing& framing) override;

    request request_;
    bool method_ended_ = false; ///< start_byte_ok has passed the method
    bool continue_requested_ = false;
};

/// A whole input as one request, the way a fuzz target drives the codec: the outcome of
/// feeding `bytes` at once, and the request (complete when the state is done).
struct request_outcome {
    parse_result result;
    request parsed;
};
[[nodiscard]] request_outcome parse_request(std::string_view bytes, const limits& caps = {});

} // namespace patroxy::protocol::http
