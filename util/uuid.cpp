#include "util/uuid.hpp"

#include <array>
#include <chrono>
#include <cstdint>

#include "util/percent.hpp"
#include "util/random.hpp"

namespace sidelight::util {

namespace {

std::string format_uuid(const std::array<unsigned char, 16>& b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(digits[b[i] >> 4]);
        out.push_back(digits[b[i] & 0x0f]);
    }
    return out;
}

void put_be(std::array<unsigned char, 16>& b, int at, int bytes, std::uint64_t value) {
    for (int i = 0; i < bytes; ++i) {
        b[at + i] = static_cast<unsigned char>(value >> (8 * (bytes - 1 - i)));
    }
}

bool is_hex(char c) {
    return util::hex_value(c) >= 0;
}

}  // namespace

std::string make_uuid_v4() {
    std::array<unsigned char, 16> b{};
    put_be(b, 0, 8, util::random_u64());
    put_be(b, 8, 8, util::random_u64());
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return format_uuid(b);
}

// RFC 9562 section 6.2, method 1: a 12-bit counter in rand_a, seeded at random below 2^11 each
// new millisecond so that it rarely overflows; on overflow the timestamp moves one ms ahead (the
// clock catches up). The clock going backwards does not reorder: the last timestamp is kept.
std::string make_uuid_v7() {
    thread_local std::uint64_t last_ms = 0;
    thread_local std::uint32_t counter = 0;
    const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    const auto ms = static_cast<std::uint64_t>(wall < 0 ? 0 : wall) & 0xffff'ffff'ffffULL;
    if (ms > last_ms) {
        last_ms = ms;
        counter = static_cast<std::uint32_t>(util::random_u64() >> 53);  // 11 random bits
    } else if (++counter > 0xfff) {
        ++last_ms;
        counter = static_cast<std::uint32_t>(util::random_u64() >> 53);
    }
    std::array<unsigned char, 16> b{};
    put_be(b, 0, 6, last_ms);
    put_be(b, 6, 2, 0x7000 | counter);                        // version 7, rand_a = counter
    put_be(b, 8, 8, util::random_u64());                      // rand_b
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
    return format_uuid(b);
}

bool is_uuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !is_hex(text[i])) return false;
    }
    return true;
}

}  // namespace sidelight::util
