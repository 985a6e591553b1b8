// The first packet of a client connection, read as the session reads it: the length word is
// checked, then exactly that many bytes are decoded. A packet that decodes must be exactly the
// packet its decoded form encodes to (tests/support/pg_bytes writes it independently).
#include "fuzz_check.hpp"
#include "protocol/errors.hpp"
#include "protocol/startup.hpp"
#include "tests/support/pg_bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <variant>

namespace pg = patroxy::test::pg_bytes;
using namespace patroxy::protocol;
using patroxy::fuzz::require;

namespace {

void check_decoded(bytes_view packet, const first_packet& decoded)
{
    const byte_buffer bytes(packet.begin(), packet.end());
    if (std::holds_alternative<ssl_request>(decoded) || std::holds_alternative<gssenc_request>(decoded)) {
        require(packet.size() == 8, "an SSLRequest/GSSENCRequest is 8 bytes");
        return;
    }
    if (const auto* c = std::get_if<cancel_request>(&decoded)) {
        require(c->secret_key.size() >= 4 && c->secret_key.size() <= cancel_key_max_length, "cancel key is 4..256 bytes");
        require(pg::cancel_request(c->process_id, c->secret_key) == bytes, "a CancelRequest re-encodes to its bytes");
        return;
    }
    const auto& s = std::get<startup_message>(decoded);
    require(s.major == 3, "a StartupMessage is protocol 3.x");
    require(!s.user().empty(), "a StartupMessage names a user");
    require(!s.database().empty(), "the database defaults to the user");
    require(pg::startup(s.parameters, s.major, s.minor) == bytes, "a StartupMessage re-encodes to its bytes");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const bytes_view input(reinterpret_cast<const std::byte*>(data), size);
    if (input.size() < 4) return 0; // the session is still waiting for the length word
    const std::uint32_t length = read_u32(input);
    if (check_startup_length(length)) return 0; // refused with 08P01 before any more is read
    if (input.size() < length) return 0;       // still waiting for the rest
    const first_packet_result r = decode_first_packet(input.first(length));
    if (r.error) {
        require(&r.error.category() == &protocol_category(), "errors are protocol errors");
        return 0;
    }
    check_decoded(input.first(length), r.packet);
    return 0;
}
