// Shared by the scanner tests: drive a message_scanner over a list of chunks the way the relay
// does, and record what it reported, copying bodies out before the next scan() reuses them; and
// the whole-buffer walk it must agree with.
#pragma once

#include "protocol/errors.hpp"
#include "protocol/message_scanner.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace patroxy::test {

/// One reported message, with its body copied out.
struct seen_message {
    char type = 0;
    std::uint32_t body_length = 0;
    protocol::byte_buffer body;
    bool truncated = false;
    std::size_t end_offset = 0; ///< stream offset just past the message

    bool operator==(const seen_message&) const = default;
};

/// Everything a run over a whole stream produced.
struct scan_run {
    std::vector<seen_message> messages;
    std::size_t consumed = 0; ///< sum of all `consumed` values
    std::error_code error;
    bool boundary_at_end = false;
    std::uint64_t seen = 0;
};

/// Feeds `chunks` in order; stops at the first error like the relay would.
inline scan_run scan_chunks(protocol::message_scanner& scanner, const std::vector<protocol::bytes_view>& chunks)
{
    scan_run run;
    for (protocol::bytes_view chunk : chunks) {
        while (!chunk.empty()) {
            const protocol::scan_result r = scanner.scan(chunk);
            run.consumed += r.consumed;
            if (r.error) {
                run.error = r.error;
                run.boundary_at_end = scanner.at_message_boundary();
                run.seen = scanner.messages_seen();
                return run;
            }
            if (r.has_message) {
                const auto& m = r.message;
                protocol::byte_buffer body(m.body.begin(), m.body.end());
                run.messages.push_back({m.type, m.body_length, std::move(body), m.truncated, run.consumed});
            }
            chunk = chunk.subspan(r.consumed);
        }
    }
    run.boundary_at_end = scanner.at_message_boundary();
    run.seen = scanner.messages_seen();
    return run;
}

/// Splits `stream` at the given offsets (ascending, each within the stream).
inline std::vector<protocol::bytes_view> split_at(const protocol::byte_buffer& stream, std::vector<std::size_t> cuts)
{
    std::vector<protocol::bytes_view> chunks;
    std::size_t from = 0;
    cuts.push_back(stream.size());
    for (std::size_t cut : cuts) {
        chunks.push_back(protocol::bytes_view(stream).subspan(from, cut - from));
        from = cut;
    }
    return chunks;
}

/// Whole-buffer reference for the scanner: walks complete headers only (the unit fuzz test and
/// tests/fuzz compare the scanner against it).
inline scan_run reference_scan(const protocol::byte_buffer& stream, const protocol::message_type_set& reported, std::uint32_t max_length)
{
    scan_run run;
    std::size_t pos = 0;
    for (;;) {
        if (stream.size() - pos < 5) {
            run.consumed = stream.size();
            run.boundary_at_end = pos == stream.size();
            return run;
        }
        const std::uint32_t length = protocol::read_u32(protocol::bytes_view(stream).subspan(pos + 1));
        if (length < 4 || length > max_length) {
            run.error = length < 4 ? protocol::protocol_errc::message_length_too_small : protocol::protocol_errc::message_too_large;
            run.consumed = pos + 5;
            return run;
        }
        const std::size_t end = pos + 1 + length;
        if (end > stream.size()) {
            run.consumed = stream.size();
            return run;
        }
        ++run.seen;
        const auto type = static_cast<unsigned char>(stream[pos]);
        if (reported.test(type)) {
            const std::size_t body_length = length - 4;
            const bool truncated = body_length > protocol::message_scanner::capture_limit;
            protocol::byte_buffer body;
            if (!truncated)
                body.assign(stream.begin() + static_cast<std::ptrdiff_t>(pos + 5),
                            stream.begin() + static_cast<std::ptrdiff_t>(end));
            run.messages.push_back(
                {static_cast<char>(type), static_cast<std::uint32_t>(body_length), body, truncated, end});
        }
        pos = end;
    }
}

/// A message_type_set holding the given type bytes.
inline protocol::message_type_set types(std::string_view codes)
{
    protocol::message_type_set set;
    for (char c : codes)
        set.set(static_cast<unsigned char>(c));
    return set;
}

} // namespace patroxy::test
