#include "tests/support/lenient_http.hpp"

#include <cctype>
#include <cstdint>
#include <optional>

namespace sidelight::test {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// The next line (bare LF ends it too; a CR before it is dropped), or nullopt when no LF yet.
std::optional<std::string_view> next_line(std::string_view data, std::size_t& pos) {
    const auto lf = data.find('\n', pos);
    if (lf == std::string_view::npos) return std::nullopt;
    auto line = data.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = lf + 1;
    return line;
}

// Leading digits as a naive atoi would read them: whitespace and a sign skipped, the rest of
// the value ignored ("5, 5" is 5). Nullopt when there is no digit or it overflows.
std::optional<std::uint64_t> lenient_length(std::string_view v) {
    v = trim(v);
    if (!v.empty() && (v.front() == '+' || v.front() == '-')) v.remove_prefix(1);
    std::uint64_t n = 0;
    std::size_t digits = 0;
    for (char c : v) {
        if (c < '0' || c > '9') break;
        if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
        n = n * 10 + static_cast<unsigned>(c - '0');
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    return n;
}

// Hex digits at the front of a chunk-size line ("0x" and whitespace skipped, ";ext" ignored).
std::optional<std::uint64_t> lenient_chunk_size(std::string_view line) {
    line = trim(line);
    if (line.size() > 1 && line[0] == '0' && (line[1] == 'x' || line[1] == 'X'))
        line.remove_prefix(2);
    std::uint64_t n = 0;
    std::size_t digits = 0;
    for (char c : line) {
        const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                      : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                      : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                  : -1;
        if (d < 0) break;
        if (n >> 60) return std::nullopt;
        n = n * 16 + static_cast<unsigned>(d);
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    return n;
}

// Reads header fields up to the empty line; obs-fold lines continue the previous value.
lenient_status read_fields(std::string_view data, std::size_t& pos,
                           std::vector<std::pair<std::string, std::string>>& into) {
    for (;;) {
        const auto line = next_line(data, pos);
        if (!line) return lenient_status::incomplete;
        if (line->empty()) return lenient_status::complete;
        if ((line->front() == ' ' || line->front() == '\t') && !into.empty()) {
            into.back().second += ' ';
            into.back().second += trim(*line);
            continue;
        }
        const auto colon = line->find(':');
        if (colon == std::string_view::npos) return lenient_status::garbage;
        into.emplace_back(lower(trim(line->substr(0, colon))),
                          std::string(trim(line->substr(colon + 1))));
    }
}

lenient_status read_chunked(std::string_view data, std::size_t& pos, std::string& body) {
    for (;;) {
        const auto line = next_line(data, pos);
        if (!line) return lenient_status::incomplete;
        const auto size = lenient_chunk_size(*line);
        if (!size) return lenient_status::garbage;
        if (*size == 0) {
            std::vector<std::pair<std::string, std::string>> trailers;
            return read_fields(data, pos, trailers);
        }
        if (data.size() - pos < *size) return lenient_status::incomplete;
        body.append(data.substr(pos, *size));
        pos += *size;
        // The CRLF after the data: taken when it is there, as a forgiving reader would.
        if (data.substr(pos).starts_with("\r\n")) {
            pos += 2;
        } else if (data.substr(pos).starts_with("\n")) {
            pos += 1;
        } else if (data.size() - pos < 2) {
            return lenient_status::incomplete;
        }
    }
}

}  // namespace

std::vector<std::string> lenient_request::values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers) {
        if (n == name) out.push_back(v);
    }
    return out;
}

lenient_status parse_lenient(std::string_view& data, lenient_request& out) {
    std::size_t pos = 0;
    while (pos < data.size() && (data[pos] == '\r' || data[pos] == '\n')) ++pos;
    if (pos == data.size()) return lenient_status::incomplete;
    lenient_request r;
    const auto line = next_line(data, pos);
    if (!line) return lenient_status::incomplete;
    // method SP target [SP version], split at any run of whitespace.
    std::vector<std::string_view> parts;
    for (std::string_view rest = *line; !(rest = trim(rest)).empty();) {
        const auto end = rest.find_first_of(" \t");
        parts.push_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end);
    }
    if (parts.size() < 2) return lenient_status::garbage;
    r.method.assign(parts[0]);
    r.target.assign(parts[1]);
    if (const auto s = read_fields(data, pos, r.headers); s != lenient_status::complete) return s;
    bool chunked = false;
    for (const auto& te : r.values("transfer-encoding")) {
        if (lower(te).find("chunked") != std::string::npos) chunked = true;
    }
    if (chunked) {
        if (const auto s = read_chunked(data, pos, r.body); s != lenient_status::complete) return s;
    } else if (const auto cl = r.values("content-length"); !cl.empty()) {
        const auto n = lenient_length(cl.front());
        if (!n) return lenient_status::garbage;
        if (data.size() - pos < *n) return lenient_status::incomplete;
        r.body.assign(data.substr(pos, *n));
        pos += *n;
    }
    data.remove_prefix(pos);
    out = std::move(r);
    return lenient_status::complete;
}

}  // namespace sidelight::test
