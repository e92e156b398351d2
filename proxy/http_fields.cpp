#include "proxy/http_fields.hpp"

#include <array>
#include <new>

namespace sidelight::proxy::field_pool {
namespace {

constexpr std::size_t granule = 64;
constexpr std::size_t classes = 8;  // blocks up to 512 bytes
// Per class and thread. A request and its response hold some twenty fields at once, so 64
// connections in flight need over a thousand blocks; with the earlier cap of 64, most frees
// overflowed to operator delete and most allocations went back to malloc. At worst a thread
// keeps 1,024 blocks of each class, 2.3 MB, and only after a burst that needed them all.
constexpr std::size_t max_cached = 1024;

struct free_block {
    free_block* next;
};

// Set once this thread's lists are destroyed (thread exit): later frees go straight back.
thread_local bool lists_gone = false;

class lists {
  public:
    ~lists() {
        lists_gone = true;
        for (std::size_t c = 0; c < classes; ++c) {
            while (heads_[c]) {
                auto* b = heads_[c];
                heads_[c] = b->next;
                ::operator delete(b);
            }
        }
    }
    void* take(std::size_t c) {
        auto* b = heads_[c];
        if (!b) return ::operator new((c + 1) * granule);
        heads_[c] = b->next;
        --counts_[c];
        return b;
    }
    void give(void* p, std::size_t c) noexcept {
        if (counts_[c] == max_cached) {
            ::operator delete(p);
            return;
        }
        auto* b = static_cast<free_block*>(p);
        b->next = heads_[c];
        heads_[c] = b;
        ++counts_[c];
    }

  private:
    std::array<free_block*, classes> heads_{};
    std::array<std::size_t, classes> counts_{};
};

lists& mine() {
    thread_local lists l;
    return l;
}

std::size_t class_of(std::size_t bytes) {
    return bytes == 0 ? 0 : (bytes - 1) / granule;
}

}  // namespace

void* allocate(std::size_t bytes) {
    const auto c = class_of(bytes);
    if (c >= classes || lists_gone) return ::operator new(bytes);
    return mine().take(c);
}

void deallocate(void* p, std::size_t bytes) noexcept {
    const auto c = class_of(bytes);
    if (c >= classes || lists_gone) {
        ::operator delete(p);
        return;
    }
    mine().give(p, c);
}

}  // namespace sidelight::proxy::field_pool
