#include "proxy/request_id.hpp"

#include <cstdint>
#include <random>

namespace sidelight::proxy {
namespace {

// splitmix64-seeded xorshift: fast, per thread, seeded from the OS.
struct id_generator {
    std::uint64_t s0, s1;
    id_generator() {
        std::random_device rd;
        s0 = (std::uint64_t{rd()} << 32) ^ rd();
        s1 = (std::uint64_t{rd()} << 32) ^ rd() ^ 0x9e3779b97f4a7c15ULL;
    }
    std::uint64_t next() {  // xorshift128+
        std::uint64_t x = s0;
        const std::uint64_t y = s1;
        s0 = y;
        x ^= x << 23;
        s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
        return s1 + y;
    }
};

}  // namespace

bool is_sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > max_request_id_length) return false;
    for (unsigned char c : id) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

void generate_request_id(std::string& out) {
    thread_local id_generator gen;
    static constexpr char hex[] = "0123456789abcdef";
    out.resize(32);
    for (int half = 0; half < 2; ++half) {
        std::uint64_t v = gen.next();
        for (int i = 0; i < 16; ++i, v >>= 4) out[half * 16 + i] = hex[v & 0xf];
    }
}

}  // namespace sidelight::proxy
