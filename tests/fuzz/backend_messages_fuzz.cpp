// The backend messages patroxy reads as they pass (BackendKeyData, ReadyForQuery,
// ParameterStatus, ErrorResponse/NoticeResponse) and the SASL messages it reads or rewrites on a
// terminating listener. The input is a chunk as the relay holds it: a message (type byte, length
// word, body) and maybe more bytes after it; captured server messages are the seeds.
// Properties: a decoded ErrorResponse rebuilds to one that decodes to the same fields, a decoded
// key is 4..256 bytes, dropping SCRAM-SHA-256-PLUS keeps the message well formed and the bytes
// after it intact.
#include "fuzz_check.hpp"
#include "protocol/backend_messages.hpp"
#include "protocol/sasl.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace patroxy::protocol;
using patroxy::fuzz::require;

namespace {

/// The body the relay would hand a decoder: what follows the header, as far as the length word
/// says and the chunk holds.
bytes_view body_of(bytes_view chunk)
{
    if (chunk.size() < 5) return {};
    const std::uint32_t length = read_u32(chunk.subspan(1));
    const std::size_t body_length = length < 4 ? 0 : std::size_t{length} - 4;
    return chunk.subspan(5, std::min(body_length, chunk.size() - 5));
}

void check_error_response(bytes_view body)
{
    error_fields fields;
    if (decode_error_response(body, fields)) return;
    const byte_buffer rebuilt = build_error_response(fields);
    error_fields again;
    require(!decode_error_response(bytes_view(rebuilt).subspan(5), again), "a rebuilt ErrorResponse decodes");
    require(again.severity == fields.severity && again.sqlstate == fields.sqlstate &&
                again.message == fields.message && again.detail == fields.detail && again.hint == fields.hint,
            "a rebuilt ErrorResponse keeps its fields");
}

void check_decoders(char type, bytes_view body)
{
    switch (type) {
    case backend_type::backend_key_data: {
        backend_key_data key;
        if (!decode_backend_key_data(body, key))
            require(key.secret_key.size() >= 4 && key.secret_key.size() <= 256 && key.secret_key.size() + 4 == body.size(),
                    "a BackendKeyData key fills the body and is 4..256 bytes");
        break;
    }
    case backend_type::ready_for_query: {
        transaction_status status{};
        if (!decode_ready_for_query(body, status))
            require(body.size() == 1, "ReadyForQuery is one byte");
        break;
    }
    case backend_type::parameter_status: {
        parameter_status p;
        if (!decode_parameter_status(body, p))
            require(p.name.size() + p.value.size() + 2 == body.size(), "ParameterStatus is two C strings");
        break;
    }
    case backend_type::error_response:
    case backend_type::notice_response: check_error_response(body); break;
    default: break;
    }
    (void)backend_message_name(type);
    (void)frontend_message_name(type);
}

void check_channel_binding_drop(bytes_view chunk)
{
    const bool complete = starts_with_auth_sasl(chunk);
    (void)starts_incomplete_auth_sasl(chunk);
    std::vector<std::byte> copy(chunk.begin(), chunk.end());
    const std::size_t n = drop_channel_binding(copy);
    require(n <= chunk.size(), "dropping a mechanism never grows the chunk");
    if (n == chunk.size()) {
        require(std::equal(copy.begin(), copy.end(), chunk.begin()), "nothing dropped: the chunk is untouched");
        return;
    }
    require(complete, "only a complete AuthenticationSASL is rewritten");
    const bytes_view out = bytes_view(copy).first(n);
    require(starts_with_auth_sasl(out), "the rewritten message is still a complete AuthenticationSASL");
    const std::size_t old_end = 1 + std::size_t{read_u32(chunk.subspan(1))};
    const std::size_t new_end = 1 + std::size_t{read_u32(out.subspan(1))};
    require(old_end - new_end == chunk.size() - n, "the length word shrinks by the bytes removed");
    require(std::equal(out.begin() + static_cast<std::ptrdiff_t>(new_end), out.end(),
                       chunk.begin() + static_cast<std::ptrdiff_t>(old_end)),
            "the bytes after the message are kept");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const bytes_view chunk(reinterpret_cast<const std::byte*>(data), size);
    if (chunk.empty()) return 0;
    check_decoders(static_cast<char>(chunk[0]), body_of(chunk));
    check_channel_binding_drop(chunk);
    const char flag = scram_binding_flag(chunk);
    require(flag == 0 || flag == 'n' || flag == 'y' || flag == 'p', "the GS2 flag is n, y, p or none");
    return 0;
}
