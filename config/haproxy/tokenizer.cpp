// haproxy.cfg lines into words; see tokenizer.hpp. The branches follow the order of HAProxy's own
// parse_line(), because that order decides corner cases (a '#' inside a word starts a comment,
// "\$" is an escape only inside double quotes, a trailing "" adds no word).
#include "config/haproxy/tokenizer.hpp"

#include <cstdlib>

namespace patroxy::config::haproxy {
namespace {

bool is_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

bool is_alpha(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_name_char(char c) noexcept
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class line_tokenizer {
public:
    line_tokenizer(std::string_view text, const line_position& at, const env_lookup& env)
        : text_(text), at_(at), env_(env)
    {
    }

    tokenized_line run();

private:
    /// The character at `i`, or '\0' past the end (where HAProxy's C string has its terminator).
    [[nodiscard]] char at(std::size_t i) const noexcept { return i < text_.size() ? text_[i] : '\0'; }
    [[nodiscard]] static std::string position(std::size_t i) { return " at position " + std::to_string(i + 1); }

    bool escape();
    bool variable();
    [[nodiscard]] std::optional<std::string> pseudo_variable(std::string_view name) const;
    void emit_expanded(std::string_view value, bool split);
    void end_word();
    tokenized_line fail(std::string message) { return {{}, std::move(message)}; }

    std::string_view text_;
    const line_position& at_;
    const env_lookup& env_;
    std::size_t i_ = 0;
    std::vector<std::string> words_;
    std::string word_;
    bool squote_ = false;
    bool dquote_ = false;
    std::size_t quote_at_ = 0;
    std::string error_;
};

void line_tokenizer::end_word()
{
    words_.push_back(std::move(word_));
    word_.clear();
}

tokenized_line line_tokenizer::run()
{
    while (is_space(at(i_))) ++i_;
    while (i_ < text_.size()) {
        const char c = text_[i_];
        if (c == '\n' || c == '\r') break; // HAProxy ends the line here, so a CRLF file reads as LF
        if (c == '\0') return fail("NUL character" + position(i_));
        if (c == '#' && !squote_ && !dquote_) break;
        if (c == '"' && !squote_) {
            dquote_ = !dquote_;
            quote_at_ = i_++;
        } else if (c == '\'' && !dquote_) {
            squote_ = !squote_;
            quote_at_ = i_++;
        } else if (c == '\\' && !squote_) {
            if (!escape()) return fail(error_);
        } else if (is_space(c) && !squote_ && !dquote_) {
            while (is_space(at(i_))) ++i_;
            end_word();
        } else if (c == '$' && dquote_) {
            if (!variable()) return fail(error_);
        } else {
            word_ += c;
            ++i_;
        }
    }
    if (squote_ || dquote_) return fail("unmatched quote" + position(quote_at_));
    if (!word_.empty()) end_word(); // blanks before the end leave an empty word: not a word
    if (words_.size() > max_words)
        return fail("too many words (" + std::to_string(words_.size()) + "; HAProxy reads at most " +
                    std::to_string(max_words) + ")");
    if (!words_.empty() && words_.front().empty()) words_.clear();
    return {std::move(words_), {}};
}

bool line_tokenizer::escape()
{
    const char next = at(i_ + 1);
    switch (next) {
    case ' ':
    case '\\':
    case '#':
    case '\'':
    case '"': word_ += next; break;
    case 't': word_ += '\t'; break;
    case 'n': word_ += '\n'; break;
    case 'r': word_ += '\r'; break;
    case '$':
        if (!dquote_) { // outside double quotes '$' means nothing, so the backslash stays
            word_ += '\\';
            ++i_;
            return true;
        }
        word_ += '$';
        break;
    case 'x': {
        const int high = hex_value(at(i_ + 2));
        const int low = hex_value(at(i_ + 3));
        if (high < 0 || low < 0) {
            error_ = "truncated or invalid hexadecimal sequence" + position(i_);
            return false;
        }
        word_ += static_cast<char>(high * 16 + low);
        i_ += 4;
        return true;
    }
    default: // not an escape sequence: the backslash is an ordinary character
        word_ += '\\';
        ++i_;
        return true;
    }
    i_ += 2;
    return true;
}

std::optional<std::string> line_tokenizer::pseudo_variable(std::string_view name) const
{
    if (name == ".LINE") return std::to_string(at_.line);
    if (name == ".FILE") return std::string(at_.file);
    if (name == ".SECTION") return std::string(at_.section);
    return std::nullopt;
}

bool line_tokenizer::variable()
{
    ++i_; // the '$'
    const bool brace = at(i_) == '{';
    const std::size_t brace_at = i_;
    if (brace) ++i_;
    const char first = at(i_);
    if (!is_alpha(first) && first != '_' && first != '.') {
        error_ = "forbidden first char in environment variable name" + position(i_);
        return false;
    }
    const std::size_t name_at = i_;
    if (first == '.') ++i_;
    while (is_name_char(at(i_))) ++i_;
    const std::string name(text_.substr(name_at, i_ - name_at));
    std::optional<std::string> value;
    if (first == '.') {
        value = pseudo_variable(name);
        if (!value) {
            error_ = "unknown pseudo-variable '" + name + "' (HAProxy knows .FILE, .LINE, .SECTION)" + position(name_at);
            return false;
        }
    } else {
        value = env_(name);
    }
    bool split = false;
    if (brace && at(i_) == '[') {
        if (at(i_ + 1) != '*' || at(i_ + 2) != ']') {
            error_ = "truncated or invalid word expansion sequence" + position(i_);
            return false;
        }
        split = true;
        i_ += 3;
    }
    if (brace) {
        if (at(i_) == '-') { // ${NAME-default}: the default replaces an unset variable, not an empty one
            const auto close = text_.find('}', i_);
            if (close == std::string_view::npos) {
                error_ = "unmatched brace in environment variable name" + position(brace_at);
                return false;
            }
            if (!value) value = std::string(text_.substr(i_ + 1, close - i_ - 1));
            i_ = close;
        } else if (at(i_) != '}') {
            error_ = "unmatched brace in environment variable name" + position(brace_at);
            return false;
        }
        ++i_;
    }
    if (value) emit_expanded(*value, split);
    return true;
}

void line_tokenizer::emit_expanded(std::string_view value, bool split)
{
    for (std::size_t k = 0; k < value.size();) {
        if (split && (is_space(value[k]) || value[k] == '\n' || value[k] == '\r')) {
            end_word();
            while (k < value.size() && (is_space(value[k]) || value[k] == '\n' || value[k] == '\r')) ++k;
        } else {
            word_ += value[k++];
        }
    }
}

} // namespace

std::optional<std::string> process_env(const std::string& name)
{
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
}

tokenized_line tokenize_line(std::string_view text, const line_position& at, const env_lookup& env)
{
    return line_tokenizer(text, at, env).run();
}

std::string expand_address_env(std::string_view word, const env_lookup& env)
{
    std::string out;
    for (std::size_t i = 0; i < word.size();) {
        if (word[i] != '$') {
            out += word[i++];
            continue;
        }
        std::size_t name_at = i + 1;
        const bool brace = name_at < word.size() && word[name_at] == '{';
        if (brace) ++name_at;
        std::size_t end = name_at;
        while (end < word.size() && is_name_char(word[end])) ++end;
        if (end > name_at) {
            if (auto value = env(std::string(word.substr(name_at, end - name_at)))) out += *value;
        }
        // Like env_expand(): the closing brace is dropped only after an opening one, and a '$'
        // without a name vanishes.
        i = (brace && end < word.size() && word[end] == '}') ? end + 1 : end;
    }
    return out;
}

} // namespace patroxy::config::haproxy
