// The recent events the stats page lists (leader changes, members down/up, sessions killed,
// clients queued or rejected, admin actions): a bounded ring, newest first. Written from the
// control thread and, rarely, from workers, so a mutex is fine: nothing here is per message.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::proxy::stats {

class event_log {
public:
    explicit event_log(std::size_t capacity = 50) : capacity_(capacity) {}

    void add(std::string_view kind, std::string text);

    /// The kept events, newest first.
    [[nodiscard]] std::vector<event> recent() const;

private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::deque<event> events_; ///< newest at the front
};

} // namespace patroxy::proxy::stats
