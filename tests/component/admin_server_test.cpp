// The runtime API's Unix-socket server in-process: a real admin_server with its io_context on a
// thread and a fake proxy behind it, blocking POSIX clients. The socket file's life (created with
// its mode and owner, a stale one replaced, anything else refused, removed at stop only if still
// its own), one command per connection, pipelining, the line bound and the connection cap.
#include "proxy/admin/admin_server.hpp"
#include "tests/support/unix_client.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;
using patroxy::config::admin_level;
using patroxy::config::admin_socket_settings;
using patroxy::proxy::admin::admin_server;
using patroxy::proxy::admin::backend;

namespace {

/// A temporary directory, removed with what it holds.
struct temp_dir {
    temp_dir()
    {
        std::string pattern = "/tmp/patroxy-admin-XXXXXX";
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
    std::string path;
};

backend fake_backend()
{
    backend b;
    b.view = [] {
        patroxy::proxy::stats::stats_view v;
        v.version = "9.9.9";
        return v;
    };
    b.process = [] { return patroxy::proxy::admin::process_info{}; };
    b.sessions = [] { return std::vector<patroxy::proxy::admin::session_row>{}; };
    b.set_admin = [](std::string_view, std::string_view, patroxy::proxy::stats::admin_state) { return std::string(); };
    return b;
}

/// An admin_server on its own io_context thread. open() runs before the thread starts.
class running_admin {
public:
    explicit running_admin(const admin_socket_settings& settings) : server_(context_.get_executor(), fake_backend())
    {
        error = server_.open(settings);
        if (error.empty())
            server_.start();
        thread_ = std::thread([this] { context_.run(); });
    }
    ~running_admin()
    {
        stop();
        guard_.reset();
        context_.stop();
        thread_.join();
    }
    /// stop() on the server's thread; returns once it ran.
    void stop()
    {
        std::promise<void> done;
        asio::post(context_, [this, &done] {
            server_.stop();
            done.set_value();
        });
        done.get_future().wait();
    }

    std::string error;

private:
    asio::io_context context_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(context_);
    admin_server server_;
    std::thread thread_;
};

/// `input` to the socket at `path`, and what came back before the server closed.
std::optional<std::string> talk(const std::string& path, std::string_view input, std::chrono::milliseconds limit = 3s)
{
    return patroxy::test::unix_exchange(path, input, limit);
}

admin_socket_settings settings_at(const std::string& path)
{
    admin_socket_settings s;
    s.path = path;
    s.mode = 0640;
    s.level = admin_level::admin;
    s.timeout = 2s;
    return s;
}

/// A listening Unix socket at `path` owned by the test (another process's live socket).
int listen_at(const std::string& path)
{
    const int fd = patroxy::test::unix_listen(path);
    REQUIRE(fd >= 0);
    return fd;
}

} // namespace

TEST_CASE("admin server: the socket gets its mode, answers one command per connection, and goes at stop",
          "[component][admin]")
{
    temp_dir dir;
    const auto path = dir.path + "/admin.sock";
    {
        running_admin admin(settings_at(path));
        REQUIRE(admin.error.empty());
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK(S_ISSOCK(st.st_mode));
        CHECK((st.st_mode & 0777) == 0640);
        // No temporary name left behind.
        CHECK(::access((path + "." + std::to_string(::getpid()) + ".tmp").c_str(), F_OK) != 0);

        CHECK(talk(path, "show version\n") == "9.9.9\n\n");
        // Commands that arrived together are all answered before the close.
        CHECK(talk(path, "show version\nshow cli level\n") == "9.9.9\n\nadmin\n\n");
        // A command without its line feed is not run; the client's close ends the connection.
        const int fd = patroxy::test::unix_connect(path);
        REQUIRE(fd >= 0);
        (void)::send(fd, "show version", 12, MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        std::array<char, 64> buffer{};
        pollfd pfd{fd, POLLIN, 0};
        REQUIRE(::poll(&pfd, 1, 3000) == 1);
        CHECK(::recv(fd, buffer.data(), buffer.size(), 0) == 0);
        ::close(fd);

        admin.stop();
        CHECK(::access(path.c_str(), F_OK) != 0);
    }
}

TEST_CASE("admin server: a stale socket file is replaced, a file, a directory or a live socket is refused",
          "[component][admin]")
{
    temp_dir dir;
    const auto path = dir.path + "/admin.sock";

    SECTION("stale: the socket of a process that died")
    {
        ::close(listen_at(path)); // closed without unlinking: what a killed process leaves
        running_admin admin(settings_at(path));
        REQUIRE(admin.error.empty());
        CHECK(talk(path, "show version\n") == "9.9.9\n\n");
    }
    SECTION("a regular file")
    {
        std::ofstream(path) << "not a socket\n";
        running_admin admin(settings_at(path));
        CHECK(admin.error == "admin socket " + path +
                                 ": the path exists and is not a socket; patroxy replaces only a stale socket file");
        CHECK(::access(path.c_str(), F_OK) == 0); // left alone
    }
    SECTION("a directory")
    {
        REQUIRE(::mkdir(path.c_str(), 0700) == 0);
        running_admin admin(settings_at(path));
        CHECK(admin.error.find("the path exists and is not a socket") != std::string::npos);
    }
    SECTION("another process's live socket")
    {
        const int other = listen_at(path);
        running_admin admin(settings_at(path));
        CHECK(admin.error == "admin socket " + path +
                                 ": another process is listening on it (a running patroxy or HAProxy?); not taking it over");
        // Still the other's: a client reaches it.
        const int fd = patroxy::test::unix_connect(path);
        CHECK(fd >= 0);
        if (fd >= 0)
            ::close(fd);
        ::close(other);
    }
    SECTION("a directory that does not exist")
    {
        running_admin admin(settings_at(dir.path + "/missing/admin.sock"));
        CHECK(admin.error.find("cannot bind") != std::string::npos);
    }
}

TEST_CASE("admin server: owner by name, and unknown names refused", "[component][admin]")
{
    temp_dir dir;
    const auto path = dir.path + "/admin.sock";
    auto settings = settings_at(path);
    SECTION("unknown user")
    {
        settings.user = "no-such-user-patroxy";
        running_admin admin(settings);
        CHECK(admin.error == "admin socket " + path + ": admin_socket.user 'no-such-user-patroxy' is not a known user");
        CHECK(::access(path.c_str(), F_OK) != 0);
    }
    SECTION("unknown group")
    {
        settings.group = "no-such-group-patroxy";
        running_admin admin(settings);
        CHECK(admin.error.find("admin_socket.group 'no-such-group-patroxy' is not a known group") != std::string::npos);
    }
    SECTION("a real user: root may give the socket away")
    {
        const passwd* nobody = ::getpwnam("nobody");
        if (::geteuid() != 0 || nobody == nullptr)
            return; // only root can chown to another user
        settings.user = "nobody";
        running_admin admin(settings);
        REQUIRE(admin.error.empty());
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK(st.st_uid == nobody->pw_uid);
    }
}

TEST_CASE("admin server: stop leaves alone a socket file that is no longer its own", "[component][admin]")
{
    temp_dir dir;
    const auto path = dir.path + "/admin.sock";
    running_admin admin(settings_at(path));
    REQUIRE(admin.error.empty());
    // Someone (a newer patroxy) took the path over.
    REQUIRE(::unlink(path.c_str()) == 0);
    const int other = listen_at(path);
    admin.stop();
    CHECK(::access(path.c_str(), F_OK) == 0);
    ::close(other);
}

TEST_CASE("admin server: an overlong line and the connection cap close the connection", "[component][admin]")
{
    temp_dir dir;
    const auto path = dir.path + "/admin.sock";
    running_admin admin(settings_at(path));
    REQUIRE(admin.error.empty());

    CHECK(talk(path, std::string(20000, 'x')) == "");

    std::vector<int> held;
    for (std::size_t i = 0; i < admin_server::max_connections; ++i) {
        const int fd = patroxy::test::unix_connect(path);
        REQUIRE(fd >= 0);
        held.push_back(fd);
    }
    // Let the server accept them all, then one more is closed at once, unanswered.
    std::this_thread::sleep_for(200ms);
    CHECK(talk(path, "show version\n", 2s) == "");
    for (int fd : held)
        ::close(fd);
    // Room again.
    std::this_thread::sleep_for(200ms);
    CHECK(talk(path, "show version\n") == "9.9.9\n\n");
}
