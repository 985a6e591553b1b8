// Typed readers over nlohmann JSON that record each problem at its JSON-pointer path and go on,
// so one pass reports every error. parse.cpp builds the config out of them. Internal to config/.
#pragma once

#include "config/config.hpp"
#include "config/names.hpp"

#include <nlohmann/json.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace patroxy::config::detail {

/// Keeps object keys in file order, so errors about one object come out in the order written.
using json = nlohmann::ordered_json;

/// Collects every error found; all readers report through one of these.
class diagnostics {
public:
    void error(std::string path, std::string message)
    {
        errors_.push_back({std::move(path), std::move(message)});
    }
    [[nodiscard]] bool empty() const noexcept { return errors_.empty(); }
    [[nodiscard]] std::vector<config_error> take() noexcept { return std::move(errors_); }

private:
    std::vector<config_error> errors_;
};

/// JSON pointer of a child (RFC 6901: '~' and '/' in keys are escaped as "~0" and "~1").
std::string child_path(std::string_view parent, std::string_view key);
std::string child_path(std::string_view parent, std::size_t index);

/// How a wrong value is shown after "got": scalars as JSON text (shortened), containers by kind.
std::string describe(const json& value);

/// Parses JSON text. Syntax errors ("line L, column C: ...", path "") and keys repeated within
/// one object (JSON allows them, but all but the last would be silently ignored) go to `d`.
[[nodiscard]] std::optional<json> parse_json(std::string_view text, diagnostics& d);

// Readers. Each takes (value, path, diagnostics), checks one JSON value and returns it typed, or
// records why not and returns nullopt. object_reader passes them the value under a key.

/// A non-empty string.
std::optional<std::string> read_string(const json& value, const std::string& path, diagnostics& d);
/// true or false (not 0/1, not "yes").
std::optional<bool> read_bool(const json& value, const std::string& path, diagnostics& d);
/// "host:port" or "[v6]:port".
std::optional<endpoint> read_endpoint(const json& value, const std::string& path, diagnostics& d);
/// A duration greater than zero (intervals, timeouts that must leave some time).
std::optional<duration> read_positive_duration(const json& value, const std::string& path,
                                               diagnostics& d);
/// A duration that may be zero (where zero means "do not wait").
std::optional<duration> read_duration(const json& value, const std::string& path, diagnostics& d);
/// A size in bytes.
std::optional<std::uint64_t> read_size(const json& value, const std::string& path, diagnostics& d);

/// The integer in `value` when it is a JSON integer within [lo, hi] (no fractions, no strings).
std::optional<std::int64_t> read_integer(const json& value, const std::string& path, diagnostics& d,
                                         std::int64_t lo, std::int64_t hi);

/// Reader of a whole number within [lo, hi], converted to T.
template <std::integral T>
auto integer_in(T lo, T hi)
{
    return [lo, hi](const json& value, const std::string& path, diagnostics& d) -> std::optional<T> {
        auto n = read_integer(value, path, d, static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi));
        if (!n) {
            return std::nullopt;
        }
        return static_cast<T>(*n);
    };
}

/// Reader of a size within [lo, hi] bytes, converted to T; `range_text` names the bounds
/// ("1kB to 1GB").
template <std::unsigned_integral T>
auto size_in(T lo, T hi, std::string range_text)
{
    return [lo, hi, range_text](const json& value, const std::string& path,
                                diagnostics& d) -> std::optional<T> {
        auto bytes = read_size(value, path, d);
        if (!bytes) {
            return std::nullopt;
        }
        if (*bytes < lo || *bytes > hi) {
            d.error(path, "expected a size from " + range_text + ", got " + describe(value));
            return std::nullopt;
        }
        return static_cast<T>(*bytes);
    };
}

/// Reader of one of the names in a names.hpp table.
template <class Table>
auto one_of(const Table& table)
{
    using value_type = decltype(table[0].value);
    return [&table](const json& value, const std::string& path,
                    diagnostics& d) -> std::optional<value_type> {
        std::string expected = "expected one of: ";
        const char* separator = "";
        for (const auto& entry : table) {
            if (entry.unsupported.empty()) {
                expected.append(separator).append(entry.name);
                separator = ", ";
            }
        }
        const auto* entry =
            value.is_string() ? find_name(table, value.template get_ref<const std::string&>()) : nullptr;
        if (entry == nullptr) {
            d.error(path, expected + "; got " + describe(value));
            return std::nullopt;
        }
        if (!entry->unsupported.empty()) {
            d.error(path, std::string(entry->unsupported));
            return std::nullopt;
        }
        return entry->value;
    };
}

/// Reads a non-empty JSON array, each element with `read_element`; elements that fail are left
/// out (their errors are recorded). `what` names the elements: "expected a non-empty list of <what>".
template <class Read>
auto read_list(const json& value, const std::string& path, diagnostics& d, std::string_view what,
               Read read_element)
{
    using element = typename std::invoke_result_t<Read, const json&, const std::string&,
                                                  diagnostics&>::value_type;
    if (!value.is_array() || value.empty()) {
        d.error(path, "expected a non-empty list of " + std::string(what) + ", got " + describe(value));
        return std::optional<std::vector<element>>{};
    }
    std::vector<element> out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto e = read_element(value[i], child_path(path, i), d)) {
            out.push_back(std::move(*e));
        }
    }
    return std::optional<std::vector<element>>{std::move(out)};
}

/// Reader of a non-empty list, for object_reader::get(); see read_list().
template <class Read>
auto list_of(std::string_view what, Read read_element)
{
    return [what, read_element](const json& value, const std::string& path, diagnostics& d) {
        return read_list(value, path, d, what, read_element);
    };
}

/// Reports the second and later uses of a value that must be unique, pointing at the first use.
class uniqueness {
public:
    /// `what` names the value in the message: "duplicate <what> 'x'; first used at <path>".
    explicit uniqueness(std::string what) : what_(std::move(what)) {}
    void check(const std::string& value, const std::string& path, diagnostics& d);

private:
    std::string what_;
    std::map<std::string, std::string, std::less<>> first_path_;
};

/// One JSON object being read. Every key asked for (present or not) is declared known, so after
/// the reads reject_unknown_keys() can report typos and list the keys that exist.
class object_reader {
public:
    /// Records an error unless `value` is an object; over a non-object every key is absent.
    object_reader(const json& value, std::string path, diagnostics& d);

    /// Reads `key` into `target` when present and valid; otherwise leaves the default there.
    template <class T, class Read>
    void get(std::string_view key, T& target, Read read)
    {
        if (const json* v = find(key)) {
            if (auto result = read(*v, path_of(key), d_)) {
                target = std::move(*result);
            }
        }
    }

    /// Like get(), but a missing key is an error too.
    template <class T, class Read>
    void require(std::string_view key, T& target, Read read)
    {
        if (is_object() && !has(key)) {
            d_.error(path_of(key), "missing; this key is required");
        }
        get(key, target, read);
    }

    /// Whether `key` is present; declares it known.
    [[nodiscard]] bool has(std::string_view key) { return find(key) != nullptr; }
    [[nodiscard]] bool is_object() const noexcept { return object_ != nullptr; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::string path_of(std::string_view key) const { return child_path(path_, key); }
    [[nodiscard]] diagnostics& diag() noexcept { return d_; }

    /// Reports each key that no read asked for: "unknown key 'x'; expected one of: ...".
    void reject_unknown_keys();

private:
    const json* find(std::string_view key);

    const json* object_ = nullptr;
    std::string path_;
    diagnostics& d_;
    std::vector<std::string> known_; ///< in the order asked, for the "expected one of" list
};

/// Reads a JSON object into a T: `fill(reader, value)` does the reads and checks, then unknown
/// keys are reported. nullopt only when `value` is not an object; otherwise the T holds whatever
/// was valid, and the errors say what was not.
template <class T, class Fill>
std::optional<T> read_object(const json& value, const std::string& path, diagnostics& d, Fill fill)
{
    object_reader reader(value, path, d);
    if (!reader.is_object()) {
        return std::nullopt;
    }
    T out{};
    fill(reader, out);
    reader.reject_unknown_keys();
    return out;
}

} // namespace patroxy::config::detail
