// The one assertion the fuzz targets make beyond "no sanitizer report": a property that must hold
// for every input. A broken one prints what and aborts, which libFuzzer records as a crash with
// the input that broke it.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace patroxy::fuzz {

/// Aborts with `what` unless `ok`.
inline void require(bool ok, const char* what)
{
    if (ok) return;
    std::fprintf(stderr, "fuzz property broken: %s\n", what);
    std::abort();
}

} // namespace patroxy::fuzz
