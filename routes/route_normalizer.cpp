#include "routes/route_normalizer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>

#include "routes/route_path.hpp"
#include "util/utf8.hpp"

namespace sidelight::routes {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
    }
    return true;
}

bool is_token(std::string_view s) {
    if (s.size() < 24) return false;
    bool letter = false;
    bool digit = false;
    for (const char c : s) {
        letter = letter || is_alpha(c);
        digit = digit || is_digit(c);
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') return false;
    }
    return letter && digit;
}

bool is_id_like(std::string_view s) {
    if (std::all_of(s.begin(), s.end(), is_digit)) return true;
    if (s.size() >= 16 && std::all_of(s.begin(), s.end(), is_hex)) return true;
    return is_uuid(s) || is_token(s);
}

// Length of the well-formed UTF-8 sequence at s[i] encoding a printable code point (no C1
// controls, line or paragraph separators, or BOM), or 0.
std::size_t utf8_printable(std::string_view s, std::size_t i) {
    std::uint32_t cp = 0;
    const auto len = util::utf8_decode(s, i, cp);
    if (len == 0 || cp <= 0x9F) return 0;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) return 0;
    return len;
}

bool is_safe_label_text(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (static_cast<unsigned char>(c) >= 0x80) {
            const std::size_t n = utf8_printable(s, i);
            if (n == 0) return false;
            i += n;
            continue;
        }
        if (c <= 0x20 || c == 0x7F || c == '"' || c == '\\' || c == '{' || c == '}' || c == '/') {
            return false;
        }
        ++i;
    }
    return true;
}

// Writes the template of `target` into `out`; returns its length, or 0 when unmatched.
std::size_t build_template(std::string_view target,
                           std::array<char, unmatched_normalizer::max_template_bytes>& out) {
    decoded_path path;
    if (path.parse(target) != decoded_path::status::ok) return 0;
    if (path.size() == 0) {
        out[0] = '/';
        return 1;
    }
    std::size_t n = 0;
    for (std::size_t i = 0; i < path.size(); ++i) {
        std::string_view seg = path[i];
        if (is_id_like(seg)) {
            seg = "{id}";
        } else if (!is_safe_label_text(seg)) {
            return 0;
        }
        if (n + 1 + seg.size() > out.size()) return 0;
        out[n++] = '/';
        std::copy(seg.begin(), seg.end(), out.begin() + static_cast<std::ptrdiff_t>(n));
        n += seg.size();
    }
    return n;
}

}  // namespace

unmatched_normalizer::unmatched_normalizer(route_id first_id, std::size_t max_routes)
    : first_id_(first_id == unmatched_route ? 1 : first_id), max_routes_(max_routes) {}

route_id unmatched_normalizer::normalize(std::string_view target) {
    std::array<char, max_template_bytes> buf;
    const std::size_t n = build_template(target, buf);
    if (n == 0) return unmatched_route;
    const std::string_view tpl{buf.data(), n};
    {
        std::shared_lock lock(mutex_);
        if (const auto it = ids_.find(tpl); it != ids_.end()) return it->second;
        if (labels_.size() >= max_routes_) return unmatched_route;
    }
    std::unique_lock lock(mutex_);
    if (const auto it = ids_.find(tpl); it != ids_.end()) return it->second;
    if (labels_.size() >= max_routes_) return unmatched_route;
    const auto id = static_cast<route_id>(first_id_ + labels_.size());
    labels_.emplace_back(tpl);
    ids_.emplace(labels_.back(), id);
    return id;
}

std::string_view unmatched_normalizer::label(route_id id) const {
    std::shared_lock lock(mutex_);
    if (id < first_id_ || id - first_id_ >= labels_.size()) return unmatched_label;
    return labels_[id - first_id_];
}

std::size_t unmatched_normalizer::size() const {
    std::shared_lock lock(mutex_);
    return labels_.size();
}

std::optional<std::string> unmatched_normalizer::to_template(std::string_view target) {
    std::array<char, max_template_bytes> buf;
    const std::size_t n = build_template(target, buf);
    if (n == 0) return std::nullopt;
    return std::string(buf.data(), n);
}

}  // namespace sidelight::routes
