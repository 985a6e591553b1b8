// Form and percent decoding, after the WHATWG URL standard, section 5.1
// ("application/x-www-form-urlencoded parsing").
#include "proxy/stats/form.hpp"

namespace patroxy::proxy::stats {
namespace {

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::string percent_decode(std::string_view text, bool plus_is_space)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+' && plus_is_space) {
            out.push_back(' ');
            continue;
        }
        const int high = c == '%' && i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
        const int low = high >= 0 ? hex_value(text[i + 2]) : -1;
        if (low < 0) {
            out.push_back(c);
            continue;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

form parse_form(std::string_view text)
{
    form pairs;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const auto element = text.substr(0, amp);
        if (!element.empty()) {
            const auto eq = element.find('=');
            const auto name = element.substr(0, eq);
            const auto value = eq == std::string_view::npos ? std::string_view{} : element.substr(eq + 1);
            pairs.emplace_back(percent_decode(name, true), percent_decode(value, true));
        }
        if (amp == std::string_view::npos) break;
        text.remove_prefix(amp + 1);
    }
    return pairs;
}

std::optional<std::string> form_value(const form& pairs, std::string_view key)
{
    for (const auto& [name, value] : pairs)
        if (name == key) return value;
    return std::nullopt;
}

} // namespace patroxy::proxy::stats
