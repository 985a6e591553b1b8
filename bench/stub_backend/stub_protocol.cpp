// The stub backend's answers, message by message. PostgreSQL docs, "Message Flow" (simple query,
// extended query, COPY) and "Message Formats" (protocol-flow.html, protocol-message-formats.html).
#include "bench/stub_backend/stub_protocol.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace patroxy::bench {

namespace proto = patroxy::protocol;

namespace {

constexpr std::uint32_t int4_oid = 23;
constexpr std::uint32_t text_oid = 25;
constexpr std::size_t max_statements = 256; ///< per session; more is a client bug, not a benchmark

void append_u16(proto::byte_buffer& out, std::uint16_t v)
{
    out.push_back(std::byte(v >> 8));
    out.push_back(std::byte(v & 0xff));
}

void append_cstring(proto::byte_buffer& out, std::string_view s)
{
    const auto b = proto::as_bytes(s);
    out.insert(out.end(), b.begin(), b.end());
    out.push_back(std::byte{0});
}

/// Writes a type byte and a length word to patch; end_message() fills it in.
std::size_t begin_message(proto::byte_buffer& out, char type)
{
    out.push_back(static_cast<std::byte>(type));
    const std::size_t at = out.size();
    proto::append_u32(out, 0);
    return at;
}

void end_message(proto::byte_buffer& out, std::size_t at)
{
    const auto length = static_cast<std::uint32_t>(out.size() - at);
    for (std::size_t i = 0; i < 4; ++i) out[at + i] = std::byte((length >> (24 - 8 * i)) & 0xff);
}

void append_empty_message(proto::byte_buffer& out, char type)
{
    out.push_back(static_cast<std::byte>(type));
    proto::append_u32(out, 4);
}

void append_ready(proto::byte_buffer& out)
{
    const auto at = begin_message(out, 'Z');
    out.push_back(std::byte{'I'});
    end_message(out, at);
}

void append_command_complete(proto::byte_buffer& out, std::string_view tag)
{
    const auto at = begin_message(out, 'C');
    append_cstring(out, tag);
    end_message(out, at);
}

void append_parameter_status(proto::byte_buffer& out, std::string_view name, std::string_view value)
{
    const auto at = begin_message(out, 'S');
    append_cstring(out, name);
    append_cstring(out, value);
    end_message(out, at);
}

/// RowDescription of the one int4 column every query returns.
const proto::byte_buffer& row_description()
{
    static const proto::byte_buffer bytes = [] {
        proto::byte_buffer out;
        const auto at = begin_message(out, 'T');
        append_u16(out, 1);
        append_cstring(out, "?column?");
        proto::append_u32(out, 0); // table oid
        append_u16(out, 0);        // column number
        proto::append_u32(out, int4_oid);
        append_u16(out, 4);                  // typlen
        proto::append_u32(out, 0xffffffff); // typmod -1
        append_u16(out, 0);                  // text format
        end_message(out, at);
        return out;
    }();
    return bytes;
}

/// DataRow "1" and CommandComplete "SELECT 1": what Execute answers.
const proto::byte_buffer& one_row()
{
    static const proto::byte_buffer bytes = [] {
        proto::byte_buffer out;
        const auto at = begin_message(out, 'D');
        append_u16(out, 1);
        proto::append_u32(out, 1);
        out.push_back(std::byte{'1'});
        end_message(out, at);
        append_command_complete(out, "SELECT 1");
        return out;
    }();
    return bytes;
}

/// The whole answer to a simple query: RowDescription, DataRow, CommandComplete, ReadyForQuery.
const proto::byte_buffer& simple_query_answer()
{
    static const proto::byte_buffer bytes = [] {
        proto::byte_buffer out = row_description();
        out.insert(out.end(), one_row().begin(), one_row().end());
        append_ready(out);
        return out;
    }();
    return bytes;
}

void append_bytes(proto::byte_buffer& out, const proto::byte_buffer& bytes)
{
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void append_error(proto::byte_buffer& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message)
{
    proto::error_fields fields;
    fields.severity.assign(severity);
    fields.sqlstate.assign(sqlstate);
    fields.message.assign(message);
    proto::append_error_response(out, fields);
}

std::string lowercase(std::string_view s)
{
    std::string out(s);
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

/// The number after `marker` in `text` (spaces allowed before it), or `fallback`.
std::uint64_t number_after(std::string_view text, std::string_view marker, std::uint64_t fallback)
{
    const auto at = text.find(marker);
    if (at == std::string_view::npos) return fallback;
    auto rest = text.substr(at + marker.size());
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    return ec == std::errc{} && end != rest.data() ? value : fallback;
}

/// Highest $n placeholder in a query: how many parameters PostgreSQL would infer.
std::size_t placeholder_count(std::string_view sql)
{
    std::size_t highest = 0;
    for (std::size_t i = 0; i + 1 < sql.size(); ++i) {
        if (sql[i] != '$' || !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) continue;
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(sql.data() + i + 1, sql.data() + sql.size(), n);
        if (ec == std::errc{}) highest = std::max(highest, n);
        i = static_cast<std::size_t>(end - sql.data()) - 1;
    }
    return std::min<std::size_t>(highest, 65535);
}

/// A reader over a message body that fails softly: once short, every later read fails too.
class body_reader {
public:
    explicit body_reader(proto::bytes_view body) noexcept : rest_(body) {}
    bool cstring(std::string_view& out) noexcept { return ok_ = ok_ && proto::take_cstring(rest_, out); }
    bool u16(std::uint16_t& out) noexcept
    {
        if (!(ok_ = ok_ && rest_.size() >= 2)) return false;
        out = static_cast<std::uint16_t>((std::to_integer<unsigned>(rest_[0]) << 8) | std::to_integer<unsigned>(rest_[1]));
        rest_ = rest_.subspan(2);
        return true;
    }
    bool u32(std::uint32_t& out) noexcept
    {
        if (!(ok_ = ok_ && rest_.size() >= 4)) return false;
        out = proto::read_u32(rest_);
        rest_ = rest_.subspan(4);
        return true;
    }
    bool skip(std::size_t n) noexcept
    {
        if (!(ok_ = ok_ && rest_.size() >= n)) return false;
        rest_ = rest_.subspan(n);
        return true;
    }
    bool ok() const noexcept { return ok_; }

private:
    proto::bytes_view rest_;
    bool ok_ = true;
};

} // namespace

proto::message_type_set stub_reported_messages()
{
    proto::message_type_set set;
    for (const char type : {'Q', 'P', 'B', 'D', 'E', 'S', 'C', 'H', 'X', 'c', 'f', 'F'})
        set.set(static_cast<unsigned char>(type));
    return set;
}

void append_greeting(proto::byte_buffer& out, const stub_settings& settings, const proto::startup_message& startup,
                     std::int32_t process_id, std::uint32_t secret)
{
    const auto auth = begin_message(out, 'R');
    proto::append_u32(out, 0); // AuthenticationOk: trust
    end_message(out, auth);
    append_parameter_status(out, "application_name", startup.application_name());
    append_parameter_status(out, "client_encoding", "UTF8");
    append_parameter_status(out, "DateStyle", "ISO, MDY");
    append_parameter_status(out, "integer_datetimes", "on");
    append_parameter_status(out, "IntervalStyle", "postgres");
    append_parameter_status(out, "is_superuser", "on");
    append_parameter_status(out, "server_encoding", "UTF8");
    append_parameter_status(out, "server_version", settings.server_version);
    append_parameter_status(out, "session_authorization", startup.user());
    append_parameter_status(out, "standard_conforming_strings", "on");
    append_parameter_status(out, "TimeZone", "UTC");
    const auto key = begin_message(out, 'K');
    proto::append_i32(out, process_id);
    proto::append_u32(out, secret);
    end_message(out, key);
    append_ready(out);
}

proto::byte_buffer build_copy_rows(std::uint64_t count, std::uint32_t row_bytes)
{
    proto::byte_buffer out;
    out.reserve(count * (row_bytes + 5));
    for (std::uint64_t i = 0; i < count; ++i) {
        out.push_back(std::byte{'d'});
        proto::append_u32(out, row_bytes + 4);
        out.insert(out.end(), row_bytes - 1, std::byte{'x'});
        out.push_back(std::byte{'\n'});
    }
    return out;
}

void append_copy_out_end(proto::byte_buffer& out, std::uint64_t rows)
{
    append_empty_message(out, 'c');
    append_command_complete(out, "COPY " + std::to_string(rows));
    append_ready(out);
}

void append_fatal(proto::byte_buffer& out, std::string_view sqlstate, std::string_view message)
{
    append_error(out, "FATAL", sqlstate, message);
}

next_step stub_protocol::on_message(const proto::scanned_message& message, std::uint64_t messages_seen,
                                    proto::byte_buffer& out)
{
    const char type = message.type;
    if (copy_in_) {
        // In COPY FROM STDIN only CopyDone / CopyFail end it; CopyData went by unreported.
        if (type == 'c' || type == 'f') {
            copy_in_ = false;
            if (type == 'c') {
                // The messages between the query and this CopyDone were all CopyData.
                append_command_complete(out, "COPY " + std::to_string(messages_seen - copy_in_start_ - 1));
            } else {
                append_error(out, "ERROR", "57014", "COPY from stdin failed");
            }
            append_ready(out);
        } else if (type == 'X') {
            return next_step::terminate;
        }
        return next_step::carry_on;
    }
    if (type == 'X') return next_step::terminate;
    if (skip_until_sync_ && type != 'S') return next_step::carry_on;
    if (message.truncated) {
        // Bodies over the scanner's capture limit (1 kB) are not kept; the stub has no use for
        // long statements, so it refuses them the way PostgreSQL refuses what it cannot run.
        if (type == 'Q') {
            append_error(out, "ERROR", "54000", "statement too long for the stub backend");
            append_ready(out);
        } else if (type != 'c' && type != 'f') {
            extended_error(out, "54000", "message too long for the stub backend");
        }
        return next_step::carry_on;
    }
    switch (type) {
    case 'Q': {
        std::string_view sql;
        proto::bytes_view body = message.body;
        if (!proto::take_cstring(body, sql)) {
            append_error(out, "ERROR", "08P01", "invalid Query message");
            append_ready(out);
            return next_step::carry_on;
        }
        const auto step = on_query(sql, out);
        if (step == next_step::carry_on && copy_in_) copy_in_start_ = messages_seen;
        return step;
    }
    case 'P': on_parse(message.body, out); break;
    case 'B': on_bind(message.body, out); break;
    case 'D': on_describe(message.body, out); break;
    case 'E': on_execute(message.body, out); break;
    case 'C': on_close(message.body, out); break;
    case 'S':
        skip_until_sync_ = false;
        std::erase_if(portals_, [](const std::string& p) { return p.empty(); });
        append_ready(out);
        break;
    case 'F': extended_error(out, "0A000", "function calls are not supported by the stub backend"); break;
    default: break; // Flush: the session writes after every chunk anyway; stray CopyDone/CopyFail
    }
    return next_step::carry_on;
}

next_step stub_protocol::on_query(std::string_view sql, proto::byte_buffer& out)
{
    const auto first = sql.find_first_not_of(" \t\r\n;");
    if (first == std::string_view::npos) {
        append_empty_message(out, 'I'); // EmptyQueryResponse
        append_ready(out);
        return next_step::carry_on;
    }
    const std::string lower = lowercase(sql.substr(first));
    if (lower.starts_with("copy")) {
        if (lower.find("to stdout") != std::string::npos) {
            // Sizes come from the query pgbench-like tools send to PostgreSQL, e.g.
            // COPY (SELECT repeat('x', 1023) FROM generate_series(1, 1048576)) TO STDOUT.
            copy_out_.rows = number_after(lower, "generate_series(1,", settings_->copy_rows);
            const auto width = number_after(lower, "repeat('x',", settings_->copy_row_bytes - 1) + 1;
            copy_out_.row_bytes = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(width, 1, 1u << 24));
            const auto at = begin_message(out, 'H'); // CopyOutResponse: text, one column
            out.push_back(std::byte{0});
            append_u16(out, 1);
            append_u16(out, 0);
            end_message(out, at);
            return next_step::copy_out;
        }
        if (lower.find("from stdin") != std::string::npos) {
            const auto at = begin_message(out, 'G'); // CopyInResponse: text, one column
            out.push_back(std::byte{0});
            append_u16(out, 1);
            append_u16(out, 0);
            end_message(out, at);
            copy_in_ = true;
            return next_step::carry_on;
        }
    }
    append_bytes(out, simple_query_answer());
    return next_step::carry_on;
}

stub_protocol::statement* stub_protocol::find_statement(std::string_view name) noexcept
{
    const auto it = std::find_if(statements_.begin(), statements_.end(), [&](const statement& s) { return s.name == name; });
    return it == statements_.end() ? nullptr : &*it;
}

const std::string* stub_protocol::find_portal(std::string_view name) const noexcept
{
    const auto it = std::find(portals_.begin(), portals_.end(), name);
    return it == portals_.end() ? nullptr : &*it;
}

void stub_protocol::extended_error(proto::byte_buffer& out, std::string_view sqlstate, std::string_view message)
{
    append_error(out, "ERROR", sqlstate, message);
    skip_until_sync_ = true;
}

void stub_protocol::on_parse(proto::bytes_view body, proto::byte_buffer& out)
{
    body_reader in(body);
    std::string_view name;
    std::string_view sql;
    std::uint16_t declared = 0;
    if (!in.cstring(name) || !in.cstring(sql) || !in.u16(declared)) {
        extended_error(out, "08P01", "invalid Parse message");
        return;
    }
    std::vector<std::uint32_t> types(std::max<std::size_t>(declared, placeholder_count(sql)), 0);
    for (std::size_t i = 0; i < declared; ++i) in.u32(types[i]);
    if (!in.ok()) {
        extended_error(out, "08P01", "invalid Parse message");
        return;
    }
    statement* existing = find_statement(name);
    if (existing != nullptr && !name.empty()) {
        extended_error(out, "42P05", "prepared statement \"" + std::string(name) + "\" already exists");
        return;
    }
    if (existing == nullptr) {
        if (statements_.size() >= max_statements) {
            extended_error(out, "53000", "too many prepared statements for the stub backend");
            return;
        }
        existing = &statements_.emplace_back();
        existing->name.assign(name);
    }
    existing->query.assign(sql);
    existing->param_types = std::move(types);
    append_empty_message(out, '1'); // ParseComplete
}

void stub_protocol::on_bind(proto::bytes_view body, proto::byte_buffer& out)
{
    body_reader in(body);
    std::string_view portal_name;
    std::string_view statement_name;
    std::uint16_t formats = 0;
    std::uint16_t values = 0;
    if (!in.cstring(portal_name) || !in.cstring(statement_name) || !in.u16(formats) || !in.skip(2u * formats) ||
        !in.u16(values)) {
        extended_error(out, "08P01", "invalid Bind message");
        return;
    }
    for (std::size_t i = 0; i < values; ++i) {
        std::uint32_t length = 0;
        if (in.u32(length) && length != 0xffffffff) in.skip(length);
    }
    if (!in.ok()) {
        extended_error(out, "08P01", "invalid Bind message");
        return;
    }
    const statement* s = find_statement(statement_name);
    if (s == nullptr) {
        extended_error(out, "26000", "prepared statement \"" + std::string(statement_name) + "\" does not exist");
        return;
    }
    if (values != s->param_types.size()) {
        extended_error(out, "08P01", "bind message supplies " + std::to_string(values) +
                                         " parameters, but prepared statement \"" + s->name + "\" requires " +
                                         std::to_string(s->param_types.size()));
        return;
    }
    // Every statement answers the same row, so a portal needs nothing but its name.
    if (find_portal(portal_name) == nullptr) portals_.emplace_back(portal_name);
    append_empty_message(out, '2'); // BindComplete
}

void stub_protocol::on_describe(proto::bytes_view body, proto::byte_buffer& out)
{
    // Body: one kind byte ('S' statement, 'P' portal), then the name.
    std::string_view name;
    if (body.empty() || !body_reader(body.subspan(1)).cstring(name)) {
        extended_error(out, "08P01", "invalid Describe message");
        return;
    }
    const char kind = static_cast<char>(body[0]);
    if (kind == 'S') {
        const statement* s = find_statement(name);
        if (s == nullptr) {
            extended_error(out, "26000", "prepared statement \"" + std::string(name) + "\" does not exist");
            return;
        }
        const auto at = begin_message(out, 't'); // ParameterDescription
        append_u16(out, static_cast<std::uint16_t>(s->param_types.size()));
        for (const auto type : s->param_types) proto::append_u32(out, type == 0 ? text_oid : type);
        end_message(out, at);
    } else if (kind != 'P' || find_portal(name) == nullptr) {
        extended_error(out, "34000", "portal \"" + std::string(name) + "\" does not exist");
        return;
    }
    append_bytes(out, row_description());
}

void stub_protocol::on_execute(proto::bytes_view body, proto::byte_buffer& out)
{
    body_reader in(body);
    std::string_view name;
    if (!in.cstring(name)) {
        extended_error(out, "08P01", "invalid Execute message");
        return;
    }
    if (find_portal(name) == nullptr) {
        extended_error(out, "34000", "portal \"" + std::string(name) + "\" does not exist");
        return;
    }
    append_bytes(out, one_row());
}

void stub_protocol::on_close(proto::bytes_view body, proto::byte_buffer& out)
{
    if (body.empty()) {
        extended_error(out, "08P01", "invalid Close message");
        return;
    }
    std::string_view name;
    if (!body_reader(body.subspan(1)).cstring(name)) {
        extended_error(out, "08P01", "invalid Close message");
        return;
    }
    const char kind = static_cast<char>(body[0]);
    // Closing something that does not exist is not an error (PostgreSQL's rule).
    if (kind == 'S') {
        std::erase_if(statements_, [&](const statement& s) { return s.name == name; });
    } else {
        std::erase_if(portals_, [&](const std::string& p) { return p == name; });
    }
    append_empty_message(out, '3'); // CloseComplete
}

} // namespace patroxy::bench
