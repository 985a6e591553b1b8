#include "proxy/stats/event_log.hpp"

namespace patroxy::proxy::stats {

void event_log::add(std::string_view kind, std::string text)
{
    event e{.at = std::chrono::system_clock::now(), .kind = std::string(kind), .text = std::move(text)};
    const std::lock_guard lock(mutex_);
    events_.push_front(std::move(e));
    while (events_.size() > capacity_) events_.pop_back();
}

std::vector<event> event_log::recent() const
{
    const std::lock_guard lock(mutex_);
    return {events_.begin(), events_.end()};
}

} // namespace patroxy::proxy::stats
