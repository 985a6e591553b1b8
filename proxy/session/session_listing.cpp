// The runtime API's view of a worker's live sessions (`show sess`).
#include "proxy/net/worker_pool.hpp"
#include "proxy/session/client_session.hpp"

#include <sstream>

namespace patroxy::proxy {

admin::session_row client_session::describe(clock::time_point now) const
{
    admin::session_row row;
    row.id = id_;
    std::ostringstream client;
    client << peer_; // "127.0.0.1:5000", "[::1]:5000"
    row.client = client.str();
    row.ipv6 = peer_.address().is_v6();
    row.listener = listener_.cfg.name;
    if (member_) row.member = member_->name;
    row.age = std::chrono::duration_cast<std::chrono::seconds>(now - started_);
    row.user = user_;
    row.database = database_;
    return row;
}

std::vector<admin::session_row> describe_sessions(worker& owner)
{
    std::vector<admin::session_row> rows;
    const auto now = client_session::clock::now();
    for (const auto& session : owner.live_sessions()) rows.push_back(session.describe(now));
    return rows;
}

} // namespace patroxy::proxy
