// The native JSON config (`patroxy -f`, `-c`, SIGHUP). Reading never throws and gives a config
// or errors, never both; a config that reads writes back (--print-config) to text that reads to
// the same text again, the law config/json_writer.hpp states.
#include "config_round_trip.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    patroxy::fuzz::check_load_result(patroxy::config::parse_config(text));
    return 0;
}
