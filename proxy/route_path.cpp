#include "proxy/route_path.hpp"

namespace sidelight::proxy {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool starts_with_scheme(std::string_view target, std::string_view scheme) {
    if (target.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        const char c = target[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != scheme[i]) return false;
    }
    return true;
}

}  // namespace

std::ptrdiff_t percent_decode(std::string_view in, char* out) {
    std::ptrdiff_t n = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out[n++] = in[i];
            continue;
        }
        if (i + 2 >= in.size()) return -1;
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return -1;
        out[n++] = static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return n;
}

target_path path_of_target(std::string_view target) {
    if (!target.empty() && target.front() != '/') {
        // Absolute-form (RFC 9112 section 3.2.2): skip "scheme://authority".
        std::size_t skip = 0;
        if (starts_with_scheme(target, "http://")) skip = 7;
        if (starts_with_scheme(target, "https://")) skip = 8;
        if (skip == 0) return {};
        const auto slash = target.find_first_of("/?#", skip);
        target = slash == std::string_view::npos ? std::string_view{"/"} : target.substr(slash);
        if (target.front() != '/') target = "/";
    }
    if (target.empty()) return {};
    const auto end = target.find_first_of("?#");
    return {target.substr(0, end), true};
}

bool decoded_path::push(std::string_view raw) {
    if (raw.empty()) return true;
    if (raw.size() > max_bytes - used_) {
        status_ = status::too_long;
        return false;
    }
    char* out = buf_.data() + used_;
    const auto n = percent_decode(raw, out);
    if (n < 0) {
        status_ = status::invalid_escape;
        return false;
    }
    const std::string_view seg{out, static_cast<std::size_t>(n)};
    if (seg.empty() || seg == ".") return true;
    if (seg == "..") {
        if (count_ > 0) used_ = segs_[--count_].offset;
        return true;
    }
    if (count_ == max_segments) {
        status_ = status::too_long;
        return false;
    }
    segs_[count_++] = {static_cast<std::uint16_t>(used_), static_cast<std::uint16_t>(n)};
    used_ += static_cast<std::size_t>(n);
    return true;
}

decoded_path::status decoded_path::parse(std::string_view target) {
    count_ = 0;
    used_ = 0;
    status_ = status::ok;
    const auto tp = path_of_target(target);
    if (!tp.ok) return status::not_a_path;
    std::string_view rest = tp.path;
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const auto raw = rest.substr(0, slash);
        if (!push(raw)) {
            count_ = 0;
            return status_;
        }
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    return status::ok;
}

}  // namespace sidelight::proxy
