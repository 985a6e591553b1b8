// How Patroni 3.0.2 reads the size in `GET /replica?lag=…` (patroni/utils.py parse_int(value,
// 'B'), which follows PostgreSQL's GUC parser): a check URI must mean for patroxy what it meant
// for Patroni, including the spellings Patroni silently takes for "no limit".
#pragma once

#include <optional>
#include <string_view>

namespace patroxy::config::haproxy {

/// The bytes Patroni reads from `text`: an integer as C's strtol() with base 0 reads it (so
/// "0x10" is 16 and "010" is 8) or a decimal fraction ("1.5"), optionally followed by B, kB, MB,
/// GB or TB (1024-based, case-sensitive; blanks around it allowed), rounded as Patroni rounds
/// (to the next smaller unit, halves to even). nullopt where Patroni gets no number: then it
/// applies no lag limit at all. The value may be negative or beyond 64 bits, as in Python.
[[nodiscard]] std::optional<long double> patroni_lag_bytes(std::string_view text);

} // namespace patroxy::config::haproxy
