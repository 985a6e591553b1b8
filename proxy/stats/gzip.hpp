// gzip for the stats listener's replies (the HTML page and the JSON/CSV/metrics texts compress
// tenfold), with zlib, and the Accept-Encoding check that decides whether a client takes it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace patroxy::proxy::stats {

/// `data` as one gzip member (RFC 1952), at zlib `level` (1 fastest .. 9 smallest); nullopt only
/// when zlib fails (out of memory).
[[nodiscard]] std::optional<std::string> gzip_compress(std::string_view data, int level = 6);

/// The content of one complete gzip member; nullopt when the input is not gzip, is truncated or
/// corrupt (CRC), has bytes after the member, or would decompress to more than `max_output`.
[[nodiscard]] std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_output);

/// An Accept-Encoding field value lets the server answer with gzip (RFC 9110 section 12.5.3):
/// "gzip" or "x-gzip" with a non-zero q, or else "*" with a non-zero q. An absent (empty) field
/// does not: a client that says nothing gets the identity coding.
[[nodiscard]] bool accepts_gzip(std::string_view accept_encoding);

} // namespace patroxy::proxy::stats
