// Shared by the two config targets: what must hold of any load_result, whichever reader made it.
#pragma once

#include "config/config.hpp"
#include "config/json_writer.hpp"
#include "fuzz_check.hpp"

#include <cstdio>
#include <string>

namespace patroxy::fuzz {

/// A config or errors, exactly one; a config writes to JSON that reads back to the same JSON.
/// `round_trip` false skips the second part: json_writer replaces bytes that are not UTF-8 (which
/// haproxy.cfg may hold, JSON never), so such a config is not promised to come back.
inline void check_load_result(const config::load_result& r, bool round_trip = true)
{
    require(r.value.has_value() == r.errors.empty(), "a config or errors, exactly one");
    if (!r.value || !round_trip) return;
    const std::string text = config::to_json_text(*r.value);
    const config::load_result back = config::parse_config(text);
    if (!back.value) // say why, so a finding needs no debugger
        std::fprintf(stderr, "written config:\n%s\nits first error: %s\n", text.c_str(), to_string(back.errors.front()).c_str());
    require(back.value.has_value(), "the written config reads back");
    require(config::to_json_text(*back.value) == text, "the written config reads back to the same text");
}

} // namespace patroxy::fuzz
