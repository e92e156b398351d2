#pragma once
// The BackendKeyData (process id, secret) of every backend seen through sidelight, with the
// database it belongs to: a CancelRequest arrives on a new connection with only these two
// numbers, and goes to the server that issued them. An unknown key is not forwarded.
// Thread-safe (a mutex).

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

namespace sidelight::dbproxy {

class cancel_keys {
  public:
    void add(std::uint32_t pid, std::uint32_t secret, std::size_t database);
    void remove(std::uint32_t pid, std::uint32_t secret);
    std::optional<std::size_t> find(std::uint32_t pid, std::uint32_t secret) const;

  private:
    static std::uint64_t key(std::uint32_t pid, std::uint32_t secret) {
        return (static_cast<std::uint64_t>(pid) << 32) | secret;
    }
    mutable std::mutex mutex_;
    std::map<std::uint64_t, std::size_t> keys_;
};

inline void cancel_keys::add(std::uint32_t pid, std::uint32_t secret, std::size_t database) {
    std::lock_guard lock(mutex_);
    keys_[key(pid, secret)] = database;
}

inline void cancel_keys::remove(std::uint32_t pid, std::uint32_t secret) {
    std::lock_guard lock(mutex_);
    keys_.erase(key(pid, secret));
}

inline std::optional<std::size_t> cancel_keys::find(std::uint32_t pid, std::uint32_t secret) const {
    std::lock_guard lock(mutex_);
    auto it = keys_.find(key(pid, secret));
    if (it == keys_.end()) return std::nullopt;
    return it->second;
}

}  // namespace sidelight::dbproxy
