// The relay's message scanner on a stream of backend or frontend bytes, cut into chunks where the
// input says, compared with a whole-buffer walk of the same bytes (tests/unit/protocol's
// reference): every chunking must report the same messages, bodies, offsets and error.
// Input layout: the stream first, then (from the end, FuzzedDataProvider's integers) the scanner's
// settings and the cut points, so captured streams make good seeds as they are.
#include "fuzz_check.hpp"
#include "protocol/message_scanner.hpp"
#include "tests/unit/protocol/scan_helpers.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace patroxy::protocol;
using patroxy::fuzz::require;
using patroxy::test::reference_scan;
using patroxy::test::scan_chunks;
using patroxy::test::scan_run;
using patroxy::test::split_at;

namespace {

/// The types the relay asks for ('K' and 'Z' backend side) plus up to three the input picks.
message_type_set reported_types(FuzzedDataProvider& in)
{
    message_type_set types;
    types.set('K');
    types.set('Z');
    for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n)
        types.set(in.ConsumeIntegral<std::uint8_t>());
    return types;
}

/// The relay's cap (1 GiB, as PostgreSQL's) or a small one, so the too-large path is reached.
std::uint32_t max_length(FuzzedDataProvider& in)
{
    return in.ConsumeBool() ? 1u << 30 : in.ConsumeIntegralInRange<std::uint32_t>(0, 4096);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    const message_type_set types = reported_types(in);
    const std::uint32_t max = max_length(in);
    const int cut_count = in.ConsumeIntegralInRange(0, 16);
    std::vector<std::uint16_t> cut_seeds;
    for (int i = 0; i < cut_count; ++i)
        cut_seeds.push_back(in.ConsumeIntegral<std::uint16_t>());
    const std::vector<std::uint8_t> raw = in.ConsumeRemainingBytes<std::uint8_t>();
    const byte_buffer stream(reinterpret_cast<const std::byte*>(raw.data()),
                             reinterpret_cast<const std::byte*>(raw.data()) + raw.size());

    std::vector<std::size_t> cuts;
    for (std::uint16_t c : cut_seeds)
        cuts.push_back(c % (stream.size() + 1));
    std::sort(cuts.begin(), cuts.end());

    message_scanner scanner(types, max);
    const scan_run got = scan_chunks(scanner, split_at(stream, cuts));
    const scan_run want = reference_scan(stream, types, max);
    require(got.error == want.error, "same error as the whole-buffer walk");
    require(got.consumed == want.consumed, "same bytes consumed");
    require(got.messages == want.messages, "same reported messages, bodies and offsets");
    require(got.seen == want.seen, "same number of messages seen");
    require(got.boundary_at_end == want.boundary_at_end, "same boundary state at the end");
    return 0;
}
