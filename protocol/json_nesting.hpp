// How deeply a JSON text nests its arrays and objects, found by a scan of the bytes before any
// parser sees them. nlohmann's parser and serializer recurse once per level, so a body such as
// 100,000 '[' (200 kB, well under the Patroni poller's 1 MiB cap) overflows the stack; the config
// reader's per-level bookkeeping grows with depth squared. Both refuse a text nested deeper than a
// bound instead. Pure: bytes in, a number out.
#pragma once

#include <cstddef>
#include <string_view>

namespace patroxy::protocol {

/// Patroni's answers nest 4 levels, patroxy's config 5; 64 leaves room for any tag value.
inline constexpr std::size_t max_json_nesting = 64;

/// The deepest nesting of '[' and '{' outside strings, counted until it exceeds `limit` (then
/// limit + 1 is returned at once). Malformed text is the parser's to report: this only counts.
[[nodiscard]] std::size_t json_nesting_depth(std::string_view text, std::size_t limit = max_json_nesting) noexcept;

/// Whether `text` nests at most `limit` levels.
[[nodiscard]] inline bool json_nesting_within(std::string_view text, std::size_t limit = max_json_nesting) noexcept
{
    return json_nesting_depth(text, limit) <= limit;
}

} // namespace patroxy::protocol
