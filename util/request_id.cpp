#include "util/request_id.hpp"

#include <cstdint>

#include "util/random.hpp"

namespace sidelight::util {

bool is_sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > max_request_id_length) return false;
    for (unsigned char c : id) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

void generate_request_id(std::string& out) {
    static constexpr char hex[] = "0123456789abcdef";
    out.resize(32);
    for (int half = 0; half < 2; ++half) {
        std::uint64_t v = util::random_u64();
        for (int i = 0; i < 16; ++i, v >>= 4) out[half * 16 + i] = hex[v & 0xf];
    }
}

}  // namespace sidelight::util
