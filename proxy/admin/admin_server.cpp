// The socket side of the runtime API: the socket file's life (stale ones replaced, owner and mode
// set before the name appears, removal on stop), the accept loop, and the connection coroutine:
// read under the idle timeout, cut commands, answer each followed by its end mark, and close as
// HAProxy does (after the answer in non-interactive mode, on `quit`, or after the timeout).
#include "proxy/admin/admin_server.hpp"

#include "proxy/support/control_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>
#include <unordered_set>
#include <vector>

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace patroxy::proxy::admin {
namespace detail {

class admin_connection;
using unix_socket = asio::local::stream_protocol::socket;

struct admin_server_state {
    admin_server_state(asio::any_io_executor ex, backend b)
        : executor(std::move(ex)), proxy(std::move(b)), acceptor(executor)
    {
    }

    void close_all();

    asio::any_io_executor executor;
    backend proxy;
    config::admin_socket_settings settings;
    asio::local::stream_protocol::acceptor acceptor;
    std::unordered_set<admin_connection*> live;
    /// The socket file open() made, to remove it at stop() only if it is still that one.
    std::optional<std::pair<dev_t, ino_t>> file;
    bool stopped = false;
};

} // namespace detail

namespace {

using detail::admin_server_state;
using detail::unix_socket;

using control::before_deadline;
using control::nothrow_awaitable;

std::string system_error_text(int error) { return std::error_code(error, std::system_category()).message(); }

/// What lies at `path` now.
enum class path_state { free, stale_socket, live_socket, not_a_socket, unknown };

/// Looks at `path` without following a symbolic link; `detail` says why for the last three states.
path_state inspect(const std::string& path, std::string& detail)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return path_state::free;
        detail = system_error_text(errno);
        return path_state::unknown;
    }
    if (!S_ISSOCK(st.st_mode)) return path_state::not_a_socket;
    // A socket file: live if something accepts a connection on it. A killed process leaves one
    // that refuses (ECONNREFUSED).
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        detail = system_error_text(errno);
        return path_state::unknown;
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size());
    const int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int error = errno;
    ::close(probe);
    if (rc == 0) return path_state::live_socket;
    if (error == ECONNREFUSED) return path_state::stale_socket;
    if (error == ENOENT) return path_state::free;
    detail = system_error_text(error);
    return path_state::unknown;
}

/// The uid and gid `settings` names (-1: leave as is), or the reason they cannot be found.
struct owner {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    std::string error;
};

owner lookup_owner(const config::admin_socket_settings& settings)
{
    owner out;
    std::vector<char> buffer(16384);
    if (!settings.user.empty()) {
        passwd pw{};
        passwd* found = nullptr;
        const int rc = ::getpwnam_r(settings.user.c_str(), &pw, buffer.data(), buffer.size(), &found);
        if (!found) {
            out.error = "admin_socket.user '" + settings.user + "' is not a known user" +
                        (rc ? " (" + system_error_text(rc) + ")" : std::string());
            return out;
        }
        out.uid = pw.pw_uid;
    }
    if (!settings.group.empty()) {
        group gr{};
        group* found = nullptr;
        const int rc = ::getgrnam_r(settings.group.c_str(), &gr, buffer.data(), buffer.size(), &found);
        if (!found) {
            out.error = "admin_socket.group '" + settings.group + "' is not a known group" +
                        (rc ? " (" + system_error_text(rc) + ")" : std::string());
            return out;
        }
        out.gid = gr.gr_gid;
    }
    return out;
}

/// Octal text of permission bits, as operators write them: "660".
std::string octal(unsigned mode)
{
    char text[8];
    std::snprintf(text, sizeof text, "%o", mode);
    return text;
}

} // namespace

namespace detail {

/// One client of the socket: its commands in, their answers out.
class admin_connection {
public:
    admin_connection(unix_socket socket, std::shared_ptr<admin_server_state> state)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), state_(std::move(state))
    {
        state_->live.insert(this);
        session_.level = state_->settings.level;
    }
    admin_connection(const admin_connection&) = delete;
    admin_connection& operator=(const admin_connection&) = delete;
    ~admin_connection() { state_->live.erase(this); }

    asio::awaitable<void> run();

    void close() noexcept
    {
        std::error_code ignored;
        socket_.close(ignored);
        timer_.cancel();
    }

private:
    /// Runs the complete commands buffered, appending their answers to out_; false when the
    /// connection is to close once out_ is written.
    bool run_buffered_commands();
    asio::awaitable<bool> write_out();

    unix_socket socket_;
    asio::steady_timer timer_;
    std::shared_ptr<admin_server_state> state_;
    cli_input input_;
    cli_session session_;
    std::string out_;
    std::array<char, 4096> buffer_{};
};

bool admin_connection::run_buffered_commands()
{
    for (;;) {
        auto next = input_.next();
        if (next.state == cli_input::status::need_more) return true;
        if (next.state == cli_input::status::too_long) return false; // HAProxy closes on an overlong line too
        reply answer;
        try {
            answer = execute(next.words, session_, state_->proxy);
        } catch (const std::exception&) {
            answer.text = "Internal error.\n"; // HAProxy's words for a command that could not run
        }
        if (answer.close) return false; // quit: nothing more, not even the end mark
        out_ += answer.text;
        out_ += end_of_answer(session_);
        // Non-interactive: one command line, then the connection closes; commands already sent
        // after it (pipelined) are still answered, as HAProxy does.
        if (!session_.prompt && input_.empty()) return false;
    }
}

asio::awaitable<bool> admin_connection::write_out()
{
    if (out_.empty()) co_return true;
    timer_.expires_after(state_->settings.timeout);
    auto write = asio::async_write(socket_, asio::buffer(out_), nothrow_awaitable);
    const auto result = co_await before_deadline(write, timer_);
    out_.clear();
    co_return result && !std::get<0>(*result) && !state_->stopped;
}

asio::awaitable<void> admin_connection::run()
{
    for (;;) {
        const bool keep_open = run_buffered_commands();
        const bool written = co_await write_out();
        if (!written || !keep_open) break;
        timer_.expires_after(state_->settings.timeout);
        auto read = socket_.async_read_some(asio::buffer(buffer_), nothrow_awaitable);
        const auto result = co_await before_deadline(read, timer_);
        if (!result || state_->stopped) break; // idle for admin_socket.timeout, or stop()
        const auto [ec, n] = *result;
        if (ec) break; // EOF (a command without its line feed is dropped, as HAProxy drops it)
        input_.feed(std::string_view(buffer_.data(), n));
    }
    std::error_code ignored;
    socket_.shutdown(unix_socket::shutdown_send, ignored);
    close();
}

void admin_server_state::close_all()
{
    stopped = true;
    std::error_code ignored;
    acceptor.close(ignored);
    for (auto* connection : live) connection->close();
}

} // namespace detail

namespace {

asio::awaitable<void> accept_loop(std::shared_ptr<admin_server_state> state)
{
    co_await control::accept_each(state->acceptor, [&state] { return state->stopped; }, [&state](unix_socket socket) {
        if (state->live.size() >= admin_server::max_connections) {
            std::error_code ignored;
            socket.close(ignored);
            return;
        }
        control::spawn_connection(state->executor, std::make_shared<detail::admin_connection>(std::move(socket), state));
    });
}

} // namespace

admin_server::admin_server(asio::any_io_executor executor, backend proxy)
    : state_(std::make_shared<detail::admin_server_state>(std::move(executor), std::move(proxy)))
{
}

admin_server::~admin_server() { stop(); }

const config::admin_socket_settings& admin_server::settings() const noexcept { return state_->settings; }

std::string admin_server::open(const config::admin_socket_settings& settings)
{
    state_->settings = settings;
    const std::string& path = settings.path;
    const std::string where = "admin socket " + path;
    if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
        return where + ": a Unix socket path is 1 to " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes";

    std::string detail;
    switch (inspect(path, detail)) {
    case path_state::free:
    case path_state::stale_socket: break;
    case path_state::live_socket:
        return where + ": another process is listening on it (a running patroxy or HAProxy?); not taking it over";
    case path_state::not_a_socket:
        return where + ": the path exists and is not a socket; patroxy replaces only a stale socket file";
    case path_state::unknown: return where + ": cannot check the path: " + detail;
    }
    const auto who = lookup_owner(settings);
    if (!who.error.empty()) return where + ": " + who.error;

    // Bound under a temporary name beside the final one, made ready there, then renamed over the
    // path: rename() replaces a stale socket atomically, and the name appears only with its owner
    // and mode set. A path too long for the suffix is bound in place instead.
    std::string bound = path + "." + std::to_string(::getpid()) + ".tmp";
    if (bound.size() >= sizeof(sockaddr_un{}.sun_path)) {
        bound = path;
        ::unlink(path.c_str()); // the stale socket inspect() found, if any
    } else {
        ::unlink(bound.c_str()); // a leftover of an earlier process with the same pid
    }
    auto& acceptor = state_->acceptor;
    const auto fail = [&](const std::string& what) {
        std::error_code ignored;
        acceptor.close(ignored);
        ::unlink(bound.c_str());
        return where + ": " + what;
    };
    std::error_code ec;
    acceptor.open(asio::local::stream_protocol(), ec);
    if (!ec) acceptor.bind(asio::local::stream_protocol::endpoint(bound), ec);
    if (ec) return fail("cannot bind: " + ec.message());
    if ((who.uid != static_cast<uid_t>(-1) || who.gid != static_cast<gid_t>(-1)) &&
        ::chown(bound.c_str(), who.uid, who.gid) != 0) {
        const int error = errno;
        return fail("cannot give it to " + (settings.user.empty() ? std::string("(same user)") : settings.user) + ":" +
                    (settings.group.empty() ? std::string("(same group)") : settings.group) + ": " +
                    system_error_text(error) +
                    (error == EPERM ? " (only root may give a file away; run as root or drop user/group)" : ""));
    }
    if (settings.mode && ::chmod(bound.c_str(), static_cast<mode_t>(*settings.mode)) != 0)
        return fail("cannot set mode " + octal(*settings.mode) + ": " + system_error_text(errno));
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("cannot listen: " + ec.message());
    if (bound != path && ::rename(bound.c_str(), path.c_str()) != 0)
        return fail("cannot rename " + bound + " to it: " + system_error_text(errno));
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) state_->file = std::make_pair(st.st_dev, st.st_ino);
    return {};
}

void admin_server::start()
{
    asio::co_spawn(state_->executor, accept_loop(state_), control::ignore_exception);
}

void admin_server::stop()
{
    if (state_->stopped) return;
    state_->close_all();
    if (!state_->file) return;
    struct stat st {};
    const auto& path = state_->settings.path;
    if (::lstat(path.c_str(), &st) == 0 && std::make_pair(st.st_dev, st.st_ino) == *state_->file) ::unlink(path.c_str());
    state_->file.reset();
}

} // namespace patroxy::proxy::admin
