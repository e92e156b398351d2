#include "routes/route_path.hpp"

#include "util/ascii.hpp"
#include "util/percent.hpp"

namespace sidelight::routes {

namespace {

bool starts_with_scheme(std::string_view target, std::string_view scheme) {
    return target.size() >= scheme.size() && util::iequals(target.substr(0, scheme.size()), scheme);
}

}  // namespace

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
    const auto n = util::percent_decode(raw, out);
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

}  // namespace sidelight::routes
