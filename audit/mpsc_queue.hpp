#pragma once
// A bounded multi-producer / single-consumer queue (Dmitry Vyukov's bounded queue): producers
// claim a cell with one CAS on the tail and never wait for each other or for the consumer; a full
// queue makes try_push return false at once. Any capacity >= 1 works (cells are indexed modulo
// the capacity), so the configured audit.queue_size is exact.
//
// Thread-safety: try_push from any number of threads; try_pop from one thread only.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace sidelight::audit {

template <typename T>
class mpsc_queue {
  public:
    explicit mpsc_queue(std::size_t capacity)
        : capacity_(capacity == 0 ? 1 : capacity), cells_(std::make_unique<cell[]>(capacity_)) {
        for (std::size_t i = 0; i < capacity_; ++i)
            cells_[i].seq.store(i, std::memory_order_relaxed);
    }

    std::size_t capacity() const { return capacity_; }

    // False when full; `value` is left untouched then.
    bool try_push(T& value) {
        std::size_t pos = tail_.load(std::memory_order_relaxed);
        cell* c = nullptr;
        for (;;) {
            c = &cells_[pos % capacity_];
            const std::size_t seq = c->seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
            if (diff == 0) {
                if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
            } else if (diff < 0) {
                return false;
            } else {
                pos = tail_.load(std::memory_order_relaxed);
            }
        }
        c->value = std::move(value);
        c->seq.store(pos + 1, std::memory_order_release);
        return true;
    }

    bool try_pop(T& out) {
        cell& c = cells_[head_ % capacity_];
        const std::size_t seq = c.seq.load(std::memory_order_acquire);
        if (static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(head_ + 1) < 0) {
            return false;
        }
        out = std::move(c.value);
        c.value = T{};
        c.seq.store(head_ + capacity_, std::memory_order_release);
        ++head_;
        return true;
    }

  private:
    struct cell {
        std::atomic<std::size_t> seq{0};
        T value{};
    };

    const std::size_t capacity_;
    std::unique_ptr<cell[]> cells_;
    alignas(64) std::atomic<std::size_t> tail_{0};
    alignas(64) std::size_t head_ = 0;  // consumer only
};

}  // namespace sidelight::audit
