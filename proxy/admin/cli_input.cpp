// Command framing and word splitting for the runtime API.
#include "proxy/admin/cli_input.hpp"

namespace patroxy::proxy::admin {

command_words split_words(std::string_view command)
{
    command_words words;
    std::size_t i = 0;
    while (i < command.size() && words.size() < cli_input::max_words) {
        while (i < command.size() && (command[i] == ' ' || command[i] == '\t')) ++i;
        if (i == command.size()) break;
        std::string word;
        while (i < command.size() && command[i] != ' ' && command[i] != '\t') {
            if (command[i] == '\\') {
                // The escaped character is kept whatever it is; a lone trailing backslash is dropped.
                if (i + 1 < command.size()) word += command[i + 1];
                i += 2;
                continue;
            }
            word += command[i++];
        }
        words.push_back(std::move(word));
    }
    return words;
}

cli_input::result cli_input::next()
{
    // The first line feed or unescaped ';' ends the command. An escaped one stays in it, for
    // split_words to read as part of a word.
    std::size_t end = 0;
    bool found = false;
    while (end < pending_.size()) {
        const char c = pending_[end];
        if (c == '\\') {
            end += 2;
            continue;
        }
        if (c == '\n' || c == ';') {
            found = true;
            break;
        }
        ++end;
    }
    if (!found) {
        if (pending_.size() >= max_command) return {status::too_long, {}};
        return {status::need_more, {}};
    }
    if (end + 1 > max_command) return {status::too_long, {}};
    std::string_view line(pending_.data(), end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    result out{status::command, split_words(line)};
    pending_.erase(0, end + 1);
    return out;
}

} // namespace patroxy::proxy::admin
