// --setup: the tables the workloads read from or copy into, created over one blocking connection.
#pragma once

#include "bench/loadgen/options.hpp"

#include <string>

namespace patroxy::bench {

/// Creates (or refills, when its row count differs) pgbench_accounts with `opts.accounts` rows
/// and creates bench_copy_in. Returns "" on success, else what failed.
[[nodiscard]] std::string run_setup(const options& opts);

} // namespace patroxy::bench
