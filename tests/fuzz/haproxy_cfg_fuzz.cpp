// The haproxy.cfg drop-in (`patroxy -f /etc/haproxy/haproxy.cfg`). Reading never throws and gives
// a config or errors, never both; a config read from it writes back to native JSON that reads to
// the same text again. Environment variables come from a fixed table, not the process.
#include "config/haproxy/haproxy_reader.hpp"
#include "config_round_trip.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

std::optional<std::string> fixed_env(const std::string& name)
{
    if (name == "HOST") return "10.0.1.10";
    if (name == "PORT") return "5432";
    if (name == "EMPTY") return "";
    return std::nullopt;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)patroxy::config::haproxy::looks_like_haproxy(text);
    patroxy::fuzz::check_load_result(patroxy::config::haproxy::parse_haproxy_config(text, "fuzz.cfg", fixed_env));
    return 0;
}
