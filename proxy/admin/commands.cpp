// The runtime API's command table, its dispatch, and HAProxy's help and unknown-command texts.
// The answers' wording is HAProxy 2.6's (its cli.c, server.c, proxy.c and stats.c messages), so
// a script that checks for "No such server." or "Permission denied" behaves as it did.
#include "proxy/admin/commands.hpp"

#include "proxy/admin/show_output.hpp"
#include "proxy/stats/render_csv.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace patroxy::proxy::admin {
namespace {

using config::admin_level;

constexpr std::string_view permission_denied = "Permission denied\n";

/// What a handler gets: the command's words and the connection's state.
struct call {
    const command_words& words;
    cli_session& session;
    const backend& proxy;

    /// Word `i`, or "" past the end (as HAProxy's args[] are).
    [[nodiscard]] std::string_view arg(std::size_t i) const noexcept
    {
        return i < words.size() ? std::string_view(words[i]) : std::string_view();
    }
};

using handler = reply (*)(const call&);

struct command_spec {
    std::array<std::string_view, 3> words; ///< the keywords that name it; unused ones empty
    std::string_view synopsis;             ///< as `help` shows it
    std::string_view description;
    admin_level level;                     ///< the lowest level allowed to run it
    handler run;

    [[nodiscard]] std::size_t word_count() const noexcept
    {
        std::size_t n = 0;
        while (n < words.size() && !words[n].empty()) ++n;
        return n;
    }
};

bool allowed(const cli_session& session, admin_level needed) noexcept
{
    return static_cast<int>(session.level) >= static_cast<int>(needed);
}

reply text(std::string s) { return reply{std::move(s), false}; }

// ---- name lookups shared by the server commands ----------------------------------------------

/// "#<n>" with 1 <= n <= count: the 0-based index HAProxy's numeric ids (`iid`, `sid` in show
/// stat) name; nullopt for anything else.
std::optional<std::size_t> numeric_id(std::string_view name, std::size_t count)
{
    if (name.size() < 2 || name.front() != '#') return std::nullopt;
    std::size_t id = 0;
    const auto digits = name.substr(1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc{} || end != digits.data() + digits.size() || id == 0 || id > count) return std::nullopt;
    return id - 1;
}

/// A listener named as HAProxy names a backend: by name, or "#<iid>".
std::optional<std::size_t> find_listener(const stats::stats_view& view, std::string_view name)
{
    if (!name.empty() && name.front() == '#') return numeric_id(name, view.listeners.size());
    for (std::size_t i = 0; i < view.listeners.size(); ++i)
        if (view.listeners[i].name == name) return i;
    return std::nullopt;
}

/// A server of `l` by name or "#<sid>".
const stats::server_row* find_server(const stats::listener_row& l, std::string_view name)
{
    if (!name.empty() && name.front() == '#') {
        const auto index = numeric_id(name, l.servers.size());
        return index ? &l.servers[*index] : nullptr;
    }
    for (const auto& s : l.servers)
        if (s.name == name) return &s;
    return nullptr;
}

/// `<backend>/<server>` resolved to names set_admin takes, or the error text HAProxy answers.
struct server_target {
    std::string listener;
    std::string member;
    std::string error;
};

server_target resolve_server(const call& c, std::string_view spec)
{
    const auto slash = spec.find('/');
    if (slash == std::string_view::npos) return {{}, {}, "Require 'backend/server'.\n"};
    const auto view = c.proxy.view();
    const auto listener = find_listener(view, spec.substr(0, slash));
    if (!listener) return {{}, {}, "No such backend.\n"};
    const auto& l = view.listeners[*listener];
    const auto* server = find_server(l, spec.substr(slash + 1));
    if (!server) return {{}, {}, "No such server.\n"};
    return {l.name, server->name, {}};
}

reply change_state(const call& c, std::string_view spec, stats::admin_state state)
{
    auto target = resolve_server(c, spec);
    if (!target.error.empty()) return text(std::move(target.error));
    auto error = c.proxy.set_admin(target.listener, target.member, state);
    if (!error.empty()) return text(std::move(error) + "\n");
    return {};
}

// ---- the commands ------------------------------------------------------------------------------

reply run_help(const call& c) { return text(usage_text(c.words)); }

reply run_prompt(const call& c)
{
    c.session.prompt = !c.session.prompt;
    return {};
}

reply run_quit(const call&) { return reply{{}, true}; }

reply run_show_info(const call& c) { return text(render_info(c.proxy.view(), c.proxy.process())); }

/// HAProxy's atoi(): leading digits with an optional sign, 0 when there are none.
long long leading_number(std::string_view word) noexcept
{
    long long value = 0;
    const char* begin = word.data();
    if (!word.empty() && word.front() == '+') ++begin;
    (void)std::from_chars(begin, word.data() + word.size(), value);
    return value;
}

reply run_show_stat(const call& c)
{
    const auto view = c.proxy.view();
    stats::csv_filter filter;
    std::size_t next = 2;
    if (!c.arg(2).empty() && !c.arg(3).empty() && !c.arg(4).empty()) {
        // <proxy> <type> <sid>: the proxy by name, else by its id (-1: all).
        const auto by_name = std::find_if(view.listeners.begin(), view.listeners.end(),
                                          [&c](const stats::listener_row& l) { return l.name == c.arg(2); });
        if (by_name != view.listeners.end()) {
            filter.listener = static_cast<std::size_t>(by_name - view.listeners.begin());
        } else {
            const auto id = leading_number(c.arg(2));
            if (id == 0) return text("No such proxy.\n");
            if (id > 0) filter.listener = static_cast<std::size_t>(id - 1);
        }
        filter.types = static_cast<unsigned>(leading_number(c.arg(3)));
        const auto sid = leading_number(c.arg(4));
        if (sid != -1) filter.server = static_cast<std::size_t>(sid < 0 ? 0 : sid);
        next = 5;
    }
    for (; next < c.words.size(); ++next) {
        const auto word = c.arg(next);
        if (word == "up") filter.hide_down = true;
        else if (word == "no-maint") filter.hide_maint = true;
        else if (word == "typed" || word == "json" || word == "desc")
            return text("patroxy answers 'show stat' in CSV only: '" + std::string(word) + "' is not supported.\n");
    }
    return text(stats::render_csv(view, filter));
}

reply run_show_servers_state(const call& c)
{
    const auto view = c.proxy.view();
    std::optional<std::size_t> only;
    if (!c.arg(3).empty()) {
        only = find_listener(view, c.arg(3));
        if (!only) return text("Can't find backend.\n");
    }
    return text(render_servers_state(view, only));
}

reply run_show_sess(const call& c)
{
    auto sessions = c.proxy.sessions();
    std::sort(sessions.begin(), sessions.end(), [](const session_row& a, const session_row& b) { return a.id < b.id; });
    // HAProxy reads the id as C's strtoul(.., 0) does (0x.. hex, 0.. octal, decimal); one that
    // reads as 0 ("all", junk) lists every session.
    const std::string id_text(c.arg(2));
    const auto id = id_text.empty() ? 0ull : std::strtoull(id_text.c_str(), nullptr, 0);
    if (id != 0) {
        std::erase_if(sessions, [id](const session_row& s) { return s.id != id; });
        if (sessions.empty()) return text("Session not found.\n");
    }
    return text(render_sessions(sessions));
}

reply run_show_cli_level(const call& c) { return text(std::string(config::to_string(c.session.level)) + "\n"); }

reply run_show_version(const call& c) { return text(c.proxy.view().version + "\n"); }

/// `operator` and `user`: lower the connection's level; raising it is refused.
reply run_set_level(const call& c)
{
    const auto wanted = c.arg(0) == "operator" ? admin_level::operator_ : admin_level::user;
    if (!allowed(c.session, wanted)) return text(std::string(permission_denied));
    c.session.level = wanted;
    return {};
}

reply run_disable_server(const call& c)
{
    return change_state(c, c.arg(2), stats::admin_state::maint);
}

reply run_enable_server(const call& c)
{
    return change_state(c, c.arg(2), stats::admin_state::ready);
}

reply run_set_server(const call& c)
{
    const auto spec = c.arg(2);
    auto target = resolve_server(c, spec);
    if (!target.error.empty()) return text(std::move(target.error));
    if (c.arg(3) != "state") return text("usage: set server <backend>/<server> state ready|drain|maint\n");
    const auto state = stats::parse_admin_state(c.arg(4));
    if (!state) return text("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
    return change_state(c, spec, *state);
}

// The commands `help` lists, as HAProxy registers them; help, prompt and quit close every
// listing on their own (usage_text). Order: the first whose keywords start the line wins.
constexpr std::array<command_spec, 14> commands{{
    {{"help"}, {}, {}, admin_level::user, run_help},
    {{"prompt"}, {}, {}, admin_level::user, run_prompt},
    {{"quit"}, {}, {}, admin_level::user, run_quit},
    {{"show", "info"}, "show info", "report information about the running process", admin_level::user, run_show_info},
    {{"show", "stat"}, "show stat [<px> <type> <sid>] [up|no-maint]",
     "report counters for each listener and member (CSV)", admin_level::user, run_show_stat},
    {{"show", "servers", "state"}, "show servers state [<backend>]",
     "dump volatile server information (all or for a single backend)", admin_level::user, run_show_servers_state},
    {{"show", "sess"}, "show sess [id]", "report the list of current sessions or dump this exact session",
     admin_level::operator_, run_show_sess},
    {{"show", "cli", "level"}, "show cli level", "display the level of the current CLI session", admin_level::user,
     run_show_cli_level},
    {{"show", "version"}, "show version", "show version of the current process", admin_level::user, run_show_version},
    {{"operator"}, "operator", "lower the level of the current CLI session to operator", admin_level::user,
     run_set_level},
    {{"user"}, "user", "lower the level of the current CLI session to user", admin_level::user, run_set_level},
    {{"disable", "server"}, "disable server <bk>/<srv>", "put a member in maintenance on a listener (closes its sessions)",
     admin_level::admin, run_disable_server},
    {{"enable", "server"}, "enable server <bk>/<srv>", "take a member out of maintenance or drain on a listener",
     admin_level::admin, run_enable_server},
    {{"set", "server"}, "set server <bk>/<srv> state <state>", "set a member ready, drain or maint on a listener",
     admin_level::admin, run_set_server},
}};

/// The first command whose keywords all match the first words (HAProxy's cli_find_kw).
const command_spec* find_command(const command_words& words)
{
    for (const auto& spec : commands) {
        const auto n = spec.word_count();
        if (words.size() < n) continue;
        if (std::equal(spec.words.begin(), spec.words.begin() + static_cast<std::ptrdiff_t>(n), words.begin()))
            return &spec;
    }
    return nullptr;
}

// ---- help and unknown commands: HAProxy's cli_gen_usage_msg ------------------------------------

/// Word `i` of `words`, or "" past the end.
std::string_view word_at(const command_words& words, std::size_t i)
{
    return i < words.size() ? std::string_view(words[i]) : std::string_view();
}

/// HAProxy keeps at most this many keywords per command (CLI_PREFIX_KW_NB) and proposes at most
/// this many look-alikes (CLI_MAX_MATCHES).
constexpr std::size_t prefix_words = 5;
constexpr std::size_t max_matches = 5;

/// A word's fingerprint, as HAProxy compares mistyped words: how often each character class
/// (letters a..z as 1..26, digits 27, anything else 28; 28 also marks the word's start and end)
/// follows another, in a 32x32 table, plus row 0 marking which classes occur.
using fingerprint = std::array<std::uint8_t, 1024>;

void add_to_fingerprint(fingerprint& fp, std::string_view word)
{
    constexpr unsigned edge = 28;
    unsigned from = edge;
    for (const char ch : word) {
        const auto c = static_cast<unsigned char>(ch);
        unsigned to = edge;
        if (c >= 'a' && c <= 'z') to = c - 'a' + 1u;
        else if (c >= 'A' && c <= 'Z') to = c - 'A' + 1u;
        else if (c >= '0' && c <= '9') to = 27;
        fp[to] = 1;
        ++fp[32 * from + to];
        from = to;
    }
    ++fp[32 * from + edge];
}

int fingerprint_distance(const fingerprint& a, const fingerprint& b)
{
    int distance = 0;
    for (std::size_t i = 0; i < a.size(); ++i) distance += std::abs(int{a[i]} - int{b[i]});
    return distance;
}

/// Whether the first `length` keywords of `spec` equal the first `length` words.
bool matches_prefix(const command_spec& spec, const command_words& args, std::size_t length)
{
    for (std::size_t i = 0; i < length; ++i)
        if (i >= spec.word_count() || word_at(args, i).empty() || spec.words[i] != word_at(args, i)) return false;
    return true;
}

std::string usage_line(const command_spec& spec)
{
    std::string line = "  ";
    line += spec.synopsis;
    if (spec.synopsis.size() < 40) line.append(40 - spec.synopsis.size(), ' ');
    line += ": ";
    line += spec.description;
    line += '\n';
    return line;
}

} // namespace

std::string usage_text(const command_words& words)
{
    command_words args = words;
    const bool help = !args.empty() && args.front() == "help";
    if (help) args.erase(args.begin());

    // How many leading words some command's keywords match exactly.
    std::size_t length = 0;
    for (const auto& spec : commands) {
        std::size_t n = 0;
        while (n < prefix_words && n < spec.word_count() && !word_at(args, n).empty() && spec.words[n] == word_at(args, n))
            ++n;
        length = std::max(length, n);
    }

    std::string out;
    if (help)
        out = "The following commands are valid at this level:\n";
    else if (length == 0 && word_at(args, 0).empty())
        out = "Unknown command. Please enter one of the following commands only:\n";
    else
        out = "Unknown command, but maybe one of the following ones is a better match:\n";

    // After the matching words, propose the commands that look most like the rest.
    struct candidate {
        const command_spec* spec = nullptr;
        int distance = INT_MAX;
    };
    std::array<candidate, max_matches> best{};
    if (!word_at(args, length).empty()) {
        fingerprint typed{};
        std::size_t typed_length = 0;
        for (std::size_t i = length; i < prefix_words && !word_at(args, i).empty(); ++i) {
            add_to_fingerprint(typed, word_at(args, i));
            typed_length += word_at(args, i).size();
        }
        for (const auto& spec : commands) {
            if (spec.synopsis.empty() || !matches_prefix(spec, args, length)) continue;
            fingerprint known{};
            std::size_t total = typed_length;
            for (std::size_t i = length; i < spec.word_count(); ++i) {
                add_to_fingerprint(known, spec.words[i]);
                total += spec.words[i].size();
            }
            const int distance = fingerprint_distance(typed, known);
            if (distance >= static_cast<int>(5 * total / 2) || distance >= best.back().distance) continue;
            best.back() = {&spec, distance};
            for (std::size_t i = best.size() - 1; i > 0 && best[i].distance < best[i - 1].distance; --i)
                std::swap(best[i], best[i - 1]);
        }
    }

    std::vector<const command_spec*> listed;
    if (best.front().spec) {
        for (const auto& c : best) {
            if (!c.spec || c.distance > 5 * best.front().distance / 2) break;
            listed.push_back(c.spec);
        }
    } else {
        for (const auto& spec : commands)
            if (!spec.synopsis.empty() && matches_prefix(spec, args, length)) listed.push_back(&spec);
    }
    std::sort(listed.begin(), listed.end(),
              [](const command_spec* a, const command_spec* b) { return usage_line(*a) < usage_line(*b); });
    for (const auto* spec : listed) out += usage_line(*spec);
    out += "  help [<command>]                        : list matching or all commands\n"
           "  prompt                                  : toggle interactive mode with prompt\n"
           "  quit                                    : disconnect\n";
    return out;
}

reply execute(const command_words& words, cli_session& session, const backend& proxy)
{
    const auto* spec = find_command(words);
    if (!spec) return text(usage_text(words));
    // Checked before the arguments, as HAProxy does: a refused command says only that.
    if (!allowed(session, spec->level)) return text(std::string(permission_denied));
    return spec->run(call{words, session, proxy});
}

std::string_view end_of_answer(const cli_session& session) noexcept { return session.prompt ? "\n> " : "\n"; }

} // namespace patroxy::proxy::admin
