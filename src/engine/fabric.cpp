// fabric.cpp - the local fabric (see fabric.hpp).
#include "engine/fabric.hpp"

#include "wire/ethernet.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

namespace vdestack::engine {

std::uint64_t Fabric::key(std::uint32_t segment, std::span<const std::byte, 6> mac) noexcept {
    return (std::uint64_t{segment} << 48) | wire::mac_key(mac);
}

std::uint32_t Fabric::segment(const std::string& name) {
    std::lock_guard lk(mu_);
    auto it = segments_.find(name);
    if (it != segments_.end()) return it->second;
    // 16 bits of the key are the segment: past that many names, no fabric.
    if (segments_.size() >= 0xffff) return 0;
    const auto id = static_cast<std::uint32_t>(segments_.size() + 1);
    segments_.emplace(name, id);
    return id;
}

void Fabric::learn(std::uint32_t segment, std::span<const std::byte, 6> mac, std::uint64_t id, int tap) {
    if (segment == 0 || wire::is_multicast(mac)) return;  // multicast: never a source
    const std::uint64_t k = key(segment, mac);
    {
        std::shared_lock lk(mu_);
        auto it = ports_.find(k);
        if (it != ports_.end() && it->second.id == id && it->second.tap == tap) return;
    }
    std::lock_guard lk(mu_);
    auto& keys = by_id_[id];
    keys.reserve(keys.size() + 1);
    ports_[k] = Port{id, tap};  // a MAC that moved stays listed under its old id too: forget() checks
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
}

bool Fabric::deliver(std::uint32_t segment, std::span<const std::byte, 6> dst, std::uint64_t self,
                     std::span<const iovec> iov) noexcept {
    if (segment == 0 || wire::is_multicast(dst)) return false;
    std::shared_lock lk(mu_);
    auto it = ports_.find(key(segment, dst));
    if (it == ports_.end() || it->second.id == self) return false;
    // EAGAIN (queue full) or EIO (interface down): dropped, as a NIC would.
    (void)!::writev(it->second.tap, iov.data(), static_cast<int>(iov.size()));
    return true;
}

void Fabric::forget(std::uint64_t id) {
    std::lock_guard lk(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    for (std::uint64_t k : it->second)
        if (auto p = ports_.find(k); p != ports_.end() && p->second.id == id) ports_.erase(p);
    by_id_.erase(it);
}

std::size_t Fabric::size() const {
    std::shared_lock lk(mu_);
    return ports_.size();
}

}  // namespace vdestack::engine
