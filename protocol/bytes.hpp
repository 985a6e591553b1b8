// Byte views and buffers shared by every codec function: input arrives as a view into
// someone else's buffer, output is appended to a caller-owned buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace patroxy::protocol {

using bytes_view = std::span<const std::byte>;
using byte_buffer = std::vector<std::byte>;

/// Views the characters of a string as bytes (no copy).
inline bytes_view as_bytes(std::string_view s) noexcept
{
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy); PostgreSQL strings are bytes in the client encoding.
inline std::string_view as_chars(bytes_view b) noexcept
{
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Splits the NUL-terminated string off the front of `b`: `out` gets the characters before the
/// NUL and `b` moves past it. Returns false, leaving both untouched, when `b` holds no NUL.
inline bool take_cstring(bytes_view& b, std::string_view& out) noexcept
{
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (b[i] == std::byte{0}) {
            out = as_chars(b.first(i));
            b = b.subspan(i + 1);
            return true;
        }
    }
    return false;
}

/// Network-order (big-endian) integer readers; the caller guarantees enough bytes.
inline std::uint32_t read_u32(bytes_view b) noexcept
{
    return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
           std::uint32_t(b[3]);
}
inline std::int32_t read_i32(bytes_view b) noexcept { return static_cast<std::int32_t>(read_u32(b)); }

/// Network-order writers appending to a buffer.
inline void append_u32(byte_buffer& out, std::uint32_t v)
{
    out.push_back(std::byte(v >> 24));
    out.push_back(std::byte(v >> 16));
    out.push_back(std::byte(v >> 8));
    out.push_back(std::byte(v));
}
inline void append_i32(byte_buffer& out, std::int32_t v) { append_u32(out, static_cast<std::uint32_t>(v)); }

} // namespace patroxy::protocol
