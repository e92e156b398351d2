#pragma once
// HTTP request methods as a closed set for metric labels: the nine methods of RFC 9110 and
// RFC 5789 (PATCH), plus `other` for anything else (labelled "_OTHER", never the raw token).
// Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sidelight::routes {

enum class http_method : std::uint8_t {
    get,
    head,
    post,
    put,
    delete_,
    connect,
    options,
    trace,
    patch,
    other,
};

// Number of standard methods (every enumerator before `other`).
inline constexpr std::size_t standard_method_count = 9;

// Exact, case-sensitive match (method tokens are case-sensitive, RFC 9110 section 9.1):
// "GET" is get, "get" is other.
http_method parse_method(std::string_view token);

// "GET", "HEAD", ..., "PATCH"; "_OTHER" for other.
std::string_view method_label(http_method method);

// A set of http_method values, one bit each.
class method_set {
  public:
    static method_set all() {
        method_set s;
        s.bits_ = (1u << (standard_method_count + 1)) - 1;
        return s;
    }
    void add(http_method m) { bits_ |= bit(m); }
    method_set& operator|=(method_set o) {
        bits_ |= o.bits_;
        return *this;
    }
    method_set operator&(method_set o) const {
        method_set s;
        s.bits_ = bits_ & o.bits_;
        return s;
    }
    bool contains(http_method m) const { return (bits_ & bit(m)) != 0; }
    bool empty() const { return bits_ == 0; }
    bool operator==(const method_set&) const = default;

  private:
    static std::uint16_t bit(http_method m) {
        return static_cast<std::uint16_t>(1u << static_cast<unsigned>(m));
    }
    std::uint16_t bits_ = 0;
};

}  // namespace sidelight::routes
