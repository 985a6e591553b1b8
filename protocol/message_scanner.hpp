// Incremental framing of regular messages (1-byte type + int32 length) for a relay: bytes pass
// through untouched in chunks of any size; the scanner only follows the headers, skips bodies,
// and hands out the small bodies of the message types its owner asked for. A body that one chunk
// holds whole is handed out in place; a split one is reassembled, in a few inline bytes when it
// is as small as a ReadyForQuery, else in a block allocated for that message alone (a
// protocol-3.2 BackendKeyData cut by a chunk boundary: once per session at most). A session
// carries two scanners for its whole life, so they keep no capture buffer of their own.
#pragma once

#include "protocol/bytes.hpp"

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>

namespace patroxy::protocol {

/// Which message types a scanner reports, by their type byte.
using message_type_set = std::bitset<256>;

/// A message the scanner has seen completely.
struct scanned_message {
    char type = 0;
    std::uint32_t body_length = 0; ///< declared length minus the 4 bytes of the length word
    bytes_view body;               ///< valid until the next scan() while its chunk lives; empty if truncated
    bool truncated = false;        ///< body longer than the capture limit, so not copied
};

/// What one scan() call did.
struct scan_result {
    std::size_t consumed = 0;      ///< bytes of the chunk the scanner went through
    bool has_message = false;      ///< a reported type completed within `consumed`
    scanned_message message;
    std::error_code error;         ///< set => the stream is broken; stop relaying it
};

class message_scanner {
public:
    /// Largest body copied out for reporting; longer bodies are reported as truncated. The relay
    /// reads BackendKeyData (a 4-byte process id and a key of up to 256 bytes since protocol 3.2)
    /// and ReadyForQuery (1 byte); every session carries two scanners, so it stops there.
    static constexpr std::size_t capture_limit = 4 + 256;

    /// `max_message_length` caps the declared length (length word included).
    message_scanner(message_type_set reported, std::uint32_t max_message_length) noexcept;

    /// Goes through `chunk` until it ends, a reported message completes, or an error occurs.
    /// Call again with the rest of the chunk (`chunk.subspan(consumed)`) until it is empty.
    /// With a message, `consumed` ends exactly at that message's last byte. With an error,
    /// `consumed` ends at the offending header's last byte, and every later call returns the
    /// same error with `consumed == 0`.
    [[nodiscard]] scan_result scan(bytes_view chunk) noexcept;

    /// True between messages: everything scanned so far ends exactly at a message end.
    /// False once scan() has returned an error.
    bool at_message_boundary() const noexcept { return header_have_ == 0 && body_left_ == 0; }

    /// Number of complete messages seen (all types).
    std::uint64_t messages_seen() const noexcept { return messages_seen_; }

private:
    std::size_t take_header(bytes_view chunk) noexcept;
    std::size_t take_body(bytes_view chunk) noexcept;
    scanned_message finish_message() noexcept;

    /// Where a split body is reassembled; nullptr when no memory could be had.
    [[nodiscard]] std::byte* reassembly_storage() noexcept;

    message_type_set reported_;
    std::uint32_t max_length_;
    std::array<std::byte, 5> header_{};
    std::size_t header_have_ = 0;
    std::uint32_t body_left_ = 0;   ///< bytes of the current body still to come
    std::uint32_t body_length_ = 0; ///< declared body length of the current message
    bool capturing_ = false;
    std::size_t body_have_ = 0;
    bytes_view whole_body_;                      ///< the body in the caller's chunk, when it held all of it
    std::array<std::byte, 8> small_body_{};      ///< a split body of up to 8 bytes
    std::unique_ptr<std::byte[]> large_body_;    ///< a longer split body, until the next message
    std::uint64_t messages_seen_ = 0;
    std::error_code error_;         ///< sticky: once the framing is lost it never comes back
};

} // namespace patroxy::protocol
