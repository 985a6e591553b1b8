#include "proxy/stats/atomic_histogram.hpp"

#include <algorithm>

namespace patroxy::proxy::stats {

atomic_histogram::atomic_histogram(std::initializer_list<double> bounds) : bounds_(bounds), counts_(bounds.size() + 1)
{
}

void atomic_histogram::observe(std::chrono::nanoseconds value) noexcept
{
    const double seconds = std::chrono::duration<double>(value).count();
    // Prometheus buckets are "less than or equal": the first bound >= value.
    const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
                                                 bounds_.begin());
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(value.count(), 0)), std::memory_order_relaxed);
}

histogram_view atomic_histogram::view() const
{
    histogram_view v;
    v.bounds = bounds_;
    v.counts.reserve(counts_.size());
    for (const auto& c : counts_) v.counts.push_back(c.load(std::memory_order_relaxed));
    v.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return v;
}

} // namespace patroxy::proxy::stats
