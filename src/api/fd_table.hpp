// fd_table.hpp - which stack each socket number of the ioth API belongs to:
// the per-fd dispatch table of libioth.so's wrappers.
//
// Theory of operation
// -------------------
// A table of atomic pointers indexed by fd, in chunks of 4096 allocated on
// first use and kept until the library is unloaded, so a lookup on the hot
// path (every ioth_read, ioth_send, ...) is two acquire loads and never
// takes a lock. A writer (ioth_msocket, ioth_accept, ioth_close) stores
// with release order; a chunk is published with a compare-and-swap, so two
// threads that allocate the same chunk at once keep one. fds of kMaxFd and
// above are not tracked: set() reports false and get() returns nullptr.
// The table does not own what it points to.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

namespace vde::capi {

template <class T>
class FdTable {
public:
    static constexpr int kChunkBits = 12;
    static constexpr std::size_t kChunk = std::size_t{1} << kChunkBits;
    static constexpr std::size_t kChunks = 256;
    static constexpr int kMaxFd = static_cast<int>(kChunk * kChunks);  // 1 Mi fds

    FdTable() = default;
    FdTable(const FdTable&) = delete;
    FdTable& operator=(const FdTable&) = delete;
    ~FdTable() {
        for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
    }

    // The entry of fd, or nullptr. Lock-free.
    T* get(int fd) const noexcept {
        if (fd < 0 || fd >= kMaxFd) return nullptr;
        const Slot* c = chunks_[static_cast<std::size_t>(fd) >> kChunkBits].load(std::memory_order_acquire);
        return c == nullptr ? nullptr : c[static_cast<std::size_t>(fd) & (kChunk - 1)].load(std::memory_order_acquire);
    }

    // Sets the entry of fd (nullptr clears it). False when fd is out of the
    // table's range, or when a chunk cannot be allocated.
    bool set(int fd, T* v) noexcept {
        if (fd < 0 || fd >= kMaxFd) return false;
        std::atomic<Slot*>& slot_chunk = chunks_[static_cast<std::size_t>(fd) >> kChunkBits];
        Slot* c = slot_chunk.load(std::memory_order_acquire);
        if (c == nullptr) {
            if (v == nullptr) return true;
            Slot* fresh = new (std::nothrow) Slot[kChunk]();
            if (fresh == nullptr) return false;
            if (slot_chunk.compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) {
                c = fresh;
            } else {
                delete[] fresh;  // another thread published one: c holds it
            }
        }
        c[static_cast<std::size_t>(fd) & (kChunk - 1)].store(v, std::memory_order_release);
        return true;
    }

    // Clears the entry of fd if it still is `expected`.
    void clear_if(int fd, T* expected) noexcept {
        if (fd < 0 || fd >= kMaxFd) return;
        Slot* c = chunks_[static_cast<std::size_t>(fd) >> kChunkBits].load(std::memory_order_acquire);
        if (c != nullptr) c[static_cast<std::size_t>(fd) & (kChunk - 1)].compare_exchange_strong(expected, nullptr);
    }

private:
    using Slot = std::atomic<T*>;
    std::array<std::atomic<Slot*>, kChunks> chunks_{};
};

}  // namespace vde::capi
