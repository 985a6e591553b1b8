// Settings patroxy has once for every listener (health checks, idle timeouts, retries) while
// haproxy.cfg may give them per section: every value offered is kept with its line, one is chosen
// by a stated rule, and each line whose value lost is named in a warning that says what was kept.
#pragma once

#include "config/haproxy/report.hpp"
#include "config/haproxy/values.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace patroxy::config::haproxy {

template <class T>
class one_value {
public:
    /// `what` names the setting in messages ("inter", "timeout server"); `why` says why there is
    /// only one ("patroxy polls each member once for all listeners").
    one_value(std::string what, std::string why) : what_(std::move(what)), why_(std::move(why)) {}

    void offer(const located<T>& v)
    {
        const bool seen = std::any_of(offers_.begin(), offers_.end(),
                                      [&](const located<T>& o) { return o.value == v.value && o.line == v.line; });
        if (!seen) offers_.push_back(v);
    }
    void offer(const std::optional<located<T>>& v)
    {
        if (v) offer(*v);
    }

    /// Which offered value is kept.
    enum class rule { smallest, largest, first };

    /// The value kept by `keep` with the line that gave it, nullopt when none was offered; warns
    /// at each line that offered another value. `text` shows a value in messages.
    std::optional<located<T>> choose(report& r, rule keep, const std::function<std::string(const T&)>& text) const
    {
        if (offers_.empty()) return std::nullopt;
        auto kept = offers_.begin();
        if (keep == rule::smallest) kept = std::min_element(offers_.begin(), offers_.end(), by_value);
        if (keep == rule::largest) kept = std::max_element(offers_.begin(), offers_.end(), by_value);
        for (const auto& o : offers_) {
            if (o.value == kept->value) continue;
            r.warn(o.line, what_ + " " + text(o.value) + " is not used: " + why_ + "; kept " + text(kept->value) +
                               " (" + r.where(kept->line) + ")");
        }
        return *kept;
    }

private:
    static bool by_value(const located<T>& a, const located<T>& b) { return a.value < b.value; }

    std::string what_;
    std::string why_;
    std::vector<located<T>> offers_;
};

} // namespace patroxy::config::haproxy
