// application/x-www-form-urlencoded bodies and query strings (the stats page's admin forms):
// splitting on '&' and '=', '+' as a space, and %XX escapes, as the WHATWG URL standard's
// urlencoded parser does.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::proxy::stats {

/// Decoded name/value pairs in the order sent; a repeated name stays repeated.
using form = std::vector<std::pair<std::string, std::string>>;

/// Decodes %XX escapes (hex digits in either case). An invalid escape ('%' not followed by two hex
/// digits) is kept as it is, as browsers do, so decoding never fails. With `plus_is_space`, '+'
/// becomes a space (form encoding; not in a path).
[[nodiscard]] std::string percent_decode(std::string_view text, bool plus_is_space = false);

/// Splits "a=1&b=two+words&c" into {a,1}, {b,"two words"}, {c,""}: empty elements are skipped,
/// a name without '=' has an empty value, names and values are decoded after the split (so an
/// encoded "%26" or "%3D" is data, not a separator).
[[nodiscard]] form parse_form(std::string_view text);

/// The value of the first pair named `key`; nullopt when there is none.
[[nodiscard]] std::optional<std::string> form_value(const form& pairs, std::string_view key);

} // namespace patroxy::proxy::stats
