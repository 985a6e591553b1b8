// The field-value helpers HTTP users share (RFC 9110 section 5.6).
#include "protocol/http/field_text.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace http = patroxy::protocol::http;

TEST_CASE("field helpers", "[protocol][http]")
{
    CHECK(http::iequals("Keep-Alive", "keep-alive"));
    CHECK_FALSE(http::iequals("keep-alive", "keep-alive "));
    CHECK(http::trim(" \t a b \t") == "a b");
    std::vector<std::string> elements;
    http::for_each_element(" a, ,b ;q=1,, c", [&](std::string_view e) { elements.emplace_back(e); });
    CHECK(elements == std::vector<std::string>{"a", "b ;q=1", "c"});
    CHECK(http::is_tchar('~'));
    CHECK_FALSE(http::is_tchar(' '));
    CHECK_FALSE(http::is_tchar(':'));
    CHECK(http::is_value_char('\t'));
    CHECK(http::is_value_char('\x80')); // obs-text
    CHECK_FALSE(http::is_value_char('\r'));
    CHECK_FALSE(http::is_value_char('\x7f'));
}
