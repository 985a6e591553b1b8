// The HTTP/1.1 codec (protocol/http) in both directions: what a stranger at the stats port sends
// (requests) and what anything answering at a member's API address sends (responses). The input
// is parsed whole and again cut into pieces where the input says: every cutting must give the same
// state, error, bytes taken and message (the property tests/unit/protocol/http_chunking_test
// checks on a corpus), and a done message never takes more bytes than it was given.
// Input layout: the message first, then (from the end, FuzzedDataProvider's integers) the
// direction, whether the peer closes after it, small or default caps, and the cutting's seed, so
// captured requests and responses make good seeds as they are.
#include "fuzz_check.hpp"
#include "protocol/http/request_parser.hpp"
#include "protocol/http/response_parser.hpp"
#include "tests/unit/protocol/http_feed_helpers.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace patroxy::protocol::http;
using patroxy::fuzz::require;
using patroxy::test::parse_with;
using patroxy::test::random_pieces;

namespace {

/// Caps small enough that the fuzzer reaches every one of them with short inputs.
constexpr limits small_caps{.max_start_line = 40, .max_field_bytes = 96, .max_fields = 4, .max_body_bytes = 64};

template <typename Parser>
void check_cuttings(const std::string& bytes, bool then_close, const limits& caps, std::uint32_t seed)
{
    Parser whole_parser(caps);
    const auto whole = parse_with(whole_parser, {bytes}, then_close);
    require(whole.consumed <= bytes.size(), "the parser took more bytes than it was given");

    std::mt19937 rng(seed);
    Parser cut_parser(caps);
    const auto cut = parse_with(cut_parser, random_pieces(bytes, rng), then_close);
    require(cut.same_outcome(whole), "a cutting of the input changed the outcome");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 6) return 0;
    // The settings come from the last 6 bytes; the message is what precedes them.
    FuzzedDataProvider settings(data + size - 6, 6);
    const bool response = settings.ConsumeBool();
    const bool then_close = settings.ConsumeBool();
    const limits caps = settings.ConsumeBool() ? small_caps : limits{};
    const auto seed = settings.ConsumeIntegral<std::uint32_t>();
    const std::string bytes(reinterpret_cast<const char*>(data), size - 6);
    if (response)
        check_cuttings<response_parser>(bytes, then_close, caps, seed);
    else
        check_cuttings<request_parser>(bytes, then_close, caps, seed);
    return 0;
}
