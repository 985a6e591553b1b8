// AuthenticationSASL rewriting and SASLInitialResponse reading (protocol/sasl.hpp).
#include "protocol/sasl.hpp"

#include <cstring>

namespace patroxy::protocol {
namespace {

constexpr std::size_t header_length = 5; // type byte + int32 length

/// The length word of the message at the start of `chunk` when it is complete there; 0 otherwise.
std::uint32_t complete_message_length(bytes_view chunk, char type) noexcept
{
    if (chunk.size() < header_length || chunk[0] != std::byte(type)) return 0;
    const std::uint32_t length = read_u32(chunk.subspan(1));
    if (length < 4 || chunk.size() - 1 < length) return 0;
    return length;
}

void write_u32(std::byte* at, std::uint32_t v) noexcept
{
    at[0] = std::byte(v >> 24);
    at[1] = std::byte(v >> 16);
    at[2] = std::byte(v >> 8);
    at[3] = std::byte(v);
}

} // namespace

std::size_t drop_channel_binding(std::span<std::byte> chunk) noexcept
{
    const std::uint32_t length = complete_message_length(chunk, 'R');
    if (length < 8 || read_u32(chunk.subspan(header_length)) != auth_sasl_code) return chunk.size();
    // The mechanisms: C strings after the code, ended by an empty one.
    const std::size_t end = 1 + std::size_t{length};
    std::size_t at = header_length + 4;
    while (at < end) {
        const auto rest = bytes_view(chunk).subspan(at, end - at);
        std::string_view name;
        auto after = rest;
        if (!take_cstring(after, name) || name.empty()) return chunk.size(); // the list's end, or malformed
        const std::size_t taken = rest.size() - after.size();
        if (name == scram_plus_mechanism) {
            std::memmove(chunk.data() + at, chunk.data() + at + taken, chunk.size() - at - taken);
            write_u32(chunk.data() + 1, length - static_cast<std::uint32_t>(taken));
            return chunk.size() - taken;
        }
        at += taken;
    }
    return chunk.size();
}

bool starts_with_auth_sasl(bytes_view chunk) noexcept
{
    const std::uint32_t length = complete_message_length(chunk, 'R');
    return length >= 8 && read_u32(chunk.subspan(header_length)) == auth_sasl_code;
}

bool starts_incomplete_auth_sasl(bytes_view chunk) noexcept
{
    if (chunk.empty() || chunk[0] != std::byte{'R'}) return false;
    if (chunk.size() < header_length + 4) return true;
    const std::uint32_t length = read_u32(chunk.subspan(1));
    return read_u32(chunk.subspan(header_length)) == auth_sasl_code && chunk.size() - 1 < length;
}

char scram_binding_flag(bytes_view chunk) noexcept
{
    const std::uint32_t length = complete_message_length(chunk, 'p');
    if (length == 0) return 0;
    auto body = chunk.subspan(header_length, length - 4);
    std::string_view mechanism;
    if (!take_cstring(body, mechanism) || !mechanism.starts_with("SCRAM-SHA-256")) return 0;
    if (body.size() < 5) return 0;                    // int32 length of the client-first-message
    const auto first = body.subspan(4);               // "n,,n=,r=..." / "y,,..." / "p=tls-server-end-point,,..."
    if (first.size() < 2) return 0;
    const char flag = static_cast<char>(first[0]);
    return flag == 'n' || flag == 'y' || flag == 'p' ? flag : 0;
}

} // namespace patroxy::protocol
