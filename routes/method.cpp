#include "routes/method.hpp"

#include <array>

namespace sidelight::routes {

namespace {

constexpr std::array<std::string_view, standard_method_count + 1> labels{
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
};

}  // namespace

http_method parse_method(std::string_view token) {
    for (std::size_t i = 0; i < standard_method_count; ++i) {
        if (labels[i] == token) return static_cast<http_method>(i);
    }
    return http_method::other;
}

std::string_view method_label(http_method method) {
    const auto index = static_cast<std::size_t>(method);
    return index < labels.size() ? labels[index] : labels.back();
}

}  // namespace sidelight::routes
