// The shared cancel-key table.
#include "proxy/routing/cancel_registry.hpp"

namespace patroxy::proxy {

std::string cancel_registry::make_key(std::int32_t process_id, std::string_view secret_key)
{
    std::string key(sizeof process_id, '\0');
    for (std::size_t i = 0; i < sizeof process_id; ++i)
        key[i] = static_cast<char>(static_cast<std::uint32_t>(process_id) >> (8 * i));
    key.append(secret_key);
    return key;
}

void cancel_registry::add(std::int32_t process_id, std::string_view secret_key, cancel_target target)
{
    auto key = make_key(process_id, secret_key);
    std::lock_guard lock(mutex_);
    targets_.insert_or_assign(std::move(key), std::move(target));
}

void cancel_registry::remove(std::int32_t process_id, std::string_view secret_key, std::uint64_t session_id)
{
    const auto key = make_key(process_id, secret_key);
    std::lock_guard lock(mutex_);
    if (auto it = targets_.find(key); it != targets_.end() && it->second.session_id == session_id) targets_.erase(it);
}

std::optional<cancel_target> cancel_registry::find(std::int32_t process_id, std::string_view secret_key) const
{
    const auto key = make_key(process_id, secret_key);
    std::lock_guard lock(mutex_);
    if (auto it = targets_.find(key); it != targets_.end()) return it->second;
    return std::nullopt;
}

std::size_t cancel_registry::size() const
{
    std::lock_guard lock(mutex_);
    return targets_.size();
}

} // namespace patroxy::proxy
