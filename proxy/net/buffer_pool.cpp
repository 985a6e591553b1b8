#include "proxy/net/buffer_pool.hpp"

namespace patroxy::proxy {

void pooled_buffer::reset() noexcept
{
    if (storage_ && pool_) pool_->give_back(std::move(storage_));
    storage_.reset();
}

pooled_buffer buffer_pool::acquire()
{
    // Plain load and store: this worker is the only writer.
    if (free_.empty()) {
        pooled_buffer fresh{this, std::make_unique_for_overwrite<std::byte[]>(buffer_size_)};
        in_use_.store(in_use_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return fresh;
    }
    auto storage = std::move(free_.back());
    free_.pop_back();
    free_count_.store(free_.size(), std::memory_order_relaxed);
    in_use_.store(in_use_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return {this, std::move(storage)};
}

void buffer_pool::give_back(std::unique_ptr<std::byte[]> storage) noexcept
{
    in_use_.store(in_use_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    if (free_.size() < max_free_) {
        try {
            free_.push_back(std::move(storage));
            free_count_.store(free_.size(), std::memory_order_relaxed);
        } catch (...) { // out of memory while growing the free list: just free the buffer
        }
    }
}

} // namespace patroxy::proxy
