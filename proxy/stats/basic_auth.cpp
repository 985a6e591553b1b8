// Basic authentication: a strict base64 decoder (the input comes from any client, so every byte
// is checked before it is used as an index) and constant-time comparison.
#include "proxy/stats/basic_auth.hpp"

#include "protocol/http/field_text.hpp"

#include <crypt.h>

#include <array>
#include <cstdint>
#include <memory>

namespace patroxy::proxy::stats {

namespace http = protocol::http;
namespace {

constexpr std::uint8_t invalid = 0xff;

/// Byte -> 6-bit value; `invalid` for every byte outside the alphabet, '=' included.
constexpr std::array<std::uint8_t, 256> make_decode_table()
{
    std::array<std::uint8_t, 256> table{};
    table.fill(invalid);
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
    return table;
}

constexpr auto decode_table = make_decode_table();

} // namespace

std::optional<std::string> base64_decode(std::string_view text)
{
    // Padding: at most two '=', only at the end, and only where they complete a 4-character group.
    std::size_t padding = 0;
    while (!text.empty() && text.back() == '=' && padding < 2) {
        text.remove_suffix(1);
        ++padding;
    }
    if (padding > 0 && (text.size() + padding) % 4 != 0) return std::nullopt;
    if (text.size() % 4 == 1) return std::nullopt; // one character carries only 6 bits

    std::string out;
    out.reserve(text.size() / 4 * 3 + 2);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (const char c : text) {
        const auto value = decode_table[static_cast<unsigned char>(c)];
        if (value == invalid) return std::nullopt;
        bits = (bits << 6) | value;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out.push_back(static_cast<char>((bits >> bit_count) & 0xffU));
        }
    }
    return out;
}

std::optional<basic_credentials> parse_basic_authorization(std::string_view field_value)
{
    constexpr std::string_view scheme = "basic";
    const auto blank = field_value.find(' ');
    if (blank == std::string_view::npos || !http::iequals(field_value.substr(0, blank), scheme))
        return std::nullopt;
    const auto decoded = base64_decode(http::trim(field_value.substr(blank + 1)));
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return basic_credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool constant_time_equal(std::string_view given, std::string_view expected) noexcept
{
    // One pass over `given`, reading `expected` cyclically, with no early exit; the length
    // comparison is folded into the same accumulator.
    unsigned diff = given.size() == expected.size() ? 0U : 1U;
    for (std::size_t i = 0; i < given.size(); ++i) {
        const auto want = expected.empty() ? 0U : static_cast<unsigned char>(expected[i % expected.size()]);
        diff |= static_cast<unsigned char>(given[i]) ^ want;
    }
    return diff == 0;
}

std::string basic_challenge(std::string_view realm)
{
    std::string out = "Basic realm=\"";
    for (const char c : realm) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) continue; // no CR/LF or other controls in a header
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

bool crypt_matches(std::string_view password, const std::string& hash)
{
    const std::string phrase(password);
    // crypt_data is about 32 kB: on the heap, not in a coroutine's frame.
    auto data = std::make_unique<crypt_data>();
    const char* computed = ::crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
    // libxcrypt fails with null (crypt_rn) or a string starting with '*' for a setting it refuses.
    const bool computed_ok = computed != nullptr && computed[0] != '*';
    const bool equal = constant_time_equal(computed_ok ? computed : "", hash);
    return computed_ok && equal && phrase.find('\0') == std::string::npos;
}

bool basic_authorized(std::string_view field_value, const basic_credentials& expected)
{
    const auto given = parse_basic_authorization(field_value);
    if (!given) return false;
    const bool user_ok = constant_time_equal(given->user, expected.user);
    const bool password_ok = expected.password_hash.empty() ? constant_time_equal(given->password, expected.password)
                                                            : crypt_matches(given->password, expected.password_hash);
    return user_ok && password_ok;
}

} // namespace patroxy::proxy::stats
