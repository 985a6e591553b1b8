// The error_category behind protocol_errc. Messages are generic per code: the category cannot
// see the offending value, so callers that log add the details themselves.
#include "protocol/errors.hpp"

#include <string>

namespace patroxy::protocol {

namespace {

class protocol_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "patroxy.protocol"; }

    std::string message(int code) const override
    {
        switch (static_cast<protocol_errc>(code)) {
        case protocol_errc::startup_length_out_of_range:
            return "startup packet length outside 8..10000";
        case protocol_errc::unsupported_protocol_version:
            return "unsupported frontend protocol version";
        case protocol_errc::malformed_startup:
            return "invalid startup packet layout";
        case protocol_errc::malformed_cancel_request:
            return "invalid cancel request length";
        case protocol_errc::malformed_special_request:
            return "invalid SSL or GSSENC request length";
        case protocol_errc::message_length_too_small:
            return "message length below 4";
        case protocol_errc::message_too_large:
            return "message length over the configured maximum";
        case protocol_errc::malformed_message:
            return "malformed message body";
        }
        // Codes outside the enum can still reach us through a plain int.
        return "unknown protocol error " + std::to_string(code);
    }
};

} // namespace

const std::error_category& protocol_category() noexcept
{
    // A function-local static has one address for the whole program, which is what
    // error_code comparison relies on.
    static const protocol_category_impl category;
    return category;
}

} // namespace patroxy::protocol
