// Runs patroxy as a subprocess for the integration tier: child-process handles, free ports, a JSON
// config builder, the patroxy process fixture itself, and a raw TCP client for bytes libpq never sends.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace patroxy::test {

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it back, close), and
/// that this process has not been given before: a config's listeners get distinct ports.
/// Another process could take it before the caller binds it; on loopback in a test run that
/// window is negligible.
[[nodiscard]] std::uint16_t free_port();

/// The whole content of a file, or "" when it cannot be read.
[[nodiscard]] std::string read_file(const std::string& path);

/// A fresh directory under $TMPDIR (or /tmp) made with mkdtemp; `prefix` names its owner.
[[nodiscard]] std::string make_temp_dir(std::string_view prefix);

/// Calls `pred` every `step` until it holds (true) or `timeout` has passed (false): the bounded
/// wait that replaces a sleep.
template <class Pred>
[[nodiscard]] bool poll_until(Pred pred, std::chrono::milliseconds timeout,
                              std::chrono::milliseconds step = std::chrono::milliseconds(50))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
    return true;
}

/// True when PATROXY_TEST_KEEP is set: fixtures then leave their temp dirs behind for debugging.
[[nodiscard]] bool keep_temp_dirs();

/// How to start a child process.
struct process_options {
    explicit process_options(std::vector<std::string> command) : argv(std::move(command)) {}

    std::vector<std::string> argv; ///< argv[0] is searched in PATH unless it contains '/'
    std::string output_file;       ///< stdout and stderr are appended here; "" means /dev/null
    std::string working_dir;       ///< "" keeps the current one
    /// When running as root: switch to the `postgres` OS user before exec (PostgreSQL refuses root).
    bool as_postgres = false;
    /// Signal the child receives if the test process dies, so no server outlives a crashed run.
    /// Linux sends it when the *thread* that forked exits: fork only from the main test thread.
    int parent_death_signal = 0;
};

/// A child process this process forked. Wait results are cached; the destructor kills (SIGKILL)
/// and reaps a child that is still running, so no test leaves a process behind.
class subprocess {
public:
    subprocess() = default;
    /// Forks and execs; throws std::runtime_error when fork fails or exec fails in the child.
    explicit subprocess(const process_options& options);
    subprocess(subprocess&& other) noexcept;
    subprocess& operator=(subprocess&& other) noexcept;
    subprocess(const subprocess&) = delete;
    subprocess& operator=(const subprocess&) = delete;
    ~subprocess();

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// Reaps the child if it has exited; true while it runs.
    [[nodiscard]] bool running();
    /// Exit status once reaped: the exit code, or 128 + signal number.
    [[nodiscard]] std::optional<int> exit_status() const noexcept { return status_; }
    /// Waits up to `timeout` for the child to exit (polling waitpid, never unbounded).
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    /// Sends `signal`, waits up to `grace`, then SIGKILL and waits again; returns the exit status.
    int stop(int signal, std::chrono::milliseconds grace);

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

/// Runs a command to completion; killed (and -1 returned) when it outlives `timeout`.
[[nodiscard]] int run_command(const process_options& options, std::chrono::milliseconds timeout);

/// One PostgreSQL server in the config's cluster.members.
struct member_spec {
    member_spec(std::string member_name, std::uint16_t member_port, std::string member_host = "127.0.0.1")
        : name(std::move(member_name)), port(member_port), host(std::move(member_host))
    {
    }

    std::string name;
    std::uint16_t port = 0;
    std::string host = "127.0.0.1";
};

/// One static listener (servers by member name, round-robin).
struct listener_spec {
    listener_spec(std::string listener_name, std::uint16_t listener_port, std::vector<std::string> server_names)
        : name(std::move(listener_name)), port(listener_port), servers(std::move(server_names))
    {
    }

    std::string name;
    std::uint16_t port = 0; ///< bound on 127.0.0.1
    std::vector<std::string> servers;
    std::uint32_t max_connections = 100;
    std::string tls = "passthrough"; ///< "passthrough", "disable" or "terminate"
    /// More keys of the listener object as raw JSON, e.g. R"("server_tls": "verify-full")".
    std::string extra_json;
};

/// A native JSON config for patroxy, as the tests need it.
struct proxy_config {
    std::vector<member_spec> members;
    std::vector<listener_spec> listeners;
    std::string connect_timeout = "1s";
    std::string startup_timeout = "2s";
    std::string client_idle_timeout = "30m";
    std::string server_idle_timeout = "30m";
    unsigned workers = 1; ///< STYLE.md: tests run one worker so ordering is deterministic
    /// More top-level keys as raw JSON, e.g. R"("tls": { "cert": "..." })".
    std::string extra_json;
    /// Command-line arguments after `-f FILE`, e.g. {"--log-level", "debug"}; not part of the JSON.
    std::vector<std::string> extra_args;

    [[nodiscard]] std::string to_json() const;
    [[nodiscard]] std::vector<std::uint16_t> listener_ports() const;
};

/// `<binary> -f <temp config>` with stderr captured to a file. The constructor returns once every
/// listener port is in LISTEN state (bounded wait) and throws, with the log, when patroxy dies or never
/// listens. The destructor stops it by its PID (SIGTERM, SIGKILL after a grace period).
/// `binary` is the patroxy under test; the integration tier passes its PATROXY_BINARY definition.
class patroxy_process {
public:
    patroxy_process(std::string binary, const proxy_config& config,
                    std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
    /// Any config text; `ports` are the listener ports to wait for; `extra_args` follow `-f FILE`.
    patroxy_process(std::string binary, const std::string& config_json, std::vector<std::uint16_t> ports,
                    std::vector<std::string> extra_args = {},
                    std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
    patroxy_process(const patroxy_process&) = delete;
    patroxy_process& operator=(const patroxy_process&) = delete;
    ~patroxy_process();

    [[nodiscard]] pid_t pid() const noexcept { return process_.pid(); }
    [[nodiscard]] const std::string& config_path() const noexcept { return config_path_; }
    [[nodiscard]] const std::string& log_path() const noexcept { return log_path_; }
    /// Everything patroxy wrote to stdout/stderr so far.
    [[nodiscard]] std::string log() const { return read_file(log_path_); }
    /// Polls the log until it contains `needle`; false after `timeout`.
    [[nodiscard]] bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) const;
    [[nodiscard]] bool running() { return process_.running(); }
    /// SIGTERM, then SIGKILL after `grace`; returns the exit status.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

private:
    std::string dir_;
    std::string config_path_;
    std::string log_path_;
    subprocess process_;
};

/// The logs of the patroxy processes that ended during the current test case, so a failing test
/// can print them (see the Catch2 listener in the integration tier).
[[nodiscard]] std::vector<std::string> take_finished_logs();

/// What `patroxy ARGS...` printed and how it exited.
struct command_result {
    int exit_status = -1; ///< exit code, 128 + signal, or -1 on timeout
    std::string output;   ///< stdout and stderr together
};

/// Runs `binary` with `args` to completion (bounded by `timeout`), capturing its output.
[[nodiscard]] command_result run_captured(const std::string& binary, const std::vector<std::string>& args,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A PostgreSQL backend message as read off a raw socket: type byte and body (after the length).
struct backend_message {
    char type = 0;
    std::vector<std::byte> body;
};

/// The fields of an ErrorResponse/NoticeResponse body by field type ('S', 'C', 'M', ...).
[[nodiscard]] std::map<char, std::string> error_fields(const backend_message& message);

/// BackendKeyData body, parsed.
struct backend_key {
    std::int32_t pid = 0;
    std::int32_t key = 0;
};

/// The BackendKeyData among `messages`, if any.
[[nodiscard]] std::optional<backend_key> find_backend_key(const std::vector<backend_message>& messages);

/// Blocking TCP client for bytes libpq would never send. Every read has a timeout; sends never
/// raise SIGPIPE. For what libpq cannot do: bad input, floods, cancel keys libpq hides, reading
/// the SQLSTATE of a refused startup, byte-level differential checks.
class raw_connection {
public:
    /// Connects to host:port; throws std::runtime_error on failure.
    explicit raw_connection(std::uint16_t port, const std::string& host = "127.0.0.1");
    raw_connection(raw_connection&& other) noexcept;
    raw_connection& operator=(raw_connection&& other) noexcept;
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;
    ~raw_connection();

    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// Sends all bytes; false when the peer is gone (EPIPE, ECONNRESET).
    bool send(std::span<const std::byte> bytes);
    /// Exactly `n` bytes, or nullopt on EOF, error or timeout.
    [[nodiscard]] std::optional<std::vector<std::byte>> read_exact(std::size_t n,
                                                                   std::chrono::milliseconds timeout);
    /// One regular message (type, int32 length, body), or nullopt on EOF, error or timeout.
    [[nodiscard]] std::optional<backend_message> read_message(std::chrono::milliseconds timeout);
    /// Reads until the peer closes (EOF or reset) and returns how many bytes came before the close;
    /// nullopt when the connection is still open after `timeout`.
    [[nodiscard]] std::optional<std::size_t> wait_closed(std::chrono::milliseconds timeout);
    /// Closes the socket; `reset` sends an RST (SO_LINGER 0) instead of a FIN.
    void close(bool reset = false);

    /// Sends a protocol 3.0 StartupMessage (user and database `postgres`) and reads the replies up
    /// to and including ReadyForQuery or an ErrorResponse. Trust auth is assumed: no password.
    /// The last element is what ended the wait; the vector is empty on timeout or close.
    [[nodiscard]] std::vector<backend_message> startup(std::chrono::milliseconds timeout);

private:
    /// Waits for readability; false on timeout.
    bool wait_readable(std::chrono::steady_clock::time_point deadline);
    int fd_ = -1;
};

} // namespace patroxy::test
