#include "util/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "util/ascii.hpp"

namespace sidelight::util {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls `f(value, q)` for each element of a comma-separated list with its q-value (1 when
// none is given); stops when f returns true, and returns whether it did.
template <class F>
bool any_element(std::string_view list, F&& f) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view element = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        const auto semi = element.find(';');
        const auto value = trim(element.substr(0, semi));
        double q = 1;
        for (auto params = semi == std::string_view::npos ? std::string_view{}
                                                          : element.substr(semi + 1);
             !params.empty();) {
            const auto next = params.find(';');
            const auto param = trim(params.substr(0, next));
            params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
            if (param.size() >= 2 && ascii_lower(param[0]) == 'q' && param[1] == '=')
                q = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
        }
        if (!value.empty() && f(value, q)) return true;
    }
    return false;
}

}  // namespace

std::string gzip(std::string_view text) {
    z_stream z{};
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib: deflateInit2 failed");
    std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate failed");
    return out;
}

bool inflate_captured_body(std::string_view content_encoding, std::string& body, bool& truncated,
                           std::size_t cap) {
    const auto coding = trim(content_encoding);
    if (coding.empty() || iequals(coding, "identity")) return true;
    const bool inflatable =
        iequals(coding, "gzip") || iequals(coding, "x-gzip") || iequals(coding, "deflate");
    if (!inflatable || truncated) return false;
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) return false;  // +32: a gzip or a zlib header
    std::string out;
    char chunk[16 * 1024];
    z.next_in = reinterpret_cast<Bytef*>(body.data());
    z.avail_in = static_cast<uInt>(body.size());
    int rc = Z_OK;
    bool cut = false;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(chunk);
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        out.append(chunk, sizeof chunk - z.avail_out);
        if (out.size() > cap) {
            out.resize(cap);
            cut = true;
            rc = Z_STREAM_END;
        }
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // the input ended early
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return false;
    body = std::move(out);
    truncated = cut;  // (it was not on entry)
    return true;
}

void decode_captured_body(std::string_view content_encoding, std::string& body, bool& truncated,
                          std::size_t cap) {
    if (!inflate_captured_body(content_encoding, body, truncated, cap)) body.clear();
}

bool accepts_gzip(std::string_view accept_encoding) {
    return any_element(accept_encoding, [](std::string_view coding, double q) {
        return q > 0 && (iequals(coding, "gzip") || iequals(coding, "x-gzip") || coding == "*");
    });
}

bool accepts_media_type(std::string_view accept, std::string_view media_type) {
    return any_element(accept, [&](std::string_view type, double q) {
        return q > 0 && iequals(type, media_type);
    });
}

bool prefers_media_type(std::string_view accept, std::string_view media_type,
                        std::string_view other) {
    double mine = 0, theirs = 0;
    any_element(accept, [&](std::string_view type, double q) {
        if (iequals(type, media_type)) mine = std::max(mine, q);
        if (iequals(type, other) || type == "*/*") theirs = std::max(theirs, q);
        return false;
    });
    return mine > 0 && mine >= theirs;
}

}  // namespace sidelight::util
