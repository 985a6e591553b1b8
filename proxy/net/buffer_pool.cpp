#include "proxy/net/buffer_pool.hpp"

#include <new>

#include <sys/mman.h>

namespace patroxy::proxy {

void unmap_buffer::operator()(std::byte* p) const noexcept
{
    if (p != nullptr) ::munmap(p, size);
}

void pooled_buffer::reset() noexcept
{
    if (storage_ && pool_) pool_->give_back(std::move(storage_));
    storage_.reset();
}

pooled_buffer buffer_pool::acquire()
{
    mapped_buffer storage;
    if (free_.empty()) {
        void* p = ::mmap(nullptr, buffer_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        storage = mapped_buffer(static_cast<std::byte*>(p), unmap_buffer{buffer_size_});
    } else {
        storage = std::move(free_.back());
        free_.pop_back();
    }
    ++lent_;
    set_counts();
    return {this, std::move(storage)};
}

void buffer_pool::give_back(mapped_buffer storage) noexcept
{
    --lent_;
    if (free_.size() < max_free_) {
        try {
            free_.push_back(std::move(storage));
        } catch (...) { // out of memory while growing the free list: just unmap the buffer
        }
    }
    set_counts();
}

void buffer_pool::set_counts() noexcept
{
    // Plain stores: this worker is the only writer; the stats page only reads.
    in_use_.store(lent_, std::memory_order_relaxed);
    free_count_.store(free_.size(), std::memory_order_relaxed);
}

} // namespace patroxy::proxy
