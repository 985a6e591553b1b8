// Typed errors for wire input. The codec never throws on bytes from the network: it returns one
// of these through std::error_code, so protocol errors travel the same channel as asio's.
#pragma once

#include <system_error>

namespace patroxy::protocol {

enum class protocol_errc {
    startup_length_out_of_range = 1, ///< first packet length outside 8..10000
    unsupported_protocol_version,    ///< not 3.x and not one of the special request codes
    malformed_startup,               ///< parameters not NUL-terminated pairs, missing "user", ...
    malformed_cancel_request,        ///< wrong length for a CancelRequest (key must be 4..256 bytes)
    malformed_special_request,       ///< SSLRequest / GSSENCRequest with a length other than 8
    message_length_too_small,        ///< a regular message declares a length below 4
    message_too_large,               ///< a regular message declares a length over the configured maximum
    malformed_message,               ///< a message body does not have the shape its type requires
};

const std::error_category& protocol_category() noexcept;

inline std::error_code make_error_code(protocol_errc e) noexcept
{
    return {static_cast<int>(e), protocol_category()};
}

} // namespace patroxy::protocol

template <>
struct std::is_error_code_enum<patroxy::protocol::protocol_errc> : std::true_type {};
