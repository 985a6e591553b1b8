// The haproxy.cfg drop-in (`patroxy -f /etc/haproxy/haproxy.cfg`). Reading never throws and gives
// a config or errors, never both; a config read from UTF-8 text writes back to native JSON that
// reads to the same text again (json_writer replaces other bytes, see config_round_trip.hpp).
// Environment variables come from a fixed table, not the process.
#include "config/haproxy/haproxy_reader.hpp"
#include "config_round_trip.hpp"
#include "fuzz_check.hpp"

#include <nlohmann/json.hpp>

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

/// Whether `text` is UTF-8, by nlohmann's own check (the one json_writer's replacement follows).
bool is_utf8(std::string_view text)
{
    try {
        (void)nlohmann::json(std::string(text)).dump();
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)patroxy::config::haproxy::looks_like_haproxy(text);
    patroxy::fuzz::check_load_result(patroxy::config::haproxy::parse_haproxy_config(text, "fuzz.cfg", fixed_env),
                                     is_utf8(text));
    return 0;
}
