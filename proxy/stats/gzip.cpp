// zlib's deflate/inflate with a gzip wrapper (windowBits 16 + MAX_WBITS), fed in slices because
// zlib counts bytes in 32-bit uInt.
#include "proxy/stats/gzip.hpp"

#include "protocol/http/field_text.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>

namespace patroxy::proxy::stats {

namespace http = protocol::http;
namespace {

constexpr int gzip_window_bits = 16 + MAX_WBITS; // 16: gzip header and trailer instead of zlib's
constexpr int default_memory_level = 8;          // zlib's own default (deflateInit uses it)
constexpr std::size_t max_slice = std::numeric_limits<uInt>::max();

/// zlib wants a non-const pointer for its input even though it never writes through it.
Bytef* input_bytes(std::string_view data) noexcept
{
    return reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
}

/// Hands zlib the next slice of `rest` when it has used up the previous one.
void refill(z_stream& stream, std::string_view& rest) noexcept
{
    if (stream.avail_in != 0 || rest.empty()) return;
    const auto n = std::min(rest.size(), max_slice);
    stream.next_in = input_bytes(rest);
    stream.avail_in = static_cast<uInt>(n);
    rest.remove_prefix(n);
}

/// Whether a q parameter's value is zero ("0", "0.", "0.000"): RFC 9110 section 12.4.2.
bool zero_quality(std::string_view q) noexcept
{
    return !q.empty() && q.front() == '0' && q.find_first_not_of("0.", 1) == std::string_view::npos;
}

} // namespace

std::optional<std::string> gzip_compress(std::string_view data, int level)
{
    z_stream stream{};
    if (deflateInit2(&stream, level, Z_DEFLATED, gzip_window_bits, default_memory_level, Z_DEFAULT_STRATEGY) != Z_OK)
        return std::nullopt;
    std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
    std::string_view rest = data;
    std::size_t produced = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        refill(stream, rest);
        if (produced == out.size()) out.resize(out.size() * 2 + 64);
        const auto room = std::min(out.size() - produced, max_slice);
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        stream.avail_out = static_cast<uInt>(room);
        rc = deflate(&stream, rest.empty() ? Z_FINISH : Z_NO_FLUSH);
        produced += room - stream.avail_out;
    }
    deflateEnd(&stream);
    if (rc != Z_STREAM_END) return std::nullopt;
    out.resize(produced);
    return out;
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_output)
{
    z_stream stream{};
    if (inflateInit2(&stream, gzip_window_bits) != Z_OK) return std::nullopt;
    std::string out;
    std::array<char, 16 * 1024> buffer{};
    std::string_view rest = data;
    int rc = Z_OK;
    // Z_BUF_ERROR (no progress) can only mean a truncated member: input is refilled before
    // every call and the output buffer is emptied after it.
    while (rc == Z_OK) {
        refill(stream, rest);
        stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
        stream.avail_out = static_cast<uInt>(buffer.size());
        rc = inflate(&stream, Z_NO_FLUSH);
        const auto n = buffer.size() - stream.avail_out;
        if (out.size() + n > max_output) {
            rc = Z_MEM_ERROR;
            break;
        }
        out.append(buffer.data(), n);
    }
    const bool trailing = stream.avail_in != 0 || !rest.empty();
    inflateEnd(&stream);
    if (rc != Z_STREAM_END || trailing) return std::nullopt;
    return out;
}

bool accepts_gzip(std::string_view accept_encoding)
{
    std::optional<bool> gzip;     // set when gzip or x-gzip is named
    std::optional<bool> wildcard; // set when * is named
    http::for_each_element(accept_encoding, [&](std::string_view element) {
        const auto semicolon = element.find(';');
        const auto coding = http::trim(element.substr(0, semicolon));
        bool acceptable = true;
        auto params = semicolon == std::string_view::npos ? std::string_view{} : element.substr(semicolon + 1);
        while (!params.empty()) {
            const auto next = params.find(';');
            const auto param = http::trim(params.substr(0, next));
            if (param.size() >= 2 && http::to_lower(param[0]) == 'q' && param[1] == '=')
                acceptable = !zero_quality(http::trim(param.substr(2)));
            params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
        }
        if (http::iequals(coding, "gzip") || http::iequals(coding, "x-gzip"))
            gzip = gzip.value_or(false) || acceptable;
        else if (coding == "*")
            wildcard = acceptable;
    });
    if (gzip) return *gzip;
    return wildcard.value_or(false);
}

} // namespace patroxy::proxy::stats
