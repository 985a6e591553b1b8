// The framing HTTP/1.1 requests and responses share (RFC 9112): line assembly, field lines,
// Content-Length, chunked transfer coding, close-delimited bodies and every cap. Incremental and
// pure: bytes in, a result out, the same whatever the chunking. request_parser and
// response_parser add their start lines and body-length rules.
#pragma once

#include "protocol/http/http_errors.hpp"
#include "protocol/http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace patroxy::protocol::http {

/// Caps on one message. Each is checked before the bytes past it are buffered, so whatever the
/// peer sends, a parser holds at most about max_start_line + max_field_bytes + max_body_bytes,
/// plus the per-field overhead of at most max_fields fields.
struct limits {
    std::size_t max_start_line = 8 * 1024;     ///< request or status line, line end included
    /// Field lines with their line ends and the empty line that ends them; the heads of skipped
    /// interim (1xx) responses count too. Trailers get a budget of the same size of their own.
    std::size_t max_field_bytes = 16 * 1024;
    std::size_t max_fields = 100;              ///< field lines (and, separately, trailer lines)
    std::size_t max_body_bytes = 1024 * 1024; ///< decoded body; a larger Content-Length fails at once
};

enum class parse_status {
    need_more, ///< all input consumed, the message is not complete yet
    done,      ///< the message is complete
    error,     ///< the input is not an acceptable message; see parse_result::error
};

struct parse_result {
    parse_status state = parse_status::need_more;
    /// Bytes of the input taken: all of it with need_more; up to the message's last byte with
    /// done (the rest belongs to the next message); with error, those before the offending byte,
    /// or through the end of the offending line. The same total whatever the chunking.
    std::size_t consumed = 0;
    std::error_code error; ///< an http_errc with error
};

/// How the body of a message whose head is complete is delimited (RFC 9112 section 6.3).
struct body_framing {
    enum class kind {
        none,     ///< no body: the message ends with its head
        length,   ///< `length` bytes (Content-Length)
        chunked,  ///< chunked transfer coding
        to_close, ///< until the peer closes (responses only)
        interim,  ///< an interim 1xx response: skip it, the real one follows
    };
    kind how = kind::none;
    std::uint64_t length = 0;
};

/// What the field section said about framing, gathered as the lines went by.
struct framing_fields {
    std::optional<std::uint64_t> content_length;
    bool has_transfer_encoding = false;
    unsigned codings = 0;        ///< transfer codings listed, over all Transfer-Encoding lines
    unsigned chunked_codings = 0; ///< of which "chunked"
    bool chunked_last = false;   ///< the final coding is chunked
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool expect_continue = false; ///< "Expect: 100-continue"
};

/// The shared engine. Feed it what the socket delivers, in pieces of any size; call finish()
/// when the peer closed.
class message_parser {
public:
    message_parser(const message_parser&) = delete;
    message_parser& operator=(const message_parser&) = delete;

    /// Parses the next bytes. After done or error, further calls return the same outcome with
    /// consumed = 0.
    [[nodiscard]] parse_result feed(std::string_view bytes);

    /// The peer closed: completes a close-delimited body, otherwise fails with closed_early
    /// (also before any byte).
    [[nodiscard]] parse_result finish();

    /// No byte of this message has been seen yet (a connection idle between messages).
    [[nodiscard]] bool at_start() const noexcept { return bytes_seen_ == 0; }

protected:
    explicit message_parser(limits l) : limits_(l) {}
    virtual ~message_parser() = default;

    /// The message being filled.
    virtual message& current() noexcept = 0;
    /// Empties the message (an interim response was skipped, or reset()).
    virtual void clear_message() noexcept = 0;
    /// False when byte `c` at `index` of a start line already rules the line out, so garbage
    /// (a TLS ClientHello, a PostgreSQL packet) fails at its first byte rather than after a whole
    /// line or a timeout. Called once per byte, in order, from index 0 of each line.
    virtual bool start_byte_ok(std::size_t index, char c) noexcept = 0;
    /// Parses a complete, non-empty start line (without its line end) into the message.
    virtual std::error_code on_start_line(std::string_view line) = 0;
    /// Decides the body's framing once the head is complete. The message's keep_alive is already
    /// set from its version and Connection field; the hook may clear it.
    virtual std::error_code on_head_end(const framing_fields& fields, body_framing& framing) = 0;

    /// Ready for the next message (same limits); the derived reset() calls it.
    void reset_framing() noexcept;
    [[nodiscard]] const limits& caps() const noexcept { return limits_; }
    /// Some byte after the head arrived (a chunk-size line or body data).
    [[nodiscard]] bool body_started() const noexcept { return body_started_; }

private:
    enum class parse_state {
        start_line,
        field_line,
        body_by_length,
        body_to_close,
        chunk_size_line,
        chunk_data,
        chunk_data_end, ///< the line end after a chunk's data
        trailer_line,
        done,
        failed,
    };
    [[nodiscard]] parse_result run(std::string_view in);
    /// Moves bytes up to and including the next LF into line_, which may not grow past `limit`;
    /// true once the line is complete. Past the limit it takes the bytes that still fit, stops at
    /// the first one that does not and sets `ec` to `too_long`.
    bool take_line(std::string_view in, std::size_t& pos, std::size_t limit, http_errc too_long, std::error_code& ec);
    std::error_code step_start_line(std::string_view in, std::size_t& pos);
    std::error_code step_field_line(std::string_view in, std::size_t& pos);
    std::error_code step_chunk_size_line(std::string_view in, std::size_t& pos);
    std::error_code step_chunk_data_end(std::string_view in, std::size_t& pos);
    std::error_code step_body_to_close(std::string_view in, std::size_t& pos);
    void step_counted_body(std::string_view in, std::size_t& pos);
    std::error_code on_field_line(std::string_view line);
    std::error_code note_framing_field(std::string_view lower_name, std::string_view value);
    std::error_code on_head_complete();
    std::error_code on_chunk_size(std::string_view line);
    parse_result fail(std::error_code ec, std::size_t consumed);

    limits limits_;
    parse_state state_ = parse_state::start_line;
    std::string line_;             ///< the line being assembled across feed() calls
    std::size_t bytes_seen_ = 0;   ///< of this message, skipped empty lines before it included
    std::size_t start_line_bytes_ = 0;
    std::size_t field_bytes_ = 0;  ///< of the field (or trailer) section so far
    std::size_t field_count_ = 0;  ///< field (or trailer) lines so far
    std::uint64_t remaining_ = 0;  ///< body bytes still expected (Content-Length or current chunk)
    framing_fields framing_;
    bool cr_seen_ = false; ///< chunk_data_end: the CR came, the LF has not
    bool body_started_ = false;
    std::error_code error_;
};

} // namespace patroxy::protocol::http
