#pragma once
// The field container of every message the proxy parses and forwards. Beast's fields
// allocate one node per field, so a proxied request costs some twenty malloc/free pairs, and
// glibc's per-thread cache holds only seven blocks per size: most of them went through the
// slower arena paths. field_allocator keeps freed blocks of up to 512 bytes on per-thread
// free lists (a bounded number per 64-byte size class) and hands them out again.
// Blocks may be freed on another thread than the one that allocated them: they simply join
// that thread's lists. Everything comes from, and finally returns to, operator new/delete.

#include <cstddef>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

namespace sidelight::proxy {

namespace field_pool {
void* allocate(std::size_t bytes);
void deallocate(void* p, std::size_t bytes) noexcept;
}  // namespace field_pool

template <class T>
class field_allocator {
  public:
    using value_type = T;
    field_allocator() noexcept = default;
    template <class U>
    field_allocator(const field_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) { return static_cast<T*>(field_pool::allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { field_pool::deallocate(p, n * sizeof(T)); }

    template <class U>
    bool operator==(const field_allocator<U>&) const noexcept {
        return true;
    }
};

namespace http = boost::beast::http;
using fields = http::basic_fields<field_allocator<char>>;
using request_head = http::header<true, fields>;
using response_head = http::header<false, fields>;

}  // namespace sidelight::proxy
