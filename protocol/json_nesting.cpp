// The bracket count of json_nesting.hpp: strings are skipped with their escapes, so a '[' inside
// "a[b" does not count and an escaped quote does not end the string.
#include "protocol/json_nesting.hpp"

namespace patroxy::protocol {

std::size_t json_nesting_depth(std::string_view text, std::size_t limit) noexcept
{
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        switch (c) {
        case '"': in_string = true; break;
        case '[':
        case '{':
            if (++depth > deepest) deepest = depth;
            if (deepest > limit) return limit + 1;
            break;
        case ']':
        case '}':
            if (depth > 0) --depth; // unbalanced: the parser says where
            break;
        default: break;
        }
    }
    return deepest;
}

} // namespace patroxy::protocol
