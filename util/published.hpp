#pragma once
// An immutable value shared by all workers and replaced as a whole on reload (config is data:
// a reload builds a new value and swaps the pointer).
//
// Readers keep their own shared_ptr and compare generations once per request — one relaxed
// atomic load on a line nobody writes in steady state — and take the mutex only after a
// publish. Whoever still holds the old value (an in-flight request) keeps it alive.
// Thread-safety: all members may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace sidelight::util {

// Generations are unique across every published value of the process, so a per-thread cache
// (a thread_local copy and its generation) can never take one instance's value for another's.
inline std::uint64_t next_published_generation() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

template <class T>
class published {
  public:
    explicit published(std::shared_ptr<const T> initial) : value_(std::move(initial)) {}

    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

    std::shared_ptr<const T> get() const {
        std::lock_guard lock(mutex_);
        return value_;
    }

    void publish(std::shared_ptr<const T> value) {
        {
            std::lock_guard lock(mutex_);
            value_ = std::move(value);
        }
        generation_.store(next_published_generation(), std::memory_order_release);
    }

    // Refreshes a reader's copy when a newer value was published. Returns true if it changed.
    bool refresh(std::shared_ptr<const T>& copy, std::uint64_t& copy_generation) const {
        const auto g = generation();
        if (g == copy_generation && copy) return false;
        copy = get();
        copy_generation = g;
        return true;
    }

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const T> value_;
    std::atomic<std::uint64_t> generation_{next_published_generation()};
};

}  // namespace sidelight::util
