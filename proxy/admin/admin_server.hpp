// The runtime API's Unix socket (HAProxy's `stats socket`): creating the socket file safely
// (a stale one is replaced, a regular file or another process's live socket is not), its owner
// and permission bits, and one coroutine per connection on the control thread that reads
// commands (cli_input), runs them (commands.hpp) and writes the answers, with an idle timeout.
#pragma once

#include "config/config.hpp"
#include "proxy/admin/commands.hpp"

#include <asio/any_io_executor.hpp>

#include <memory>
#include <string>

namespace patroxy::proxy::admin {

namespace detail {
struct admin_server_state;
}

/// Everything runs on the executor given at construction (the control thread); open(), start()
/// and stop() are called there too.
class admin_server {
public:
    /// Connections served at once; one more is closed at once (HAProxy's CLI default maxconn).
    static constexpr std::size_t max_connections = 10;

    admin_server(asio::any_io_executor executor, backend proxy);
    admin_server(const admin_server&) = delete;
    admin_server& operator=(const admin_server&) = delete;
    /// stop().
    ~admin_server();

    /// Creates and binds the socket at `settings.path`, sets its owner (user/group, by name) and
    /// mode, and listens. A socket file nobody listens on any more (a patroxy that was killed)
    /// is replaced; a path that holds anything else, or a socket another process still listens
    /// on, is refused. The new socket takes the path's name only once its owner and mode are set
    /// (bound under a temporary name, then renamed), so nobody connects through looser
    /// permissions. Returns "" on success, else what failed, for the log.
    [[nodiscard]] std::string open(const config::admin_socket_settings& settings);

    /// Starts accepting; after a successful open().
    void start();

    /// Closes the socket and every connection, and removes the socket file if it is still the one
    /// open() made (not one a newer process has put there since). Safe to call more than once.
    void stop();

    [[nodiscard]] const config::admin_socket_settings& settings() const noexcept;

private:
    std::shared_ptr<detail::admin_server_state> state_;
};

} // namespace patroxy::proxy::admin
