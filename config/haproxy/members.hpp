// The cluster's members as the server lines name them. HAProxy checks a server once per section
// it appears in; patroxy polls each member once for every listener, so servers with the same
// address (host and port) in several sections are one member.
#pragma once

#include "config/config.hpp"
#include "config/haproxy/report.hpp"

#include <string>
#include <vector>

namespace patroxy::config::haproxy {

class member_table {
public:
    /// The member at `address`, added under `server_name` when it is new, and its name. The name
    /// is the first server name seen for that address; a later server of another name at the
    /// same address is said in a warning (runtime commands name the member). When the name is
    /// already a member at another address, the new member is "<name>-2" (then -3, …), with a
    /// warning.
    std::string add(const std::string& server_name, const endpoint& address, unsigned line, report& r);

    /// Sets the Patroni REST API URL of member `name`; a different URL for the same member
    /// (another check port or addr in another section) is an error at `line`.
    void set_api(const std::string& name, const std::string& url, unsigned line, report& r);

    /// Names of the members that have an API URL (the ones patroxy polls), in file order.
    [[nodiscard]] std::vector<std::string> polled() const;

    [[nodiscard]] std::vector<member> take();

private:
    struct entry {
        member m;
        unsigned line = 0;     ///< where the member was first seen
        unsigned api_line = 0; ///< where its API was set
    };
    entry* find_by_name(const std::string& name);

    std::vector<entry> entries_;
};

} // namespace patroxy::config::haproxy
