// The stub backend's protocol engine, without sockets: it takes the frontend messages of one
// session (as patroxy's message_scanner frames them) and appends the backend's answers to a
// buffer. Just enough of PostgreSQL for libpq's simple and extended queries, pipeline mode and
// COPY in both directions; every query answers one row with one int4 column.
#pragma once

#include "protocol/backend_messages.hpp"
#include "protocol/bytes.hpp"
#include "protocol/message_scanner.hpp"
#include "protocol/startup.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::bench {

/// Per-process settings of the stub's answers.
struct stub_settings {
    std::string server_version = "15.0 (patroxy stub backend)";
    std::uint64_t copy_rows = 65536;     ///< COPY TO STDOUT rows when the query does not say
    std::uint32_t copy_row_bytes = 1024; ///< bytes per COPY row, newline included
};

/// A COPY TO STDOUT the session must stream: `rows` CopyData messages of `row_bytes` each.
struct copy_out_job {
    std::uint64_t rows = 0;
    std::uint32_t row_bytes = 0;
};

/// What the session does after a message was handled.
enum class next_step {
    carry_on,  ///< go on with the next message
    copy_out,  ///< stream copy_out_job() first (the CopyOutResponse is already in the buffer)
    terminate, ///< Terminate received: flush the buffer and close
};

/// Which frontend message types the session's scanner must report (CopyData bodies are skipped
/// unseen and only counted).
[[nodiscard]] protocol::message_type_set stub_reported_messages();

/// The answer to a StartupMessage: AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery.
void append_greeting(protocol::byte_buffer& out, const stub_settings& settings, const protocol::startup_message& startup,
                     std::int32_t process_id, std::uint32_t secret);

/// `count` CopyData messages of `row_bytes` payload each ('x'... then a newline), back to back.
[[nodiscard]] protocol::byte_buffer build_copy_rows(std::uint64_t count, std::uint32_t row_bytes);

/// CopyDone, CommandComplete "COPY rows", ReadyForQuery: the end of a COPY TO STDOUT.
void append_copy_out_end(protocol::byte_buffer& out, std::uint64_t rows);

/// A FATAL ErrorResponse for a broken stream, before the stub closes the session.
void append_fatal(protocol::byte_buffer& out, std::string_view sqlstate, std::string_view message);

/// One session's protocol state after the startup: prepared statements, portals, COPY IN.
class stub_protocol {
public:
    explicit stub_protocol(const stub_settings& settings) noexcept : settings_(&settings) {}

    /// Handles one complete message; `messages_seen` is the scanner's count so far, which
    /// tells how many CopyData messages went by unreported.
    [[nodiscard]] next_step on_message(const protocol::scanned_message& message, std::uint64_t messages_seen,
                                       protocol::byte_buffer& out);

    /// The COPY TO STDOUT asked for by the last next_step::copy_out.
    [[nodiscard]] const copy_out_job& pending_copy_out() const noexcept { return copy_out_; }

private:
    struct statement {
        std::string name;
        std::string query;
        std::vector<std::uint32_t> param_types; ///< declared or inferred ($n), 0 = unspecified
    };

    next_step on_query(std::string_view sql, protocol::byte_buffer& out);
    void on_parse(protocol::bytes_view body, protocol::byte_buffer& out);
    void on_bind(protocol::bytes_view body, protocol::byte_buffer& out);
    void on_describe(protocol::bytes_view body, protocol::byte_buffer& out);
    void on_execute(protocol::bytes_view body, protocol::byte_buffer& out);
    void on_close(protocol::bytes_view body, protocol::byte_buffer& out);
    /// An error in an extended-query exchange: ErrorResponse, then ignore everything up to Sync.
    void extended_error(protocol::byte_buffer& out, std::string_view sqlstate, std::string_view message);
    statement* find_statement(std::string_view name) noexcept;
    const std::string* find_portal(std::string_view name) const noexcept;

    const stub_settings* settings_;
    std::vector<statement> statements_; ///< few per session; a vector beats a map here
    std::vector<std::string> portals_;  ///< portal names (all portals answer the same row)
    copy_out_job copy_out_;
    bool skip_until_sync_ = false;
    bool copy_in_ = false;
    std::uint64_t copy_in_start_ = 0; ///< messages_seen when the COPY FROM STDIN began
};

} // namespace patroxy::bench
