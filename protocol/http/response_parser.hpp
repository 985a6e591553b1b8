// The client side of the HTTP/1.1 codec: responses (RFC 9112 section 4 for the status line,
// section 6.3 for the body length). What the Patroni REST client feeds.
#pragma once

#include "protocol/http/message_parser.hpp"

#include <utility>

namespace patroxy::protocol::http {

/// Incremental parser for one response to a GET; reusable through reset(). Interim 1xx answers
/// are skipped; a body is framed by chunked (Transfer-Encoding wins over Content-Length), by
/// Content-Length, or runs until the server closes (then finish() completes it).
class response_parser final : public message_parser {
public:
    explicit response_parser(limits l = {}) : message_parser(l) {}

    /// Ready for the next response (same limits).
    void reset() noexcept;

    /// The response as parsed so far (complete after done).
    [[nodiscard]] const response& parsed() const noexcept { return response_; }
    /// Moves the response out; call after done.
    [[nodiscard]] response take() noexcept { return std::move(response_); }

private:
    message& current() noexcept override { return response_; }
    void clear_message() noexcept override { response_ = {}; }
    bool start_byte_ok(std::size_t index, char c) noexcept override;
    std::error_code on_start_line(std::string_view line) override;
    std::error_code on_head_end(const framing_fields& fields, body_framing& framing) override;

    response response_;
};

/// A whole input as one response, the way a fuzz target drives the codec: the outcome of
/// feeding `bytes` at once and then, with `then_closed`, of the peer's close; and the response
/// (complete when the state is done).
struct response_outcome {
    parse_result result;
    response parsed;
};
[[nodiscard]] response_outcome parse_response(std::string_view bytes, bool then_closed, const limits& caps = {});

} // namespace patroxy::protocol::http
