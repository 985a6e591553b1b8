// Builders of PostgreSQL wire messages for tests, written from the protocol docs and independent
// of the codec under test (only the byte_buffer type is shared), so a codec bug cannot cancel out.
#pragma once

#include "protocol/bytes.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::test::pg_bytes {

using protocol::byte_buffer;

/// Startup parameters in the order they go on the wire.
using parameter_list = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::uint32_t cancel_code = (1234u << 16) | 5678u;
inline constexpr std::uint32_t ssl_code = (1234u << 16) | 5679u;
inline constexpr std::uint32_t gssenc_code = (1234u << 16) | 5680u;

/// The characters of `s` as bytes, no terminator.
inline byte_buffer bytes(std::string_view s)
{
    byte_buffer out;
    for (char c : s)
        out.push_back(static_cast<std::byte>(c));
    return out;
}

/// Bytes from a hex string; spaces are ignored ("00 00 00 08" == "00000008").
inline byte_buffer from_hex(std::string_view hex)
{
    auto nibble = [](char c) -> unsigned {
        if (c >= '0' && c <= '9')
            return static_cast<unsigned>(c - '0');
        if (c >= 'a' && c <= 'f')
            return static_cast<unsigned>(c - 'a' + 10);
        return static_cast<unsigned>(c - 'A' + 10);
    };
    byte_buffer out;
    unsigned pending = 0;
    bool half = false;
    for (char c : hex) {
        if (c == ' ')
            continue;
        pending = (pending << 4) | nibble(c);
        if (half)
            out.push_back(static_cast<std::byte>(pending & 0xffu));
        half = !half;
    }
    return out;
}

inline void put_u8(byte_buffer& out, std::uint8_t v) { out.push_back(static_cast<std::byte>(v)); }

inline void put_u16(byte_buffer& out, std::uint16_t v)
{
    put_u8(out, static_cast<std::uint8_t>(v >> 8));
    put_u8(out, static_cast<std::uint8_t>(v));
}

inline void put_u32(byte_buffer& out, std::uint32_t v)
{
    put_u16(out, static_cast<std::uint16_t>(v >> 16));
    put_u16(out, static_cast<std::uint16_t>(v));
}

inline void put_i32(byte_buffer& out, std::int32_t v) { put_u32(out, static_cast<std::uint32_t>(v)); }

/// Raw bytes, no terminator.
inline void put_bytes(byte_buffer& out, std::string_view s)
{
    for (char c : s)
        out.push_back(static_cast<std::byte>(c));
}

/// A C string: the characters, then a NUL.
inline void put_cstring(byte_buffer& out, std::string_view s)
{
    put_bytes(out, s);
    put_u8(out, 0);
}

/// All buffers one after the other, as they would arrive on one socket.
inline byte_buffer concat(std::initializer_list<byte_buffer> parts)
{
    byte_buffer out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// --- First packets (no type byte: int32 length including itself, then int32 code) ---

/// A first packet with any code and body; the length word is computed.
inline byte_buffer first_packet(std::uint32_t code, const byte_buffer& body = {})
{
    byte_buffer out;
    put_u32(out, static_cast<std::uint32_t>(8 + body.size()));
    put_u32(out, code);
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

/// A first packet whose length word says `declared` whatever the real size is.
inline byte_buffer first_packet_with_length(std::uint32_t declared, std::uint32_t code,
                                            const byte_buffer& body = {})
{
    byte_buffer out;
    put_u32(out, declared);
    put_u32(out, code);
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

/// The body of a StartupMessage: name/value C-string pairs and the final NUL.
inline byte_buffer startup_parameters(const parameter_list& params)
{
    byte_buffer body;
    for (const auto& [name, value] : params) {
        put_cstring(body, name);
        put_cstring(body, value);
    }
    put_u8(body, 0);
    return body;
}

/// StartupMessage for protocol `major`.`minor`.
inline byte_buffer startup(const parameter_list& params, std::uint16_t major = 3, std::uint16_t minor = 0)
{
    return first_packet((std::uint32_t{major} << 16) | minor, startup_parameters(params));
}

inline byte_buffer ssl_request() { return first_packet(ssl_code); }
inline byte_buffer gssenc_request() { return first_packet(gssenc_code); }

/// CancelRequest with a 4-byte key (protocol 3.0/3.1).
inline byte_buffer cancel_request(std::int32_t pid, std::int32_t key)
{
    byte_buffer body;
    put_i32(body, pid);
    put_i32(body, key);
    return first_packet(cancel_code, body);
}

/// CancelRequest with a key of any length (protocol 3.2: up to 256 bytes).
inline byte_buffer cancel_request(std::int32_t pid, std::string_view key)
{
    byte_buffer body;
    put_i32(body, pid);
    put_bytes(body, key);
    return first_packet(cancel_code, body);
}

// --- Regular messages (type byte, int32 length including itself, body) ---

/// A regular message; the length word is computed.
inline byte_buffer message(char type, const byte_buffer& body = {})
{
    byte_buffer out;
    put_u8(out, static_cast<std::uint8_t>(type));
    put_u32(out, static_cast<std::uint32_t>(4 + body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

/// Only a 5-byte header declaring `length`, for oversized or undersized lengths.
inline byte_buffer header(char type, std::uint32_t length)
{
    byte_buffer out;
    put_u8(out, static_cast<std::uint8_t>(type));
    put_u32(out, length);
    return out;
}

/// The body of a regular message (everything after its 5-byte header).
inline byte_buffer body_of(const byte_buffer& msg) { return byte_buffer(msg.begin() + 5, msg.end()); }

// Frontend

inline byte_buffer query(std::string_view sql)
{
    byte_buffer body;
    put_cstring(body, sql);
    return message('Q', body);
}

inline byte_buffer terminate() { return message('X'); }
inline byte_buffer sync() { return message('S'); }

// Backend

/// AuthenticationOk.
inline byte_buffer authentication_ok()
{
    byte_buffer body;
    put_u32(body, 0);
    return message('R', body);
}

/// BackendKeyData with a 4-byte key.
inline byte_buffer backend_key_data(std::int32_t pid, std::int32_t key)
{
    byte_buffer body;
    put_i32(body, pid);
    put_i32(body, key);
    return message('K', body);
}

/// BackendKeyData with a key of any length (protocol 3.2).
inline byte_buffer backend_key_data(std::int32_t pid, std::string_view key)
{
    byte_buffer body;
    put_i32(body, pid);
    put_bytes(body, key);
    return message('K', body);
}

inline byte_buffer ready_for_query(char status)
{
    byte_buffer body;
    put_u8(body, static_cast<std::uint8_t>(status));
    return message('Z', body);
}

inline byte_buffer parameter_status(std::string_view name, std::string_view value)
{
    byte_buffer body;
    put_cstring(body, name);
    put_cstring(body, value);
    return message('S', body);
}

/// ErrorResponse/NoticeResponse fields in the order given, then the terminating NUL.
using field_list = std::vector<std::pair<char, std::string>>;

inline byte_buffer error_fields_body(const field_list& fields)
{
    byte_buffer body;
    for (const auto& [type, value] : fields) {
        put_u8(body, static_cast<std::uint8_t>(type));
        put_cstring(body, value);
    }
    put_u8(body, 0);
    return body;
}

inline byte_buffer error_response(const field_list& fields) { return message('E', error_fields_body(fields)); }
inline byte_buffer notice_response(const field_list& fields) { return message('N', error_fields_body(fields)); }

/// ErrorResponse with the fields a server always sends.
inline byte_buffer error_response(std::string_view severity, std::string_view sqlstate, std::string_view text)
{
    return error_response(field_list{{'S', std::string(severity)},
                                     {'V', std::string(severity)},
                                     {'C', std::string(sqlstate)},
                                     {'M', std::string(text)}});
}

/// DataRow; std::nullopt is SQL NULL (length -1).
inline byte_buffer data_row(const std::vector<std::optional<std::string>>& columns)
{
    byte_buffer body;
    put_u16(body, static_cast<std::uint16_t>(columns.size()));
    for (const auto& c : columns) {
        if (!c) {
            put_i32(body, -1);
            continue;
        }
        put_u32(body, static_cast<std::uint32_t>(c->size()));
        put_bytes(body, *c);
    }
    return message('D', body);
}

inline byte_buffer command_complete(std::string_view tag)
{
    byte_buffer body;
    put_cstring(body, tag);
    return message('C', body);
}

} // namespace patroxy::test::pg_bytes
