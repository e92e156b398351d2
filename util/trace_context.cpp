#include "util/trace_context.hpp"

#include <algorithm>
#include <cstring>

#include "util/random.hpp"

namespace sidelight::util {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case is invalid in traceparent
}

// Exactly 2 * n lower-case hex digits into n bytes.
bool read_hex(std::string_view text, std::uint8_t* out, std::size_t n) {
    if (text.size() != 2 * n) return false;
    for (std::size_t i = 0; i < n; ++i) {
        const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& id) {
    return std::all_of(id.begin(), id.end(), [](std::uint8_t b) { return b == 0; });
}

template <std::size_t N>
void fill_random(std::array<std::uint8_t, N>& id) {
    do {
        for (std::size_t i = 0; i < N; i += 8) {
            const std::uint64_t r = random_u64();
            std::memcpy(id.data() + i, &r, std::min<std::size_t>(8, N - i));
        }
    } while (all_zero(id));
}

}  // namespace

bool parse_traceparent(std::string_view value, traceparent& out) {
    // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
    if (value.size() < 55) return false;
    std::uint8_t version = 0;
    if (!read_hex(value.substr(0, 2), &version, 1) || version == 0xff) return false;
    if (value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
    if (version == 0 ? value.size() != 55 : value.size() > 55 && value[55] != '-') return false;
    traceparent p;
    if (!read_hex(value.substr(3, 32), p.trace.data(), 16) ||
        !read_hex(value.substr(36, 16), p.parent.data(), 8) ||
        !read_hex(value.substr(53, 2), &p.flags, 1))
        return false;
    if (all_zero(p.trace) || all_zero(p.parent)) return false;
    out = p;
    return true;
}

void trace_context::begin(const traceparent* incoming, sampler how, double ratio) {
    active = true;
    has_parent = incoming != nullptr;
    if (incoming) {
        trace = incoming->trace;
        parent = incoming->parent;
    } else {
        fill_random(trace);
        parent = {};
    }
    fill_random(server_span);
    fill_random(client_span);
    // The ratio judged on the trace id's last 8 bytes (random in a W3C id), so that every
    // process sampling by ratio keeps or drops the same traces.
    auto by_ratio = [&] {
        if (ratio >= 1) return true;
        if (ratio <= 0) return false;
        std::uint64_t low = 0;
        for (std::size_t i = 8; i < 16; ++i) low = low << 8 | trace[i];
        return static_cast<double>(low >> 11) < ratio * static_cast<double>(1ULL << 53);
    };
    switch (how) {
        case sampler::always:
            sampled = true;
            break;
        case sampler::never:
            sampled = false;
            break;
        case sampler::ratio:
            sampled = by_ratio();
            break;
        case sampler::parent_based:
            sampled = incoming ? (incoming->flags & 1) != 0 : by_ratio();
            break;
    }
}

void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 15]);
    }
}

void trace_context::write_traceparent(std::string& out) const {
    out += "00-";
    append_hex(out, trace.data(), trace.size());
    out.push_back('-');
    append_hex(out, client_span.data(), client_span.size());
    out += sampled ? "-01" : "-00";
}

std::string trace_context::trace_hex() const {
    return active ? to_hex(trace) : std::string();
}

namespace {

constexpr std::size_t tracestate_max_members = 32;
constexpr std::size_t tracestate_max_chars = 512;
constexpr std::size_t tracestate_long_member = 128;

bool lcalpha(char c) {
    return c >= 'a' && c <= 'z';
}
bool key_char(char c) {
    return lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

// key = simple-key / multi-tenant-key
//   simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//   multi-tenant-key = tenant-id "@" system-id
//   tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//   system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
bool valid_tracestate_key(std::string_view key) {
    const auto rest_ok = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), key_char);
    };
    const auto at = key.find('@');
    if (at == std::string_view::npos)
        return !key.empty() && key.size() <= 256 && lcalpha(key[0]) && rest_ok(key.substr(1));
    const auto tenant = key.substr(0, at), system = key.substr(at + 1);
    return !tenant.empty() && tenant.size() <= 241 &&
           (lcalpha(tenant[0]) || (tenant[0] >= '0' && tenant[0] <= '9')) && rest_ok(tenant) &&
           !system.empty() && system.size() <= 14 && lcalpha(system[0]) && rest_ok(system);
}

// value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr
bool valid_tracestate_value(std::string_view value) {
    if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
    return std::all_of(value.begin(), value.end(),
                       [](char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; });
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

bool append_tracestate(std::string& out, std::string_view list) {
    // The members, as views into `list`: no allocation.
    std::array<std::string_view, tracestate_max_members> members;
    std::array<std::size_t, tracestate_max_members> key_size{};
    std::size_t n = 0;
    for (std::size_t pos = 0; pos <= list.size();) {
        auto comma = list.find(',', pos);
        if (comma == std::string_view::npos) comma = list.size();
        const auto member = trim_ows(list.substr(pos, comma - pos));
        pos = comma + 1;
        if (member.empty()) continue;  // an empty member (OWS only) is allowed, and dropped
        if (n == members.size()) return false;
        const auto eq = member.find('=');
        if (eq == std::string_view::npos || !valid_tracestate_key(member.substr(0, eq)) ||
            !valid_tracestate_value(member.substr(eq + 1)))
            return false;
        for (std::size_t i = 0; i < n; ++i) {
            if (members[i].substr(0, key_size[i]) == member.substr(0, eq)) return false;
        }
        members[n] = member;
        key_size[n++] = eq;
    }
    std::array<bool, tracestate_max_members> kept{};
    std::size_t chars = 0, count = n;  // of the members kept
    for (std::size_t i = 0; i < n; ++i) {
        kept[i] = true;
        chars += members[i].size();
    }
    const auto fits = [&] { return count == 0 || chars + count - 1 <= tracestate_max_chars; };
    // Too long: members over 128 characters go first, from the end, then any from the end.
    for (int pass = 0; pass < 2 && !fits(); ++pass) {
        for (std::size_t i = n; i-- > 0 && !fits();) {
            if (!kept[i] || (pass == 0 && members[i].size() <= tracestate_long_member)) continue;
            kept[i] = false;
            chars -= members[i].size();
            --count;
        }
    }
    if (count == 0) return false;
    bool first = true;
    for (std::size_t i = 0; i < n; ++i) {
        if (!kept[i]) continue;
        if (!first) out.push_back(',');
        first = false;
        out.append(members[i]);
    }
    return true;
}

}  // namespace sidelight::util
