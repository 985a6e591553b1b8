// A list whose links live in its elements. A session joins its worker's lists when it is
// accepted and leaves them when it ends, once per connection: with the links in the session
// that costs a few pointer writes, where a hash set allocates a node for each join and keeps a
// bucket array besides. The element type derives from list_hook<Tag> once per list it can be
// in; Tag tells the hooks apart.
#pragma once

#include <cstddef>

namespace patroxy::proxy {

template <typename Tag>
struct list_hook {
    list_hook() = default;
    // The links belong to the list, not to the value: a copy is in no list.
    list_hook(const list_hook&) noexcept {}
    list_hook& operator=(const list_hook&) noexcept { return *this; }

    list_hook* prev = nullptr;
    list_hook* next = nullptr;
};

/// Elements are linked, not owned: each must leave the list (erase) before it is destroyed.
/// Erasing any element other than the current one is safe while iterating; erasing the current
/// one is not.
template <typename T, typename Tag>
class intrusive_list {
public:
    using hook = list_hook<Tag>;

    intrusive_list() noexcept { head_.prev = head_.next = &head_; }
    intrusive_list(const intrusive_list&) = delete;
    intrusive_list& operator=(const intrusive_list&) = delete;

    void push_back(T& item) noexcept
    {
        hook& h = item;
        h.prev = head_.prev;
        h.next = &head_;
        head_.prev->next = &h;
        head_.prev = &h;
        ++size_;
    }

    /// Removes `item` if it is in the list; an item in no list is left as it is.
    void erase(T& item) noexcept
    {
        hook& h = item;
        if (!h.next) return;
        h.prev->next = h.next;
        h.next->prev = h.prev;
        h.prev = h.next = nullptr;
        --size_;
    }

    [[nodiscard]] static bool linked(const T& item) noexcept { return static_cast<const hook&>(item).next != nullptr; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    class iterator {
    public:
        explicit iterator(hook* at) noexcept : at_(at) {}
        T& operator*() const noexcept { return static_cast<T&>(*at_); }
        T* operator->() const noexcept { return &**this; }
        iterator& operator++() noexcept
        {
            at_ = at_->next;
            return *this;
        }
        bool operator==(const iterator& other) const noexcept = default;

    private:
        hook* at_;
    };

    [[nodiscard]] iterator begin() noexcept { return iterator(head_.next); }
    [[nodiscard]] iterator end() noexcept { return iterator(&head_); }

private:
    hook head_;
    std::size_t size_ = 0;
};

} // namespace patroxy::proxy
