// The first packet a client sends: StartupMessage (3.0, 3.2), SSLRequest, GSSENCRequest or
// CancelRequest. PostgreSQL docs, "Message Formats" and "Start-up" (protocol.html, 55.2.1).
#pragma once

#include "protocol/bytes.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace patroxy::protocol {

/// Length bounds for any first packet, length word included (PostgreSQL and Envoy use 10000).
inline constexpr std::uint32_t startup_min_length = 8;
inline constexpr std::uint32_t startup_max_length = 10000;

/// Request codes carried where a StartupMessage carries its protocol version.
inline constexpr std::uint32_t cancel_request_code = (1234u << 16) | 5678u;
inline constexpr std::uint32_t ssl_request_code = (1234u << 16) | 5679u;
inline constexpr std::uint32_t gssenc_request_code = (1234u << 16) | 5680u;

/// Cancel keys: 4 bytes up to protocol 3.1, up to 256 bytes from 3.2 on.
inline constexpr std::size_t cancel_key_max_length = 256;

struct ssl_request {};
struct gssenc_request {};

/// A CancelRequest: the backend's process id and its secret key (opaque bytes).
struct cancel_request {
    std::int32_t process_id = 0;
    std::string secret_key; ///< 4..256 raw bytes
};

/// A StartupMessage with its parameters in the order sent.
struct startup_message {
    std::uint16_t major = 3;
    std::uint16_t minor = 0;
    std::vector<std::pair<std::string, std::string>> parameters;

    /// The value of a parameter, or "" when absent.
    std::string_view parameter(std::string_view name) const noexcept;
    std::string_view user() const noexcept { return parameter("user"); }
    /// "database" defaults to the user name, as in PostgreSQL.
    std::string_view database() const noexcept;
    std::string_view application_name() const noexcept { return parameter("application_name"); }
};

using first_packet = std::variant<ssl_request, gssenc_request, cancel_request, startup_message>;

/// Checks the length word of a first packet (length includes itself).
[[nodiscard]] std::error_code check_startup_length(std::uint32_t length) noexcept;

/// Result of decoding a complete first packet.
struct first_packet_result {
    first_packet packet;
    std::error_code error; ///< set => packet is meaningless
};

/// Decodes a complete first packet: `packet` holds exactly the bytes the length word announces,
/// length word included. The length must already have passed check_startup_length().
[[nodiscard]] first_packet_result decode_first_packet(bytes_view packet);

} // namespace patroxy::protocol
