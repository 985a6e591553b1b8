// Form decoding: percent escapes (invalid ones kept as sent, as browsers do), '+' as a space,
// separators that only count before decoding, and the first-value lookup.
#include "proxy/stats/form.hpp"

#include <catch2/catch.hpp>

using patroxy::proxy::stats::form;
using patroxy::proxy::stats::form_value;
using patroxy::proxy::stats::parse_form;
using patroxy::proxy::stats::percent_decode;

TEST_CASE("percent_decode", "[stats][form]")
{
    CHECK(percent_decode("%41%62c") == "Abc");
    CHECK(percent_decode("%2f%2F") == "//");
    CHECK(percent_decode("%C3%A9t%C3%A9") == "\xc3\xa9t\xc3\xa9");
    CHECK(percent_decode("%00") == std::string("\0", 1));
    CHECK(percent_decode("a+b") == "a+b");
    CHECK(percent_decode("a+b", true) == "a b");
    CHECK(percent_decode("%2B", true) == "+");
}

TEST_CASE("percent_decode keeps invalid escapes as they are", "[stats][form]")
{
    CHECK(percent_decode("%") == "%");
    CHECK(percent_decode("%4") == "%4");
    CHECK(percent_decode("a%zz") == "a%zz");
    CHECK(percent_decode("%4g") == "%4g");
    CHECK(percent_decode("%%41") == "%A");
    CHECK(percent_decode("100%") == "100%");
    CHECK(percent_decode("%g1%41") == "%g1A");
}

TEST_CASE("parse_form", "[stats][form]")
{
    CHECK(parse_form("") == form{});
    CHECK(parse_form("a=1&b=two+words&c") == form{{"a", "1"}, {"b", "two words"}, {"c", ""}});
    CHECK(parse_form("&&a=1&") == form{{"a", "1"}});
    CHECK(parse_form("=x&y=") == form{{"", "x"}, {"y", ""}});
    CHECK(parse_form("a=1=2") == form{{"a", "1=2"}});
    CHECK(parse_form("k%3Dx=v%26w") == form{{"k=x", "v&w"}}); // decoded after the split
    CHECK(parse_form("m=node1&m=node2") == form{{"m", "node1"}, {"m", "node2"}});
    CHECK(parse_form("q=%zz+%41") == form{{"q", "%zz A"}});
}

TEST_CASE("form_value takes the first pair of a name", "[stats][form]")
{
    const auto pairs = parse_form("action=drain&member=node1&member=node2&empty=");
    CHECK(form_value(pairs, "action") == "drain");
    CHECK(form_value(pairs, "member") == "node1");
    CHECK(form_value(pairs, "empty") == "");
    CHECK_FALSE(form_value(pairs, "missing").has_value());
    CHECK_FALSE(form_value(pairs, "Action").has_value()); // names are case-sensitive
}
