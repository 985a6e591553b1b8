// Which server issued which cancel key. A CancelRequest arrives on a new connection, possibly on
// another listener and another worker, so this table is shared by all workers; it is touched once
// when a session learns its BackendKeyData and once when the session ends, never per message.
#pragma once

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace patroxy::proxy {

/// Where a cancel key's session lives.
struct cancel_target {
    asio::ip::tcp::endpoint endpoint;
    std::string member;
    std::uint64_t session_id = 0;
};

class cancel_registry {
public:
    /// Records that `session_id`'s backend on `target` issued (process_id, secret_key).
    void add(std::int32_t process_id, std::string_view secret_key, cancel_target target);

    /// Forgets the key, but only if it still belongs to `session_id` (a key reused by another
    /// session must survive the first session's close).
    void remove(std::int32_t process_id, std::string_view secret_key, std::uint64_t session_id);

    /// The server that owns the key, if any.
    [[nodiscard]] std::optional<cancel_target> find(std::int32_t process_id, std::string_view secret_key) const;

    [[nodiscard]] std::size_t size() const;

private:
    static std::string make_key(std::int32_t process_id, std::string_view secret_key);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, cancel_target> targets_;
};

} // namespace patroxy::proxy
