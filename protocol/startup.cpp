// Decoding of the first packet a client sends. The rules follow PostgreSQL's own
// ProcessStartupPacket (backend/tcop/backend_startup.c in 17, postmaster.c before): patroxy
// refuses what the server would refuse as malformed, and forwards the rest untouched.
#include "protocol/startup.hpp"

#include "protocol/errors.hpp"

namespace patroxy::protocol {

namespace {

/// Bytes before a first packet's body: the length word and the version or request code.
constexpr std::size_t first_packet_header_length = 8;
constexpr std::size_t cancel_fixed_length = 12; // length, code, process id
constexpr std::size_t cancel_key_min_length = 4;

first_packet_result failure(protocol_errc e) { return {first_packet{}, make_error_code(e)}; }

first_packet_result decode_cancel(bytes_view packet)
{
    // Protocol 3.2 made the key variable-length; the packet length is the only thing that says
    // how long it is.
    const std::size_t size = packet.size();
    if (size < cancel_fixed_length + cancel_key_min_length ||
        size > cancel_fixed_length + cancel_key_max_length)
        return failure(protocol_errc::malformed_cancel_request);
    cancel_request request;
    request.process_id = read_i32(packet.subspan(first_packet_header_length));
    request.secret_key = std::string(as_chars(packet.subspan(cancel_fixed_length)));
    return {std::move(request), {}};
}

/// Parameters are name/value C-string pairs ended by an empty name, which must be the very last
/// byte: PostgreSQL says "invalid startup packet layout: expected terminator as last byte".
std::error_code decode_parameters(bytes_view body, startup_message& out)
{
    while (!body.empty() && body.front() != std::byte{0}) {
        std::string_view name;
        std::string_view value;
        if (!take_cstring(body, name) || !take_cstring(body, value))
            return protocol_errc::malformed_startup;
        out.parameters.emplace_back(name, value);
    }
    if (body.size() != 1)
        return protocol_errc::malformed_startup;
    // PostgreSQL refuses before authentication: "no PostgreSQL user name specified in startup packet".
    if (out.user().empty())
        return protocol_errc::malformed_startup;
    return {};
}

first_packet_result decode_startup(bytes_view packet, std::uint32_t version)
{
    startup_message message;
    message.major = static_cast<std::uint16_t>(version >> 16);
    message.minor = static_cast<std::uint16_t>(version & 0xffffu);
    // Any 3.x goes through: the server answers a minor it does not know with
    // NegotiateProtocolVersion, which the relay forwards. 2.0 and older are gone since PG 14.
    if (message.major != 3)
        return failure(protocol_errc::unsupported_protocol_version);
    if (auto ec = decode_parameters(packet.subspan(first_packet_header_length), message))
        return {first_packet{}, ec};
    return {std::move(message), {}};
}

} // namespace

std::string_view startup_message::parameter(std::string_view name) const noexcept
{
    for (const auto& [key, value] : parameters)
        if (key == name)
            return value;
    return {};
}

std::string_view startup_message::database() const noexcept
{
    const std::string_view db = parameter("database");
    return db.empty() ? user() : db;
}

std::error_code check_startup_length(std::uint32_t length) noexcept
{
    if (length < startup_min_length || length > startup_max_length)
        return protocol_errc::startup_length_out_of_range;
    return {};
}

first_packet_result decode_first_packet(bytes_view packet)
{
    // The caller should have checked the length word, but the span is what we actually read, so
    // both must agree before any offset is trusted.
    if (packet.size() < first_packet_header_length)
        return failure(protocol_errc::startup_length_out_of_range);
    const std::uint32_t declared = read_u32(packet);
    if (auto ec = check_startup_length(declared))
        return {first_packet{}, ec};
    if (declared != packet.size())
        return failure(protocol_errc::malformed_startup);

    const std::uint32_t code = read_u32(packet.subspan(4));
    switch (code) {
    case cancel_request_code:
        return decode_cancel(packet);
    case ssl_request_code:
    case gssenc_request_code:
        if (packet.size() != first_packet_header_length)
            return failure(protocol_errc::malformed_special_request);
        if (code == ssl_request_code)
            return {ssl_request{}, {}};
        return {gssenc_request{}, {}};
    default:
        return decode_startup(packet, code);
    }
}

} // namespace patroxy::protocol
