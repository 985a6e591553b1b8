// Incremental framing of regular messages for the relay. The state is the partial header and the
// number of body bytes still to come, so a chunk may end at any byte, header included.
#include "protocol/message_scanner.hpp"

#include "protocol/errors.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace patroxy::protocol {

namespace {
constexpr std::size_t header_length = 5; // type byte + int32 length
constexpr std::uint32_t length_word_size = 4;
} // namespace

message_scanner::message_scanner(message_type_set reported, std::uint32_t max_message_length) noexcept
    : reported_(reported), max_length_(max_message_length)
{
}

scan_result message_scanner::scan(bytes_view chunk) noexcept
{
    scan_result result;
    if (error_) {
        result.error = error_;
        return result;
    }
    while (result.consumed < chunk.size()) {
        const bytes_view rest = chunk.subspan(result.consumed);
        const bool in_header = header_have_ < header_length;
        result.consumed += in_header ? take_header(rest) : take_body(rest);
        if (error_) {
            result.error = error_;
            return result;
        }
        // Header in and no body left: the message just ended (at once, when its body is empty).
        if (header_have_ == header_length && body_left_ == 0) {
            const bool reported = reported_.test(std::to_integer<unsigned char>(header_[0]));
            scanned_message message = finish_message();
            if (reported) {
                result.has_message = true;
                result.message = message;
                return result;
            }
        }
    }
    return result;
}

/// Collects header bytes; once all five are in, validates the length and sets up the body.
std::size_t message_scanner::take_header(bytes_view chunk) noexcept
{
    const std::size_t n = std::min(header_length - header_have_, chunk.size());
    std::memcpy(header_.data() + header_have_, chunk.data(), n);
    header_have_ += n;
    if (header_have_ < header_length)
        return n;

    // Validate before the length is used for anything: it comes straight from the peer.
    const std::uint32_t length = read_u32(bytes_view(header_).subspan(1));
    if (length < length_word_size) {
        error_ = protocol_errc::message_length_too_small;
        return n;
    }
    if (length > max_length_) {
        error_ = protocol_errc::message_too_large;
        return n;
    }
    body_length_ = length - length_word_size;
    body_left_ = body_length_;
    body_have_ = 0;
    whole_body_ = {};
    large_body_.reset(); // the previous message's, handed out until this call
    capturing_ = reported_.test(std::to_integer<unsigned char>(header_[0])) && body_length_ <= capture_limit;
    return n;
}

/// Goes over body bytes, keeping them only when the body is being captured: in place when this
/// chunk holds all of it, else copied for reassembly.
std::size_t message_scanner::take_body(bytes_view chunk) noexcept
{
    const std::size_t n = std::min<std::size_t>(body_left_, chunk.size());
    if (capturing_) {
        if (body_have_ == 0 && n == body_length_) {
            whole_body_ = chunk.first(n);
        } else if (std::byte* storage = reassembly_storage()) {
            std::memcpy(storage + body_have_, chunk.data(), n);
        } else {
            capturing_ = false; // out of memory: reported as truncated, the relay goes on
        }
        body_have_ += n;
    }
    body_left_ -= static_cast<std::uint32_t>(n);
    return n;
}

std::byte* message_scanner::reassembly_storage() noexcept
{
    if (body_length_ <= small_body_.size()) return small_body_.data();
    if (!large_body_) large_body_.reset(new (std::nothrow) std::byte[body_length_]);
    return large_body_.get();
}

/// Closes the current message and returns it (meaningful only for reported types).
scanned_message message_scanner::finish_message() noexcept
{
    scanned_message message;
    message.type = static_cast<char>(header_[0]);
    message.body_length = body_length_;
    message.truncated = !capturing_;
    if (capturing_) message.body = whole_body_.empty() ? bytes_view(reassembly_storage(), body_have_) : whole_body_;
    header_have_ = 0;
    capturing_ = false;
    ++messages_seen_;
    return message;
}

} // namespace patroxy::protocol
