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

}  // namespace sidelight::util
