// Field lookup on a parsed message.
#include "protocol/http/message.hpp"

namespace patroxy::protocol::http {

std::optional<std::string_view> message::header(std::string_view lower_case_name) const
{
    for (const auto& [name, value] : headers)
        if (name == lower_case_name) return std::string_view(value);
    return std::nullopt;
}

} // namespace patroxy::protocol::http
