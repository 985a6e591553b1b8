// Shared by the HTTP codec tests: feed a parser a byte stream cut into pieces, the way a socket
// delivers it, and record the combined outcome; and the ways of cutting it.
#pragma once

#include "protocol/http/message_parser.hpp"

#include <cstddef>
#include <random>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace patroxy::test {

/// What feeding a whole byte stream (optionally followed by the peer's close) produced.
struct http_run {
    protocol::http::parse_status state = protocol::http::parse_status::need_more;
    std::error_code error;
    std::size_t consumed = 0;    ///< over all feed() calls
    std::size_t need_more_calls = 0; ///< feed() calls that returned need_more
};

/// Feeds `pieces` in order, stopping at the first done or error; `then_close` calls finish()
/// when the message is still incomplete afterwards.
template <typename Parser>
http_run feed_pieces(Parser& parser, const std::vector<std::string>& pieces, bool then_close = false)
{
    http_run run;
    for (const auto& piece : pieces) {
        const auto r = parser.feed(piece);
        run.consumed += r.consumed;
        run.state = r.state;
        run.error = r.error;
        if (r.state != protocol::http::parse_status::need_more) break;
        ++run.need_more_calls;
    }
    if (then_close && run.state == protocol::http::parse_status::need_more) {
        const auto r = parser.finish();
        run.state = r.state;
        run.error = r.error;
    }
    return run;
}

/// An http_run and the message as the parser holds it at the end.
template <typename Message>
struct parsed_run : http_run {
    Message parsed;

    /// The same outcome, however many reads it took to get there.
    [[nodiscard]] bool same_outcome(const parsed_run& other) const
    {
        return state == other.state && error == other.error && consumed == other.consumed && parsed == other.parsed;
    }
};

/// feed_pieces, and what the parser then holds.
template <typename Parser>
auto parse_with(Parser& parser, const std::vector<std::string>& pieces, bool then_close = false)
{
    parsed_run<std::decay_t<decltype(parser.parsed())>> run;
    static_cast<http_run&>(run) = feed_pieces(parser, pieces, then_close);
    run.parsed = parser.parsed();
    return run;
}

/// `bytes` cut at the given ascending offsets.
inline std::vector<std::string> split_at(const std::string& bytes, const std::vector<std::size_t>& cuts)
{
    std::vector<std::string> pieces;
    std::size_t from = 0;
    for (const auto cut : cuts) {
        pieces.push_back(bytes.substr(from, cut - from));
        from = cut;
    }
    pieces.push_back(bytes.substr(from));
    return pieces;
}

inline std::vector<std::string> one_byte_each(const std::string& bytes)
{
    std::vector<std::string> pieces;
    for (const char c : bytes) pieces.emplace_back(1, c);
    return pieces;
}

/// `bytes` cut into pieces of random sizes (empty ones included) drawn from `rng`.
inline std::vector<std::string> random_pieces(const std::string& bytes, std::mt19937& rng)
{
    std::uniform_int_distribution<std::size_t> size(0, 9);
    std::vector<std::string> pieces;
    std::size_t from = 0;
    while (from < bytes.size()) {
        const auto n = std::min(size(rng), bytes.size() - from);
        pieces.push_back(bytes.substr(from, n));
        from += n;
    }
    pieces.emplace_back(); // a read that brought nothing new
    return pieces;
}

} // namespace patroxy::test
