// Decoders for the backend messages patroxy acts on, and builders for the ones it sends itself.
// PostgreSQL docs, "Message Formats" (protocol-message-formats.html).
#pragma once

#include "protocol/bytes.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace patroxy::protocol {

/// Backend message type bytes patroxy cares about.
namespace backend_type {
inline constexpr char authentication = 'R';
inline constexpr char backend_key_data = 'K';
inline constexpr char error_response = 'E';
inline constexpr char notice_response = 'N';
inline constexpr char parameter_status = 'S';
inline constexpr char ready_for_query = 'Z';
} // namespace backend_type

/// Frontend message type bytes patroxy cares about.
namespace frontend_type {
inline constexpr char terminate = 'X';
inline constexpr char query = 'Q';
} // namespace frontend_type

/// Single-byte answers to SSLRequest / GSSENCRequest.
inline constexpr std::byte encryption_accepted{'S'};
inline constexpr std::byte encryption_refused{'N'};

/// BackendKeyData: process id and secret key (4 bytes up to protocol 3.1, up to 256 from 3.2).
struct backend_key_data {
    std::int32_t process_id = 0;
    std::string secret_key;
};

/// ReadyForQuery transaction status.
enum class transaction_status : char {
    idle = 'I',           ///< not in a transaction block
    in_transaction = 'T', ///< in a transaction block
    failed = 'E',         ///< in a failed transaction block
};

/// ParameterStatus: a run-time parameter the server reports (server_version, TimeZone, ...).
struct parameter_status {
    std::string_view name;  ///< views into the decoded body
    std::string_view value;
};

/// The fields of an ErrorResponse/NoticeResponse patroxy reads or writes.
struct error_fields {
    std::string severity;  ///< 'S' (localized) and 'V' (never localized); ERROR, FATAL, ...
    std::string sqlstate;  ///< 'C', five characters
    std::string message;   ///< 'M'
    std::string detail;    ///< 'D', optional
    std::string hint;      ///< 'H', optional
};

// The decoders take a message body (what follows the 5-byte header) and leave `out` untouched
// when they return an error (protocol_errc::malformed_message).

/// BackendKeyData ('K'): int32 process id, then a 4..256 byte secret key filling the body.
[[nodiscard]] std::error_code decode_backend_key_data(bytes_view body, backend_key_data& out);
/// ReadyForQuery ('Z'): exactly one status byte, 'I', 'T' or 'E'.
[[nodiscard]] std::error_code decode_ready_for_query(bytes_view body, transaction_status& out) noexcept;
/// ParameterStatus ('S'): name and value C strings filling the body; `out` views into `body`.
[[nodiscard]] std::error_code decode_parameter_status(bytes_view body, parameter_status& out) noexcept;
/// ErrorResponse ('E') or NoticeResponse ('N'): fields of one type byte and a C string, ended by a
/// zero byte that must be the last one. Severity prefers 'V' over the localized 'S'; fields other
/// than S/V/C/M/D/H are skipped.
[[nodiscard]] std::error_code decode_error_response(bytes_view body, error_fields& out);

/// Appends a complete ErrorResponse message (type byte, length, fields, terminator) to `out`:
/// S and V (both the severity), C, M, then D and H only when non-empty. A NUL inside a value
/// cuts the value there, since the wire format cannot carry it.
void append_error_response(byte_buffer& out, const error_fields& fields);

/// A complete ErrorResponse message.
[[nodiscard]] byte_buffer build_error_response(const error_fields& fields);

/// Readable name of a message type byte per direction ("DataRow", "Query", ...), "unknown" otherwise.
std::string_view backend_message_name(char type) noexcept;
std::string_view frontend_message_name(char type) noexcept;

} // namespace patroxy::protocol
