#include "proxy/net/buffer_pool.hpp"

namespace patroxy::proxy {

void pooled_buffer::reset() noexcept
{
    if (storage_ && pool_) pool_->give_back(std::move(storage_));
    storage_.reset();
}

pooled_buffer buffer_pool::acquire()
{
    ++in_use_;
    if (free_.empty()) return {this, std::make_unique_for_overwrite<std::byte[]>(buffer_size_)};
    auto storage = std::move(free_.back());
    free_.pop_back();
    return {this, std::move(storage)};
}

void buffer_pool::give_back(std::unique_ptr<std::byte[]> storage) noexcept
{
    --in_use_;
    if (free_.size() < max_free_) {
        try {
            free_.push_back(std::move(storage));
        } catch (...) { // out of memory while growing the free list: just free the buffer
        }
    }
}

} // namespace patroxy::proxy
