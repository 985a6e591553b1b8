// SASL authentication messages patroxy reads or rewrites on a session whose TLS it terminates.
// PostgreSQL docs, "SASL Authentication" (sasl-authentication.html) and "Message Formats".
//
// Channel binding (SCRAM-SHA-256-PLUS, tls-server-end-point) binds the password proof to the
// certificate of the TLS connection the client sees. Through a terminating proxy that is
// patroxy's certificate, never the server's, so the binding cannot hold: patroxy takes the PLUS
// mechanism out of the server's list and the client picks plain SCRAM-SHA-256.
#pragma once

#include "protocol/bytes.hpp"

#include <cstddef>
#include <span>
#include <string_view>

namespace patroxy::protocol {

inline constexpr std::uint32_t auth_sasl_code = 10; ///< AuthenticationSASL
inline constexpr std::string_view scram_plus_mechanism = "SCRAM-SHA-256-PLUS";

/// When `chunk` opens with a complete AuthenticationSASL message that lists SCRAM-SHA-256-PLUS,
/// removes that mechanism in place (the message shrinks, its length word follows, the bytes after
/// it move up) and returns the chunk's new size; otherwise returns chunk.size() unchanged.
[[nodiscard]] std::size_t drop_channel_binding(std::span<std::byte> chunk) noexcept;

/// Whether `chunk` opens with a complete AuthenticationSASL message.
[[nodiscard]] bool starts_with_auth_sasl(bytes_view chunk) noexcept;

/// Whether `chunk` opens with an AuthenticationSASL message that is not complete in it (the
/// caller reads more before drop_channel_binding() can act).
[[nodiscard]] bool starts_incomplete_auth_sasl(bytes_view chunk) noexcept;

/// The GS2 channel-binding flag of a SASLInitialResponse ('p' message) for SCRAM-SHA-256:
/// 'n' (the client does not support binding), 'y' (it does, and thinks the server does not),
/// 'p' (it binds); 0 when `chunk` does not open with a complete, well-formed one.
[[nodiscard]] char scram_binding_flag(bytes_view chunk) noexcept;

/// TLS record type of a handshake (RFC 8446 5.1): a connection that opens with it is a direct
/// TLS client (PostgreSQL 17's sslnegotiation=direct), never a PostgreSQL packet, whose first
/// byte is the high byte of a length of at most 10000.
inline constexpr std::byte tls_handshake_record{0x16};

} // namespace patroxy::protocol
