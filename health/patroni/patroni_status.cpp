// Decoding GET /patroni and GET /cluster bodies (shapes from Patroni 3.0.2's api.py
// get_postgresql_status() and utils.py cluster_as_json()). nlohmann/json and the field readers
// throw internally; decode_body() is the only place that catches, so nothing escapes.
#include "health/patroni/patroni_status.hpp"
#include "protocol/json_nesting.hpp"

#include <nlohmann/json.hpp>

#include <limits>
#include <utility>

namespace patroxy::health {
namespace {

using json = nlohmann::json;

/// A known field with the wrong shape. Thrown by `fields` and caught in decode_body() only.
struct bad_field {
    std::string message;
};

/// Python truthiness, which is how Patroni reads its routing tags (`bool(tags.get(...))`): so
/// `nosync: "no"` is true to Patroni, and to us.
bool truthy(const json& v)
{
    switch (v.type()) {
    case json::value_t::boolean: return v.get<bool>();
    case json::value_t::number_integer: return v.get<std::int64_t>() != 0;
    case json::value_t::number_unsigned: return v.get<std::uint64_t>() != 0;
    case json::value_t::number_float: return v.get<double>() != 0.0;
    case json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !v.empty();
    default: return false;
    }
}

/// A tag value as text: strings as they are, anything else as JSON ("true", "3").
std::string tag_text(const json& v)
{
    return v.is_string() ? v.get<std::string>() : v.dump();
}

/// Typed access to the members of one JSON object, naming fields by their path in the body
/// ("xlog.location", "members[2].lag") when one has the wrong type. Null counts as absent:
/// Patroni writes null where PostgreSQL returned NULL (e.g. a replica's timeline).
class fields {
public:
    fields(const json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

    /// The value under `key`, or nullptr when absent or null.
    [[nodiscard]] const json* find(std::string_view key) const
    {
        const auto it = object_.find(key);
        return it == object_.end() || it->is_null() ? nullptr : &*it;
    }

    [[noreturn]] void fail(std::string_view key, std::string_view what) const
    {
        throw bad_field{"field '" + path(key) + "' " + std::string(what)};
    }

    [[nodiscard]] std::string path(std::string_view key) const { return prefix_ + std::string(key); }

    [[nodiscard]] std::optional<std::string> string(std::string_view key) const
    {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        if (!v->is_string()) fail(key, "is not a string");
        return v->get<std::string>();
    }

    [[nodiscard]] std::string string_or_empty(std::string_view key) const { return string(key).value_or(""); }

    [[nodiscard]] std::string required_string(std::string_view key) const
    {
        auto s = string(key);
        if (!s) fail(key, "is missing");
        return *std::move(s);
    }

    /// A non-negative integer that fits T.
    template <typename T>
    [[nodiscard]] std::optional<T> unsigned_integer(std::string_view key) const
    {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        if (!v->is_number_integer()) fail(key, "is not an integer");
        if (!v->is_number_unsigned()) fail(key, "is negative");
        const auto n = v->get<std::uint64_t>();
        if (n > std::numeric_limits<T>::max()) fail(key, "is out of range");
        return static_cast<T>(n);
    }

    [[nodiscard]] std::optional<bool> optional_flag(std::string_view key) const
    {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        if (!v->is_boolean()) fail(key, "is not a boolean");
        return v->get<bool>();
    }

    /// Patroni publishes its flags only when true, so absent means false.
    [[nodiscard]] bool flag(std::string_view key) const { return optional_flag(key).value_or(false); }

    [[nodiscard]] const json* object(std::string_view key) const
    {
        const json* v = find(key);
        if (v != nullptr && !v->is_object()) fail(key, "is not an object");
        return v;
    }

    [[nodiscard]] const json* array(std::string_view key) const
    {
        const json* v = find(key);
        if (v != nullptr && !v->is_array()) fail(key, "is not an array");
        return v;
    }

    [[nodiscard]] const json& required_array(std::string_view key) const
    {
        const json* v = array(key);
        if (v == nullptr) fail(key, "is missing");
        return *v;
    }

    /// The readers of a nested object, its fields named "<key>.<field>".
    [[nodiscard]] fields nested(const json& object, std::string_view key) const { return {object, path(key) + "."}; }

    [[nodiscard]] patroni_tags tags(std::string_view key) const
    {
        patroni_tags t;
        const json* v = object(key);
        if (v == nullptr) return t;
        for (const auto& [name, value] : v->items()) t.all.emplace(name, tag_text(value));
        const auto is_set = [v](const char* name) { return v->contains(name) && truthy(v->at(name)); };
        t.nofailover = is_set("nofailover");
        t.noloadbalance = is_set("noloadbalance");
        t.nosync = is_set("nosync");
        t.clonefrom = is_set("clonefrom");
        return t;
    }

    /// Decodes each element of the array under `key` (each must be an object) with
    /// `decode_one(fields)`, naming elements "<key>[i].<field>".
    template <typename Decode>
    [[nodiscard]] auto list(const json& array, std::string_view key, Decode decode_one) const
    {
        std::vector<decltype(decode_one(std::declval<const fields&>()))> out;
        for (std::size_t i = 0; i < array.size(); ++i) {
            const std::string item = std::string(key) + "[" + std::to_string(i) + "]";
            if (!array[i].is_object()) fail(item, "is not an object");
            out.push_back(decode_one(fields(array[i], path(item) + ".")));
        }
        return out;
    }

private:
    const json& object_;
    std::string prefix_;
};

/// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is the useful part.
std::string parse_error_text(const char* what)
{
    std::string_view text(what);
    if (const auto end = text.find("] "); text.starts_with("[json.exception.") && end != std::string_view::npos) {
        text.remove_prefix(end + 2);
    }
    return "not JSON: " + std::string(text);
}

/// The one catch site: parses `body`, requires an object and hands it to `decode_root`.
template <typename T, typename Decode>
decode_result<T> decode_body(std::string_view body, Decode decode_root) noexcept
{
    decode_result<T> result;
    // nlohmann recurses per level (parsing, dump() of a tag value, destruction): a hostile body
    // nested 100,000 deep would overflow the stack. No Patroni answer comes near the bound.
    if (!protocol::json_nesting_within(body)) {
        result.error = "not a Patroni answer: JSON nested deeper than " + std::to_string(protocol::max_json_nesting) + " levels";
        return result;
    }
    try {
        const json root = json::parse(body.begin(), body.end());
        if (!root.is_object()) {
            result.error = "not a JSON object";
            return result;
        }
        result.value = decode_root(fields(root, ""));
    } catch (const json::parse_error& e) {
        result.error = parse_error_text(e.what());
    } catch (const json::out_of_range& e) { // a number beyond a double, such as 1e400
        result.error = parse_error_text(e.what());
    } catch (const bad_field& e) {
        result.error = e.message;
    } catch (const std::exception& e) {
        result.error = std::string("cannot decode: ") + e.what();
    }
    return result;
}

xlog_position decode_xlog(const fields& f)
{
    return {
        .location = f.unsigned_integer<std::uint64_t>("location"),
        .received_location = f.unsigned_integer<std::uint64_t>("received_location"),
        .replayed_location = f.unsigned_integer<std::uint64_t>("replayed_location"),
        .paused = f.optional_flag("paused"),
    };
}

replication_peer decode_replication_peer(const fields& f)
{
    return {
        .application_name = f.string_or_empty("application_name"),
        .state = f.string_or_empty("state"),
        .sync_state = f.string_or_empty("sync_state"),
    };
}

patroni_status decode_status(const fields& f)
{
    patroni_status s;
    s.state = f.required_string("state");
    s.role_text = f.required_string("role");
    s.role = parse_pg_role(s.role_text);
    s.timeline = f.unsigned_integer<std::uint64_t>("timeline");
    if (const json* x = f.object("xlog")) s.xlog = decode_xlog(f.nested(*x, "xlog"));
    s.tags = f.tags("tags");
    s.sync_standby = f.flag("sync_standby");
    s.pending_restart = f.flag("pending_restart");
    s.pause = f.flag("pause");
    s.cluster_unlocked = f.flag("cluster_unlocked");
    s.failsafe_mode_is_active = f.flag("failsafe_mode_is_active");
    if (const json* r = f.array("replication")) s.replication = f.list(*r, "replication", decode_replication_peer);
    s.database_system_identifier = f.string_or_empty("database_system_identifier");
    s.postmaster_start_time = f.string_or_empty("postmaster_start_time");
    s.server_version = f.unsigned_integer<std::uint32_t>("server_version");
    s.dcs_last_seen = f.unsigned_integer<std::uint64_t>("dcs_last_seen");
    if (const json* p = f.object("patroni")) {
        const fields pf = f.nested(*p, "patroni");
        s.patroni_version = pf.string_or_empty("version");
        s.scope = pf.string_or_empty("scope");
    }
    return s;
}

/// Patroni writes an integer, or "unknown" when the member published no WAL position.
std::optional<std::uint64_t> decode_lag(const fields& f)
{
    const json* v = f.find("lag");
    if (v != nullptr && v->is_string()) {
        if (v->get_ref<const std::string&>() != "unknown") f.fail("lag", "is neither a byte count nor \"unknown\"");
        return std::nullopt;
    }
    return f.unsigned_integer<std::uint64_t>("lag");
}

cluster_member decode_cluster_member(const fields& f)
{
    cluster_member m;
    m.name = f.required_string("name");
    m.role_text = f.required_string("role");
    m.role = parse_dcs_role(m.role_text);
    m.state = f.string_or_empty("state");
    m.api_url = f.string_or_empty("api_url");
    m.host = f.string_or_empty("host");
    m.port = f.unsigned_integer<std::uint16_t>("port");
    m.timeline = f.unsigned_integer<std::uint64_t>("timeline");
    m.lag = decode_lag(f);
    m.tags = f.tags("tags");
    m.pending_restart = f.flag("pending_restart");
    return m;
}

cluster_view decode_cluster(const fields& f)
{
    cluster_view v;
    v.members = f.list(f.required_array("members"), "members", decode_cluster_member);
    v.pause = f.flag("pause");
    return v;
}

} // namespace

decode_result<patroni_status> decode_patroni_status(std::string_view body) noexcept
{
    return decode_body<patroni_status>(body, decode_status);
}

decode_result<cluster_view> decode_cluster_view(std::string_view body) noexcept
{
    return decode_body<cluster_view>(body, decode_cluster);
}

const cluster_member* cluster_view::leader() const noexcept
{
    const cluster_member* found = nullptr;
    for (const auto& m : members) {
        if (m.role != dcs_role::leader && m.role != dcs_role::standby_leader) continue;
        if (found != nullptr) return nullptr; // two lock holders cannot both be believed
        found = &m;
    }
    return found;
}

const cluster_member* cluster_view::find(std::string_view name) const noexcept
{
    for (const auto& m : members) {
        if (m.name == name) return &m;
    }
    return nullptr;
}

pg_role parse_pg_role(std::string_view text) noexcept
{
    if (text == "master" || text == "primary") return pg_role::primary;
    if (text == "replica") return pg_role::replica;
    if (text == "standby_leader") return pg_role::standby_leader;
    return pg_role::unknown;
}

dcs_role parse_dcs_role(std::string_view text) noexcept
{
    if (text == "leader") return dcs_role::leader;
    if (text == "replica") return dcs_role::replica;
    if (text == "sync_standby") return dcs_role::sync_standby;
    if (text == "standby_leader") return dcs_role::standby_leader;
    return dcs_role::unknown;
}

std::string_view to_string(pg_role r) noexcept
{
    switch (r) {
    case pg_role::primary: return "primary";
    case pg_role::replica: return "replica";
    case pg_role::standby_leader: return "standby_leader";
    case pg_role::unknown: break;
    }
    return "unknown";
}

std::string_view to_string(dcs_role r) noexcept
{
    switch (r) {
    case dcs_role::leader: return "leader";
    case dcs_role::replica: return "replica";
    case dcs_role::sync_standby: return "sync_standby";
    case dcs_role::standby_leader: return "standby_leader";
    case dcs_role::unknown: break;
    }
    return "unknown";
}

} // namespace patroxy::health
