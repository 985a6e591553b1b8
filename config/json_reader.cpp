// Typed readers over nlohmann JSON that collect errors at JSON-pointer paths (see json_reader.hpp).
#include "config/json_reader.hpp"
#include "protocol/json_nesting.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace patroxy::config::detail {
namespace {

/// Watches the parser's events and reports keys repeated within one object. nlohmann keeps the
/// last of them silently, so `"bind"` written twice would otherwise hide the first.
class duplicate_key_finder {
public:
    explicit duplicate_key_finder(diagnostics& d) : d_(d) {}

    bool operator()(int /*depth*/, json::parse_event_t event, const json& parsed)
    {
        switch (event) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start: {
            std::string path = next_child_path();
            stack_.push_back({std::move(path), event == json::parse_event_t::array_start, 0, {}, {}});
            break;
        }
        case json::parse_event_t::key:
            on_key(parsed.get_ref<const std::string&>());
            break;
        case json::parse_event_t::value:
            (void)next_child_path(); // counts the element when inside an array
            break;
        case json::parse_event_t::object_end:
        case json::parse_event_t::array_end:
            stack_.pop_back();
            break;
        }
        return true; // keep everything; this only observes
    }

private:
    struct container {
        std::string path;
        bool is_array;
        std::size_t next_index;
        std::set<std::string, std::less<>> keys; // objects only
        std::string key_path;                    // objects only: path of the key just read
    };

    void on_key(const std::string& key)
    {
        container& object = stack_.back();
        object.key_path = child_path(object.path, key);
        if (!object.keys.insert(key).second) {
            d_.error(object.key_path,
                     "duplicate key '" + key + "'; JSON would silently keep only the last one");
        }
    }

    /// Path of the value that starts now in the innermost container.
    std::string next_child_path()
    {
        if (stack_.empty()) {
            return "";
        }
        container& top = stack_.back();
        return top.is_array ? child_path(top.path, top.next_index++) : top.key_path;
    }

    diagnostics& d_;
    std::vector<container> stack_;
};

/// "line L, column C: <nlohmann's explanation>", with L and C counted from the byte offset.
std::string syntax_error_message(std::string_view text, const json::parse_error& e)
{
    // e.byte is 1-based and points at the offending character (one past the end at end of input).
    const std::size_t at = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const std::string_view before = text.substr(0, at);
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const auto last_newline = before.rfind('\n');
    const std::size_t line_start = last_newline == std::string_view::npos ? 0 : last_newline + 1;
    const std::size_t column = at - line_start + 1; // in bytes

    // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: " prefix.
    std::string what = e.what();
    if (const auto colon = what.find(": "); colon != std::string::npos) {
        what.erase(0, colon + 2);
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what;
}

std::string escape_pointer_token(std::string_view key)
{
    std::string out;
    for (char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

} // namespace

std::string child_path(std::string_view parent, std::string_view key)
{
    return std::string(parent) + "/" + escape_pointer_token(key);
}

std::string child_path(std::string_view parent, std::size_t index)
{
    return std::string(parent) + "/" + std::to_string(index);
}

std::string describe(const json& value)
{
    if (value.is_object()) {
        return "an object";
    }
    if (value.is_array()) {
        return "a list";
    }
    constexpr std::size_t max_shown = 40;
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > max_shown) {
        text = text.substr(0, max_shown - 3) + "...";
    }
    return text;
}

std::optional<json> parse_json(std::string_view text, diagnostics& d)
{
    // Checked before parsing: nlohmann recurses per level and the key finder keeps a path per
    // level (memory by depth squared: 40 kB of '[' took 474 MB). A config nests 5 levels.
    if (!protocol::json_nesting_within(text)) {
        d.error("", "nested deeper than " + std::to_string(protocol::max_json_nesting) +
                        " levels of arrays and objects; a patroxy config needs 5");
        return std::nullopt;
    }
    duplicate_key_finder finder(d);
    try {
        return json::parse(text.begin(), text.end(),
                           [&finder](int depth, json::parse_event_t event, json& parsed) {
                               return finder(depth, event, parsed);
                           });
    } catch (const json::parse_error& e) {
        d.error("", syntax_error_message(text, e));
        return std::nullopt;
    } catch (const json::out_of_range& e) {
        // A number beyond a double (1e400): nlohmann says which, but not where.
        std::string what = e.what();
        if (const auto end = what.find("] "); end != std::string::npos) what.erase(0, end + 2);
        d.error("", what + "; numbers in a config are small integers");
        return std::nullopt;
    }
}

std::optional<std::string> read_string(const json& value, const std::string& path, diagnostics& d)
{
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        d.error(path, "expected a non-empty string, got " + describe(value));
        return std::nullopt;
    }
    return value.get<std::string>();
}

std::optional<bool> read_bool(const json& value, const std::string& path, diagnostics& d)
{
    if (!value.is_boolean()) {
        d.error(path, "expected true or false, got " + describe(value));
        return std::nullopt;
    }
    return value.get<bool>();
}

std::optional<std::int64_t> read_integer(const json& value, const std::string& path, diagnostics& d,
                                         std::int64_t lo, std::int64_t hi)
{
    bool in_range = false;
    if (value.is_number_unsigned()) { // checked first: above INT64_MAX is out of range, not negative
        const auto n = value.get<std::uint64_t>();
        in_range = std::cmp_greater_equal(n, lo) && std::cmp_less_equal(n, hi);
    } else if (value.is_number_integer()) {
        const auto n = value.get<std::int64_t>();
        in_range = n >= lo && n <= hi;
    }
    if (!in_range) {
        d.error(path, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                          ", got " + describe(value));
        return std::nullopt;
    }
    return value.get<std::int64_t>();
}

std::optional<endpoint> read_endpoint(const json& value, const std::string& path, diagnostics& d)
{
    std::optional<endpoint> e;
    if (value.is_string()) {
        e = parse_endpoint(value.get_ref<const std::string&>());
    }
    if (!e) {
        std::string message = "expected \"host:port\" such as \"0.0.0.0:5000\" or \"[::1]:5000\" "
                              "(port 1..65535), got " + describe(value);
        if (value.is_string() && value.get_ref<const std::string&>().find("::") != std::string::npos) {
            message += "; write IPv6 addresses in brackets";
        }
        d.error(path, message);
    }
    return e;
}

std::optional<duration> read_duration(const json& value, const std::string& path, diagnostics& d)
{
    if (!value.is_string()) {
        d.error(path, "expected a string such as \"1s\", got " + describe(value));
        return std::nullopt;
    }
    auto parsed = parse_duration(value.get_ref<const std::string&>());
    if (!parsed) {
        d.error(path, "expected a duration such as \"250ms\", \"1s\", \"5m\" or \"2h\" (a whole "
                      "number and a unit: ms, s, m, h), got " + describe(value));
    }
    return parsed;
}

std::optional<duration> read_positive_duration(const json& value, const std::string& path,
                                               diagnostics& d)
{
    auto parsed = read_duration(value, path, d);
    if (parsed && parsed->count() == 0) {
        d.error(path, "expected a duration greater than 0, got " + describe(value));
        return std::nullopt;
    }
    return parsed;
}

std::optional<std::uint64_t> read_size(const json& value, const std::string& path, diagnostics& d)
{
    if (!value.is_string()) {
        d.error(path, "expected a string such as \"1MB\", got " + describe(value));
        return std::nullopt;
    }
    auto parsed = parse_size(value.get_ref<const std::string&>());
    if (!parsed) {
        d.error(path, "expected a size such as 16kB, 1MB (a whole number and a unit: B, kB, MB, "
                      "GB; no space), got " + describe(value));
    }
    return parsed;
}

void uniqueness::check(const std::string& value, const std::string& path, diagnostics& d)
{
    const auto [first, inserted] = first_path_.try_emplace(value, path);
    if (!inserted) {
        d.error(path, "duplicate " + what_ + " '" + value + "'; first used at " + first->second);
    }
}

object_reader::object_reader(const json& value, std::string path, diagnostics& d)
    : path_(std::move(path)), d_(d)
{
    if (value.is_object()) {
        object_ = &value;
    } else {
        d_.error(path_, "expected an object, got " + describe(value));
    }
}

const json* object_reader::find(std::string_view key)
{
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
        known_.emplace_back(key);
    }
    if (object_ == nullptr) {
        return nullptr;
    }
    const auto it = object_->find(key);
    return it == object_->end() ? nullptr : &*it;
}

void object_reader::reject_unknown_keys()
{
    if (object_ == nullptr) {
        return;
    }
    std::string expected;
    for (const auto& key : known_) {
        expected += (expected.empty() ? "" : ", ") + key;
    }
    for (const auto& [key, value] : object_->items()) {
        if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
            d_.error(child_path(path_, key), "unknown key '" + key + "'; expected one of: " + expected);
        }
    }
}

} // namespace patroxy::config::detail
