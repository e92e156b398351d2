#include "util/percent.hpp"

namespace sidelight::util {

std::ptrdiff_t percent_decode(std::string_view in, char* out) {
    std::ptrdiff_t n = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out[n++] = in[i];
            continue;
        }
        if (in.size() - i < 3) return -1;
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return -1;
        out[n++] = static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return n;
}

std::optional<std::string> percent_decoded(std::string_view in, bool plus_is_space) {
    std::string out(in.size(), '\0');
    const auto n = percent_decode(in, out.data());
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n));
    if (plus_is_space) {
        // Only literal '+' signs: an escaped "%2B" decoded above stays a '+'.
        std::size_t k = 0;
        for (std::size_t i = 0; i < in.size(); ++i, ++k) {
            if (in[i] == '%') {
                i += 2;
            } else if (in[i] == '+') {
                out[k] = ' ';
            }
        }
    }
    return out;
}

}  // namespace sidelight::util
