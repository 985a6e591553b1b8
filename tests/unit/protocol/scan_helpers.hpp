// Shared by the scanner tests: drive a message_scanner over a list of chunks the way the relay
// does, and record what it reported, copying bodies out before the next scan() reuses them.
#pragma once

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

/// A message_type_set holding the given type bytes.
inline protocol::message_type_set types(std::string_view codes)
{
    protocol::message_type_set set;
    for (char c : codes)
        set.set(static_cast<unsigned char>(c));
    return set;
}

} // namespace patroxy::test
