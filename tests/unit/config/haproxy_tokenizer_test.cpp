// haproxy.cfg lines into words with HAProxy 2.6's rules (its parse_line() and env_expand()),
// each case checked against what `haproxy -c` does with the same line.
#include "config/haproxy/tokenizer.hpp"
#include "haproxy_test_support.hpp"

using namespace patroxy::config::haproxy;
using patroxy::config::test::fixed_env;
using words = std::vector<std::string>;

namespace {

tokenized_line split(std::string_view line, const env_lookup& env = fixed_env())
{
    return tokenize_line(line, line_position{"haproxy.cfg", 12, "primary"}, env);
}

words ok(std::string_view line, const env_lookup& env = fixed_env())
{
    const auto t = split(line, env);
    INFO("line: " << line << "\nerror: " << t.error);
    REQUIRE(t.error.empty());
    return t.words;
}

std::string error_of(std::string_view line, const env_lookup& env = fixed_env())
{
    const auto t = split(line, env);
    CHECK(t.words.empty());
    return t.error;
}

} // namespace

TEST_CASE("blanks separate words, comments end the line", "[config][haproxy][tokenizer]")
{
    CHECK(ok("    server pg1 10.0.0.1:5432   check\tport 8008") ==
          words{"server", "pg1", "10.0.0.1:5432", "check", "port", "8008"});
    CHECK(ok("bind *:5000 # the write port") == words{"bind", "*:5000"});
    CHECK(ok("stats uri /stats#fragment") == words{"stats", "uri", "/stats"}); // '#' inside a word too
    CHECK(ok("").empty());
    CHECK(ok("   ").empty());
    CHECK(ok("   # only a comment").empty());
    CHECK(ok("mode tcp\r") == words{"mode", "tcp"}); // a CRLF file reads like an LF one
}

TEST_CASE("quotes keep blanks, single quotes keep everything", "[config][haproxy][tokenizer]")
{
    CHECK(ok(R"(stats realm "HAProxy Statistics")") == words{"stats", "realm", "HAProxy Statistics"});
    CHECK(ok(R"(stats realm 'a "b" #c')") == words{"stats", "realm", R"(a "b" #c)"});
    CHECK(ok(R"(x "a"'b'c)") == words{"x", "abc"}); // quoted pieces join into one word
    CHECK(ok(R"(x "" y)") == words{"x", "", "y"});  // an empty word between others stays
    CHECK(ok(R"(x y "")") == words{"x", "y"});      // ... but not at the end
    CHECK(ok(R"("" x)").empty());                   // HAProxy takes an empty first word for a blank line
}

TEST_CASE("backslash escapes outside single quotes", "[config][haproxy][tokenizer]")
{
    CHECK(ok(R"(stats realm HAProxy\ Statistics)") == words{"stats", "realm", "HAProxy Statistics"});
    CHECK(ok(R"(x a\#b a\\b a\"b a\'b)") == words{"x", "a#b", R"(a\b)", R"(a"b)", "a'b"});
    CHECK(ok(R"(x \x41\x62)") == words{"x", "Ab"});
    CHECK(ok(R"(x "a\tb")") == words{"x", "a\tb"});
    CHECK(ok(R"(x a\qb)") == words{"x", R"(a\qb)"});   // not an escape: the backslash stays
    CHECK(ok(R"(x 'a\ b')") == words{"x", R"(a\ b)"}); // nothing is an escape inside '...'
    CHECK(ok(R"(x \$HOME)") == words{"x", R"(\$HOME)"}); // \$ is an escape only inside "..."
    CHECK(ok(R"(x "\$HOME")") == words{"x", "$HOME"});
    CHECK(ok(R"(option httpchk GET /primary HTTP/1.1\r\nHost:\ db)") ==
          words{"option", "httpchk", "GET", "/primary", "HTTP/1.1\r\nHost: db"});
}

TEST_CASE("environment variables expand inside double quotes only", "[config][haproxy][tokenizer]")
{
    const auto env = fixed_env({{"PORT", "5000"}, {"EMPTY", ""}, {"LIST", "a  b c"}});
    CHECK(ok(R"(bind "*:${PORT}")", env) == words{"bind", "*:5000"});
    CHECK(ok(R"(bind "*:$PORT")", env) == words{"bind", "*:5000"});
    CHECK(ok(R"(bind *:${PORT})", env) == words{"bind", "*:${PORT}"}); // left to the address expansion
    CHECK(ok(R"(bind '*:${PORT}')", env) == words{"bind", "*:${PORT}"});
    CHECK(ok(R"(x "${UNSET}" y)", env) == words{"x", "", "y"});
    CHECK(ok(R"(x "${EMPTY-5432}" "${UNSET-5432}")", env) == words{"x", "", "5432"}); // a default replaces unset only
    CHECK(ok(R"(x "${PORT-1}")", env) == words{"x", "5000"});
    CHECK(ok(R"(x "${LIST[*]}" z)", env) == words{"x", "a", "b", "c", "z"});
    CHECK(ok(R"(x "${LIST}")", env) == words{"x", "a  b c"});
    CHECK(ok(R"(x "${.LINE}" "${.FILE}" "${.SECTION}")", env) == words{"x", "12", "haproxy.cfg", "primary"});
}

TEST_CASE("unreadable lines say where, as HAProxy does", "[config][haproxy][tokenizer]")
{
    CHECK(error_of(R"(stats realm "HAProxy Statistics)") == "unmatched quote at position 13");
    CHECK(error_of(R"(x 'abc)") == "unmatched quote at position 3");
    CHECK(error_of(R"(x "${PORT")") == "unmatched brace in environment variable name at position 5");
    CHECK(error_of(R"(x "${PORT-5)") == "unmatched brace in environment variable name at position 5");
    CHECK(error_of(R"(x "$1")") == "forbidden first char in environment variable name at position 5");
    CHECK(error_of(R"(x "${.X}")") ==
          "unknown pseudo-variable '.X' (HAProxy knows .FILE, .LINE, .SECTION) at position 6");
    CHECK(error_of(R"(x "${A[x]}")") == "truncated or invalid word expansion sequence at position 7");
    CHECK(error_of(R"(x \x4)") == "truncated or invalid hexadecimal sequence at position 3");
    std::string many = "x";
    for (int i = 0; i < 64; ++i) many += " w";
    CHECK(error_of(many) == "too many words (65; HAProxy reads at most 64)");
    CHECK(ok(many.substr(0, many.size() - 2)).size() == 64);
}

TEST_CASE("addresses expand $NAME and ${NAME} anywhere, as HAProxy's env_expand()", "[config][haproxy][tokenizer]")
{
    const auto env = fixed_env({{"PG", "10.0.0.1"}, {"PORT", "5432"}});
    CHECK(expand_address_env("${PG}:${PORT}", env) == "10.0.0.1:5432");
    CHECK(expand_address_env("$PG:$PORT", env) == "10.0.0.1:5432");
    CHECK(expand_address_env("$UNSET:5432", env) == ":5432");
    CHECK(expand_address_env("10.0.0.1:5432", env) == "10.0.0.1:5432");
    // No defaults here: the name ends at '-', and the rest stays (haproxy -c then rejects the port).
    CHECK(expand_address_env("1.2.3.4:${PORT-1}", env) == "1.2.3.4:5432-1}");
    CHECK(expand_address_env("$:x", env) == ":x");
}
