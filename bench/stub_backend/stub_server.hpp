// The stub backend's network side: N worker threads, each with its own io_context and its own
// SO_REUSEPORT acceptor on the same port, one coroutine per session.
#pragma once

#include "bench/stub_backend/stub_protocol.hpp"

#include <cstdint>
#include <string>

namespace patroxy::bench {

struct stub_server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned threads = 1;
    stub_settings settings;
};

/// Serves until SIGINT or SIGTERM; returns the process exit status. Prints "listening on
/// HOST:PORT" on stdout once the sockets are bound.
int run_stub_server(const stub_server_options& options);

} // namespace patroxy::bench
