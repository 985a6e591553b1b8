// Child processes, ports, the patroxy subprocess fixture and the raw TCP client of the integration
// tier. Everything that waits is bounded by a deadline; nothing sleeps without one.
#include "tests/support/patroxy_process.hpp"

#include "tests/support/test_evidence.hpp"
#include "tests/support/pg_bytes.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace patroxy::test {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void throw_errno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

int decode_wait_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

sockaddr_in loopback(std::uint16_t port, const std::string& host = "127.0.0.1")
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
        throw std::runtime_error("not an IPv4 address: " + host);
    return addr;
}

/// True when some socket listens on TCP `port` (IPv4 or IPv6), read from /proc/net/tcp{,6}.
/// Unlike a probe connection this leaves no trace in the proxy under test: no phantom session
/// counted against max_connections, no log line, no round-robin step.
bool port_listening(std::uint16_t port)
{
    constexpr unsigned tcp_listen = 0x0a;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line); // header
        while (std::getline(in, line)) {
            // "  0: 0100007F:1F90 00000000:0000 0A ..." -> local address, remote address, state
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            const auto colon = local.rfind(':');
            if (colon == std::string::npos || state.empty())
                continue;
            if (std::stoul(local.substr(colon + 1), nullptr, 16) == port && std::stoul(state, nullptr, 16) == tcp_listen)
                return true;
        }
    }
    return false;
}

int remaining_ms(clock::time_point deadline)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, 60'000));
}

std::mutex finished_logs_mutex;
std::vector<std::string> finished_logs;

/// A port bind() chose on 127.0.0.1 a moment ago.
std::uint16_t unused_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw_errno("socket");
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        throw_errno("bind 127.0.0.1:0");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

} // namespace

std::uint16_t free_port()
{
    // The kernel may hand out the same free port twice in a row; a test that asks for several
    // (listeners of one config) needs them distinct.
    static std::mutex mutex;
    static std::set<std::uint16_t> handed_out;
    const std::lock_guard lock(mutex);
    for (int attempt = 0; attempt < 100; ++attempt) {
        const auto port = unused_port();
        if (handed_out.insert(port).second)
            return port;
    }
    throw std::runtime_error("no free port on 127.0.0.1 that this process did not hand out already");
}


std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string make_temp_dir(std::string_view prefix)
{
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" +
                          std::string(prefix) + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
        throw_errno("mkdtemp " + pattern);
    return pattern;
}

bool keep_temp_dirs()
{
    const char* keep = std::getenv("PATROXY_TEST_KEEP");
    return keep != nullptr && *keep != '\0' && std::string_view(keep) != "0";
}

// --- subprocess ---

subprocess::subprocess(const process_options& options)
{
    if (options.argv.empty())
        throw std::invalid_argument("subprocess: empty argv");

    // Everything the child needs is prepared here: between fork and exec only
    // async-signal-safe calls are allowed.
    std::vector<char*> argv;
    for (const auto& a : options.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string output = options.output_file.empty() ? "/dev/null" : options.output_file;

    bool drop_to_postgres = options.as_postgres && ::geteuid() == 0;
    uid_t uid = 0;
    gid_t gid = 0;
    if (drop_to_postgres) {
        const passwd* pw = ::getpwnam("postgres");
        if (pw == nullptr)
            throw std::runtime_error("running as root but there is no 'postgres' user");
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }

    // The child reports a failed exec through this close-on-exec pipe.
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0)
        throw_errno("pipe2");

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(report[0]);
        ::close(report[1]);
        throw_errno("fork");
    }
    if (pid == 0) {
        ::close(report[0]);
        auto fail = [&](int stage) {
            const int err[2] = {stage, errno};
            [[maybe_unused]] const auto n = ::write(report[1], err, sizeof err);
            ::_exit(127);
        };
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0)
            fail(1);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0)
            fail(2);
        if (drop_to_postgres &&
            (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0))
            fail(3);
        // Set after the credential change, which would clear it.
        if (options.parent_death_signal != 0) {
            ::prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
            if (::getppid() != parent)
                ::_exit(127);
        }
        // The child must not keep the test's sockets (a fake Patroni's acceptor, say): Asio
        // opens them without close-on-exec, and an inherited listening socket keeps accepting.
        const long max_fd = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
        for (int fd = 3; fd < max_fd; ++fd) {
            const int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
        ::execvp(argv[0], argv.data());
        fail(4);
    }

    ::close(report[1]);
    int err[2] = {0, 0};
    ssize_t n;
    do {
        n = ::read(report[0], err, sizeof err);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    pid_ = pid;
    if (n > 0) {
        wait_for(5s);
        static constexpr const char* stages[] = {"", "open stdio", "chdir", "switch to user postgres", "exec"};
        throw std::runtime_error("cannot start " + options.argv[0] + ": " +
                                 stages[std::clamp(err[0], 0, 4)] + ": " + std::strerror(err[1]));
    }
}

subprocess::subprocess(subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt))
{
}

subprocess& subprocess::operator=(subprocess&& other) noexcept
{
    if (this != &other) {
        if (pid_ > 0 && !status_)
            stop(SIGKILL, 5s);
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

subprocess::~subprocess()
{
    if (pid_ > 0 && !status_)
        stop(SIGKILL, 5s);
}

bool subprocess::running()
{
    if (pid_ <= 0 || status_)
        return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = decode_wait_status(status);
        return false;
    }
    if (r < 0 && errno == ECHILD) {
        status_ = -1;
        return false;
    }
    return true;
}

std::optional<int> subprocess::wait_for(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    while (running()) {
        if (clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(5ms);
    }
    return status_;
}

int subprocess::stop(int signal, std::chrono::milliseconds grace)
{
    if (!running())
        return status_.value_or(-1);
    ::kill(pid_, signal);
    if (auto s = wait_for(grace))
        return *s;
    ::kill(pid_, SIGKILL);
    if (auto s = wait_for(10s))
        return *s;
    return -1;
}

int run_command(const process_options& options, std::chrono::milliseconds timeout)
{
    subprocess p(options);
    if (auto s = p.wait_for(timeout))
        return *s;
    p.stop(SIGKILL, 5s);
    return -1;
}

// --- config ---

namespace {

std::string json_string(std::string_view s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

} // namespace

std::string proxy_config::to_json() const
{
    std::ostringstream j;
    j << "{\n  \"cluster\": { \"members\": [";
    for (std::size_t i = 0; i < members.size(); ++i) {
        const auto& m = members[i];
        j << (i ? ",\n" : "\n") << "    { \"name\": " << json_string(m.name) << ", \"host\": " << json_string(m.host)
          << ", \"port\": " << m.port << " }";
    }
    j << " ] },\n  \"listeners\": [";
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        const auto& l = listeners[i];
        j << (i ? ",\n" : "\n") << "    { \"name\": " << json_string(l.name) << ", \"bind\": \"127.0.0.1:" << l.port
          << "\", \"servers\": [";
        for (std::size_t s = 0; s < l.servers.size(); ++s)
            j << (s ? ", " : "") << json_string(l.servers[s]);
        j << "], \"max_connections\": " << l.max_connections << ", \"tls\": " << json_string(l.tls)
          << (l.extra_json.empty() ? "" : ", ") << l.extra_json << " }";
    }
    j << " ],\n  \"timeouts\": { \"connect\": " << json_string(connect_timeout)
      << ", \"startup\": " << json_string(startup_timeout) << ", \"client_idle\": " << json_string(client_idle_timeout)
      << ", \"server_idle\": " << json_string(server_idle_timeout) << " },\n  \"workers\": " << workers
      << (extra_json.empty() ? "" : ",\n  ") << extra_json << "\n}\n";
    return j.str();
}

std::vector<std::uint16_t> proxy_config::listener_ports() const
{
    std::vector<std::uint16_t> ports;
    for (const auto& l : listeners)
        ports.push_back(l.port);
    return ports;
}

// --- patroxy_process ---

patroxy_process::patroxy_process(std::string binary, const proxy_config& config,
                                 std::chrono::milliseconds ready_timeout)
    : patroxy_process(std::move(binary), config.to_json(), config.listener_ports(), config.extra_args, ready_timeout)
{
}

patroxy_process::patroxy_process(std::string binary, const std::string& config_json,
                                 std::vector<std::uint16_t> ports, std::vector<std::string> extra_args,
                                 std::chrono::milliseconds ready_timeout)
    : dir_(make_temp_dir("patroxy-it")), config_path_(dir_ + "/config.json"), log_path_(dir_ + "/patroxy.log")
{
    try {
        std::ofstream(config_path_) << config_json;
        record_config_secrets(config_json);
        process_options options({std::move(binary), "-f", config_path_});
        options.argv.insert(options.argv.end(), extra_args.begin(), extra_args.end());
        options.output_file = log_path_;
        options.parent_death_signal = SIGKILL;
        process_ = subprocess(options);
        const auto deadline = clock::now() + ready_timeout;
        for (const std::uint16_t port : ports) {
            while (!port_listening(port)) {
                if (!process_.running())
                    throw std::runtime_error("patroxy exited with status " +
                                             std::to_string(process_.exit_status().value_or(-1)) +
                                             " before listening; log:\n" + log());
                if (clock::now() >= deadline)
                    throw std::runtime_error("patroxy did not listen on 127.0.0.1:" + std::to_string(port) +
                                             " within " + std::to_string(ready_timeout.count()) + " ms; log:\n" +
                                             log());
                std::this_thread::sleep_for(10ms);
            }
        }
    } catch (...) {
        process_.stop(SIGKILL, 5s);
        keep_log(log_path_);
        if (!keep_temp_dirs())
            std::filesystem::remove_all(dir_);
        throw;
    }
}

patroxy_process::~patroxy_process()
{
    stop();
    std::string entry = "patroxy (" + config_path_ + ") exit status " +
                        std::to_string(process_.exit_status().value_or(-1)) + ", log:\n" + log();
    {
        std::lock_guard lock(finished_logs_mutex);
        finished_logs.push_back(std::move(entry));
    }
    keep_log(log_path_);
    if (!keep_temp_dirs()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

bool patroxy_process::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) const
{
    const auto deadline = clock::now() + timeout;
    for (;;) {
        if (log().find(needle) != std::string::npos)
            return true;
        if (clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(20ms);
    }
}

int patroxy_process::stop(std::chrono::milliseconds grace) { return process_.stop(SIGTERM, grace); }

std::vector<std::string> take_finished_logs()
{
    std::lock_guard lock(finished_logs_mutex);
    return std::exchange(finished_logs, {});
}

command_result run_captured(const std::string& binary, const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout)
{
    const std::string dir = make_temp_dir("patroxy-run");
    process_options options({binary});
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.output_file = dir + "/output";
    command_result result;
    result.exit_status = run_command(options, timeout);
    result.output = read_file(options.output_file);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return result;
}

// --- raw_connection ---

std::map<char, std::string> error_fields(const backend_message& message)
{
    std::map<char, std::string> fields;
    const auto& b = message.body;
    std::size_t i = 0;
    while (i < b.size() && b[i] != std::byte{0}) {
        const char type = static_cast<char>(b[i++]);
        std::string value;
        while (i < b.size() && b[i] != std::byte{0})
            value += static_cast<char>(b[i++]);
        ++i; // the value's NUL
        fields[type] = std::move(value);
    }
    return fields;
}

raw_connection::raw_connection(std::uint16_t port, const std::string& host)
{
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw_errno("socket");
    const sockaddr_in addr = loopback(port, host);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        const int saved = errno;
        ::close(fd_);
        fd_ = -1;
        errno = saved;
        throw_errno("connect " + host + ":" + std::to_string(port));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

raw_connection::raw_connection(raw_connection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

raw_connection& raw_connection::operator=(raw_connection&& other) noexcept
{
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

raw_connection::~raw_connection() { close(); }

void raw_connection::close(bool reset)
{
    if (fd_ < 0)
        return;
    if (reset) {
        const linger l{.l_onoff = 1, .l_linger = 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd_);
    fd_ = -1;
}

bool raw_connection::send(std::span<const std::byte> bytes)
{
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool raw_connection::wait_readable(clock::time_point deadline)
{
    for (;;) {
        pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
        const int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

std::optional<std::vector<std::byte>> raw_connection::read_exact(std::size_t n, std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::vector<std::byte> out(n);
    std::size_t got = 0;
    while (got < n) {
        if (!wait_readable(deadline))
            return std::nullopt;
        const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
        if (r == 0)
            return std::nullopt;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return std::nullopt;
        }
        got += static_cast<std::size_t>(r);
    }
    return out;
}

std::optional<backend_message> raw_connection::read_message(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    const auto header = read_exact(5, timeout);
    if (!header)
        return std::nullopt;
    std::uint32_t length = 0;
    for (std::size_t i = 1; i < 5; ++i)
        length = (length << 8) | std::to_integer<std::uint32_t>((*header)[i]);
    // A test client has no business with messages over 64 MB; treat that as garbage.
    if (length < 4 || length > (64u << 20))
        return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    auto body = read_exact(length - 4, std::max(left, std::chrono::milliseconds(0)));
    if (!body)
        return std::nullopt;
    return backend_message{static_cast<char>((*header)[0]), std::move(*body)};
}

std::optional<std::size_t> raw_connection::wait_closed(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::byte sink[4096];
    std::size_t received = 0;
    for (;;) {
        if (!wait_readable(deadline))
            return std::nullopt;
        const ssize_t r = ::recv(fd_, sink, sizeof sink, 0);
        if (r == 0)
            return received;
        if (r > 0)
            received += static_cast<std::size_t>(r);
        else if (errno != EINTR && errno != EAGAIN)
            return received; // reset: closed as well
    }
}

std::vector<backend_message> raw_connection::startup(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::vector<backend_message> messages;
    // A proxy that refuses at accept may already have closed: its reply is still readable.
    (void)send(pg_bytes::startup({{"user", "postgres"}, {"database", "postgres"}}));
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        auto m = read_message(std::max(left, std::chrono::milliseconds(0)));
        if (!m)
            return {};
        const char type = m->type;
        messages.push_back(std::move(*m));
        if (type == 'Z' || type == 'E')
            return messages;
    }
}

std::optional<backend_key> find_backend_key(const std::vector<backend_message>& messages)
{
    for (const auto& m : messages) {
        if (m.type != 'K' || m.body.size() < 8)
            continue;
        auto i32 = [&](std::size_t at) {
            std::uint32_t v = 0;
            for (std::size_t i = at; i < at + 4; ++i)
                v = (v << 8) | std::to_integer<std::uint32_t>(m.body[i]);
            return static_cast<std::int32_t>(v);
        };
        const backend_key key{i32(0), i32(4)};
        // Both readings of the 32 bits, as a log line might print either.
        record_secret("cancel_key", std::to_string(key.key));
        record_secret("cancel_key", std::to_string(static_cast<std::uint32_t>(key.key)));
        return key;
    }
    return std::nullopt;
}

} // namespace patroxy::test
