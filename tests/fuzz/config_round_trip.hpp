// Shared by the two config targets: what must hold of any load_result, whichever reader made it.
#pragma once

#include "config/config.hpp"
#include "config/json_writer.hpp"
#include "fuzz_check.hpp"

#include <string>

namespace patroxy::fuzz {

/// A config or errors, exactly one; a config writes to JSON that reads back to the same JSON.
inline void check_load_result(const config::load_result& r)
{
    require(r.value.has_value() == r.errors.empty(), "a config or errors, exactly one");
    if (!r.value) return;
    const std::string text = config::to_json_text(*r.value);
    const config::load_result back = config::parse_config(text);
    require(back.value.has_value(), "the written config reads back");
    require(config::to_json_text(*back.value) == text, "the written config reads back to the same text");
}

} // namespace patroxy::fuzz
