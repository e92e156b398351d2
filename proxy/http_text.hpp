#pragma once
// Small text helpers for HTTP field values, shared by the header checks and rewrites.
// Pure functions; thread-safe.

#include <string_view>

namespace sidelight::proxy {

// Strips optional whitespace (SP, HTAB) at both ends (RFC 9110 5.6.3).
constexpr std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// Calls `fn(token)` for each non-empty element of a comma-separated list, trimmed; stops early
// when `fn` returns true, and returns whether it did.
template <class Fn>
bool any_list_element(std::string_view list, Fn&& fn) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto token = trim_ows(list.substr(0, comma));
        if (!token.empty() && fn(token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace sidelight::proxy
