// Decoders for the few backend messages the relay acts on, the ErrorResponse builder for the
// errors patroxy sends itself, and the message-name tables used in logs.
#include "protocol/backend_messages.hpp"

#include "protocol/errors.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>

namespace patroxy::protocol {

namespace {

constexpr std::size_t key_data_pid_length = 4;
constexpr std::size_t key_min_length = 4;
constexpr std::size_t key_max_length = 256; // protocol 3.2 allows up to 256 bytes

/// Stores one ErrorResponse field. 'V' (13.0+) is never localized, so it wins over 'S'.
void store_error_field(char type, std::string_view value, bool& have_v, error_fields& out)
{
    switch (type) {
    case 'V':
        out.severity = value;
        have_v = true;
        break;
    case 'S':
        if (!have_v)
            out.severity = value;
        break;
    case 'C': out.sqlstate = value; break;
    case 'M': out.message = value; break;
    case 'D': out.detail = value; break;
    case 'H': out.hint = value; break;
    default: break; // position, context, file, line, ...: not needed by the proxy
    }
}

/// Appends one field: type byte, then the value as a C string. A value cannot carry a NUL on
/// the wire, so it is cut there rather than letting it end the field early and shift the rest.
void append_field(byte_buffer& out, char type, std::string_view value)
{
    value = value.substr(0, value.find('\0'));
    out.push_back(static_cast<std::byte>(type));
    const bytes_view b = as_bytes(value);
    out.insert(out.end(), b.begin(), b.end());
    out.push_back(std::byte{0});
}

struct message_name {
    char code;
    std::string_view name;
};

// PostgreSQL 17 docs, "Message Formats" (protocol-message-formats.html), by sender.
constexpr message_name backend_messages[] = {
    {'R', "Authentication"}, // AuthenticationOk, ...SASL, ...MD5Password: the body says which
    {'K', "BackendKeyData"},
    {'2', "BindComplete"},
    {'3', "CloseComplete"},
    {'C', "CommandComplete"},
    {'d', "CopyData"},
    {'c', "CopyDone"},
    {'G', "CopyInResponse"},
    {'H', "CopyOutResponse"},
    {'W', "CopyBothResponse"},
    {'D', "DataRow"},
    {'I', "EmptyQueryResponse"},
    {'E', "ErrorResponse"},
    {'V', "FunctionCallResponse"},
    {'v', "NegotiateProtocolVersion"},
    {'n', "NoData"},
    {'N', "NoticeResponse"},
    {'A', "NotificationResponse"},
    {'t', "ParameterDescription"},
    {'S', "ParameterStatus"},
    {'1', "ParseComplete"},
    {'s', "PortalSuspended"},
    {'Z', "ReadyForQuery"},
    {'T', "RowDescription"},
};

constexpr message_name frontend_messages[] = {
    {'B', "Bind"},
    {'C', "Close"},
    {'d', "CopyData"},
    {'c', "CopyDone"},
    {'f', "CopyFail"},
    {'D', "Describe"},
    {'E', "Execute"},
    {'H', "Flush"},
    {'F', "FunctionCall"},
    // One type byte for four messages; only the authentication exchange tells them apart.
    {'p', "PasswordMessage/GSSResponse/SASLInitialResponse/SASLResponse"},
    {'P', "Parse"},
    {'Q', "Query"},
    {'S', "Sync"},
    {'X', "Terminate"},
};

using name_index = std::array<std::string_view, 256>;

/// Expands a table into a lookup by type byte, at compile time, so naming a message is one load.
template <std::size_t N>
constexpr name_index make_index(const message_name (&table)[N])
{
    name_index index{};
    index.fill("unknown");
    for (const auto& entry : table)
        index[static_cast<unsigned char>(entry.code)] = entry.name;
    return index;
}

constexpr name_index backend_names = make_index(backend_messages);
constexpr name_index frontend_names = make_index(frontend_messages);

} // namespace

std::error_code decode_backend_key_data(bytes_view body, backend_key_data& out)
{
    if (body.size() < key_data_pid_length + key_min_length ||
        body.size() > key_data_pid_length + key_max_length)
        return protocol_errc::malformed_message;
    out.process_id = read_i32(body);
    out.secret_key = std::string(as_chars(body.subspan(key_data_pid_length)));
    return {};
}

std::error_code decode_ready_for_query(bytes_view body, transaction_status& out) noexcept
{
    if (body.size() != 1)
        return protocol_errc::malformed_message;
    const char status = static_cast<char>(body[0]);
    switch (status) {
    case 'I':
    case 'T':
    case 'E':
        out = static_cast<transaction_status>(status);
        return {};
    default:
        return protocol_errc::malformed_message;
    }
}

std::error_code decode_parameter_status(bytes_view body, parameter_status& out) noexcept
{
    parameter_status decoded;
    if (!take_cstring(body, decoded.name) || !take_cstring(body, decoded.value) || !body.empty())
        return protocol_errc::malformed_message;
    out = decoded;
    return {};
}

std::error_code decode_error_response(bytes_view body, error_fields& out)
{
    error_fields decoded;
    bool have_v = false;
    // Fields until a zero type byte, which must end the body (libpq checks the length the same way).
    while (!body.empty() && body.front() != std::byte{0}) {
        const char type = static_cast<char>(body.front());
        body = body.subspan(1);
        std::string_view value;
        if (!take_cstring(body, value))
            return protocol_errc::malformed_message;
        store_error_field(type, value, have_v, decoded);
    }
    if (body.size() != 1)
        return protocol_errc::malformed_message;
    out = std::move(decoded);
    return {};
}

void append_error_response(byte_buffer& out, const error_fields& fields)
{
    const std::size_t start = out.size();
    out.push_back(static_cast<std::byte>(backend_type::error_response));
    append_u32(out, 0); // patched below, once the fields are in
    append_field(out, 'S', fields.severity);
    append_field(out, 'V', fields.severity);
    append_field(out, 'C', fields.sqlstate);
    append_field(out, 'M', fields.message);
    if (!fields.detail.empty())
        append_field(out, 'D', fields.detail);
    if (!fields.hint.empty())
        append_field(out, 'H', fields.hint);
    out.push_back(std::byte{0});

    // The type byte is not counted. The fields are our own strings, not wire input, so the
    // length fitting in 32 bits is an invariant.
    const std::size_t length = out.size() - start - 1;
    assert(length <= UINT32_MAX);
    const auto word = static_cast<std::uint32_t>(length);
    for (std::size_t i = 0; i < 4; ++i)
        out[start + 1 + i] = static_cast<std::byte>(word >> (24 - 8 * i));
}

byte_buffer build_error_response(const error_fields& fields)
{
    byte_buffer out;
    append_error_response(out, fields);
    return out;
}

std::string_view backend_message_name(char type) noexcept
{
    return backend_names[static_cast<unsigned char>(type)];
}

std::string_view frontend_message_name(char type) noexcept
{
    return frontend_names[static_cast<unsigned char>(type)];
}

} // namespace patroxy::protocol
