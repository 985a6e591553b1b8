// A GET /cluster body, as anything answering at a member's API address may send it (the poller
// caps bodies at 1 MiB). Decoding never throws and gives either a view or a reason, never both;
// the leader lookup names a member holding the lock.
#include "fuzz_check.hpp"
#include "health/patroni/patroni_status.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace patroxy::health;
using patroxy::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const decode_result<cluster_view> r = decode_cluster_view(body);
    require(r.value.has_value() == r.error.empty(), "a view or a reason, exactly one");
    if (!r.value) return 0;
    for (const cluster_member& m : r.value->members) {
        require(m.role == parse_dcs_role(m.role_text), "role follows role_text");
        require(r.value->find(m.name) != nullptr, "every member is found by its name");
    }
    if (const cluster_member* leader = r.value->leader())
        require(leader->role == dcs_role::leader || leader->role == dcs_role::standby_leader,
                "the leader holds the lock");
    return 0;
}
