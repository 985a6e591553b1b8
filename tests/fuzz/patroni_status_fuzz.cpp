// A GET /patroni body, as anything answering at a member's API address may send it (the poller
// caps bodies at 1 MiB). Decoding never throws and gives either a status or a reason, never both;
// a decoded role agrees with the text it came from.
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
    const decode_result<patroni_status> r = decode_patroni_status(body);
    require(r.value.has_value() == r.error.empty(), "a status or a reason, exactly one");
    if (r.value) {
        require(r.value->role == parse_pg_role(r.value->role_text), "role follows role_text");
        (void)to_string(r.value->role);
    }
    return 0;
}
