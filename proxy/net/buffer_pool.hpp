// Relay buffers, per worker. A session holds a buffer only while bytes are in flight (the relay's
// reads take it when bytes arrive, drained_reads.hpp), so ten thousand idle pooled connections
// cost sockets and session state, not 2 x 32 KiB each. One pool per worker thread: taking and returning a buffer
// is a vector push/pop with no lock (STYLE.md section 2).
//
// The buffers are mapped pages, not malloc'd blocks. A burst of busy sessions maps more than the
// pool keeps; what it does not keep is unmapped and leaves the process's RSS, where freed malloc
// blocks would stay resident in the heap for ever. And a session that only ever moves small
// messages touches one page of its buffer, not all eight.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace patroxy::proxy {

class buffer_pool;

/// Unmaps a buffer of the pool's size.
struct unmap_buffer {
    std::size_t size = 0;
    void operator()(std::byte* p) const noexcept;
};
using mapped_buffer = std::unique_ptr<std::byte[], unmap_buffer>;

/// A buffer on loan from a pool; returns itself when dropped. Empty (no storage) by default.
class pooled_buffer {
public:
    pooled_buffer() = default;
    pooled_buffer(buffer_pool* pool, mapped_buffer storage) noexcept : pool_(pool), storage_(std::move(storage)) {}
    pooled_buffer(pooled_buffer&& other) noexcept = default;
    pooled_buffer& operator=(pooled_buffer&& other) noexcept
    {
        if (this != &other) {
            reset();
            pool_ = other.pool_;
            storage_ = std::move(other.storage_);
        }
        return *this;
    }
    pooled_buffer(const pooled_buffer&) = delete;
    pooled_buffer& operator=(const pooled_buffer&) = delete;
    ~pooled_buffer() { reset(); }

    [[nodiscard]] std::byte* get() const noexcept { return storage_.get(); }
    [[nodiscard]] explicit operator bool() const noexcept { return storage_ != nullptr; }
    /// Gives the storage back to the pool now.
    void reset() noexcept;

private:
    buffer_pool* pool_ = nullptr;
    mapped_buffer storage_;
};

class buffer_pool {
public:
    /// Every buffer is `buffer_size` bytes (a multiple of the page size is best); at most
    /// `max_free` are kept for reuse, the rest are unmapped, so a burst does not pin its peak
    /// memory for ever.
    buffer_pool(std::size_t buffer_size, std::size_t max_free) : buffer_size_(buffer_size), max_free_(max_free) {}
    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    /// Throws std::bad_alloc when no memory can be mapped.
    [[nodiscard]] pooled_buffer acquire();
    /// acquire(), or an empty buffer when no memory can be mapped.
    [[nodiscard]] pooled_buffer try_acquire() noexcept
    {
        try {
            return acquire();
        } catch (const std::bad_alloc&) {
            return {};
        }
    }
    [[nodiscard]] std::size_t buffer_size() const noexcept { return buffer_size_; }
    // The two counts below may be read from any thread (the stats page shows them); only the
    // owning worker changes them, once per loan, never per message.
    /// Buffers kept for reuse.
    [[nodiscard]] std::size_t free_count() const noexcept { return free_count_.load(std::memory_order_relaxed); }
    /// Buffers currently lent out.
    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }

private:
    friend class pooled_buffer;
    void give_back(mapped_buffer storage) noexcept;
    void set_counts() noexcept;

    const std::size_t buffer_size_;
    const std::size_t max_free_;
    std::size_t lent_ = 0;
    std::atomic<std::size_t> in_use_ = 0;
    std::atomic<std::size_t> free_count_ = 0;
    std::vector<mapped_buffer> free_;
};

} // namespace patroxy::proxy
