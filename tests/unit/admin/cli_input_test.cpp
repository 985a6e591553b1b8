// The runtime API's input grammar: words, escapes, command ends, bounds, and the same commands
// whatever the split of the bytes into reads.
#include <catch2/catch.hpp>

#include "proxy/admin/cli_input.hpp"

#include <string>
#include <vector>

using namespace patroxy::proxy::admin;

namespace {

/// Every complete command in `bytes`, fed in pieces cut at `cut`.
std::vector<command_words> commands_of(const std::string& bytes, std::size_t cut)
{
    cli_input input;
    std::vector<command_words> out;
    const auto drain = [&] {
        for (;;) {
            auto r = input.next();
            if (r.state != cli_input::status::command) break;
            out.push_back(std::move(r.words));
        }
    };
    input.feed(std::string_view(bytes).substr(0, cut));
    drain();
    input.feed(std::string_view(bytes).substr(cut));
    drain();
    return out;
}

} // namespace

TEST_CASE("split_words: spaces and tabs separate, backslashes escape", "[admin]")
{
    CHECK(split_words("show stat") == command_words{"show", "stat"});
    CHECK(split_words("  show \t servers   state  ") == command_words{"show", "servers", "state"});
    CHECK(split_words("") == command_words{});
    CHECK(split_words(" \t ") == command_words{});
    CHECK(split_words(R"(set server a\ b/c state maint)") == command_words{"set", "server", "a b/c", "state", "maint"});
    CHECK(split_words(R"(x\;y back\\slash)") == command_words{"x;y", R"(back\slash)"});
    CHECK(split_words(R"(trailing\)") == command_words{"trailing"});
}

TEST_CASE("split_words keeps at most 64 words", "[admin]")
{
    std::string line;
    for (int i = 0; i < 70; ++i) line += "w" + std::to_string(i) + " ";
    const auto words = split_words(line);
    REQUIRE(words.size() == cli_input::max_words);
    CHECK(words.back() == "w63");
}

TEST_CASE("cli_input: a line feed or an unescaped semicolon ends a command, CR is dropped", "[admin]")
{
    cli_input input;
    input.feed("show info;show stat\r\nshow\\;sess\nhalf");
    auto a = input.next();
    REQUIRE(a.state == cli_input::status::command);
    CHECK(a.words == command_words{"show", "info"});
    auto b = input.next();
    REQUIRE(b.state == cli_input::status::command);
    CHECK(b.words == command_words{"show", "stat"});
    auto c = input.next();
    REQUIRE(c.state == cli_input::status::command);
    CHECK(c.words == command_words{"show;sess"});
    CHECK(input.next().state == cli_input::status::need_more);
    CHECK_FALSE(input.empty()); // "half" waits for its line feed
    input.feed("\n\n");
    auto d = input.next();
    CHECK(d.words == command_words{"half"});
    auto e = input.next();
    REQUIRE(e.state == cli_input::status::command);
    CHECK(e.words.empty()); // an empty line is a command too (HAProxy answers it with the usage)
    CHECK(input.empty());
}

TEST_CASE("cli_input: the same commands at every split of the bytes", "[admin]")
{
    const std::string bytes = "prompt\nshow stat -1 4 -1;set server a\\ b/c state drain\r\nquit\n";
    const std::vector<command_words> expected{
        {"prompt"}, {"show", "stat", "-1", "4", "-1"}, {"set", "server", "a b/c", "state", "drain"}, {"quit"}};
    const auto cut = GENERATE_COPY(range<std::size_t>(0, bytes.size() + 1));
    CAPTURE(cut);
    CHECK(commands_of(bytes, cut) == expected);
}

TEST_CASE("cli_input: a command longer than the buffer is refused", "[admin]")
{
    cli_input input;
    input.feed(std::string(cli_input::max_command - 1, 'x'));
    CHECK(input.next().state == cli_input::status::need_more);
    input.feed("x");
    CHECK(input.next().state == cli_input::status::too_long);

    cli_input terminated;
    terminated.feed(std::string(cli_input::max_command, 'x') + "\n");
    CHECK(terminated.next().state == cli_input::status::too_long);

    cli_input fits;
    fits.feed(std::string(cli_input::max_command - 1, 'x') + "\n");
    CHECK(fits.next().state == cli_input::status::command);
}
