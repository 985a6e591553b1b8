// protocol_errc and its category: errors must compare as codes and read well in logs.
#include "protocol/errors.hpp"

#include <catch2/catch.hpp>

using patroxy::protocol::protocol_category;
using patroxy::protocol::protocol_errc;

TEST_CASE("protocol_errc converts to a std::error_code of the protocol category", "[protocol]")
{
    const std::error_code ec = protocol_errc::message_too_large;
    CHECK(ec);
    CHECK(ec == protocol_errc::message_too_large);
    CHECK(ec != protocol_errc::message_length_too_small);
    CHECK(&ec.category() == &protocol_category());
    CHECK(std::string(ec.category().name()) == "patroxy.protocol");
}

TEST_CASE("every protocol_errc has its own readable message", "[protocol]")
{
    const auto e = GENERATE(protocol_errc::startup_length_out_of_range, protocol_errc::unsupported_protocol_version,
                            protocol_errc::malformed_startup, protocol_errc::malformed_cancel_request,
                            protocol_errc::malformed_special_request, protocol_errc::message_length_too_small,
                            protocol_errc::message_too_large, protocol_errc::malformed_message);
    const std::string text = make_error_code(e).message();
    CAPTURE(static_cast<int>(e), text);
    CHECK_FALSE(text.empty());
    CHECK(text.find("unknown") == std::string::npos);
    for (int other = 1; other <= 8; ++other)
        if (other != static_cast<int>(e))
            CHECK(protocol_category().message(other) != text);
}

TEST_CASE("codes outside the enum still get a message", "[protocol]")
{
    CHECK(protocol_category().message(0) == "unknown protocol error 0");
    CHECK(protocol_category().message(99) == "unknown protocol error 99");
}
