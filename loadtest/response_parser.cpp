// The strict incremental HTTP/1.1 response parser (response_parser.hpp).
#include "loadtest/response_parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace sidelight::loadtest {
namespace {

bool equals_lower(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[i])) != lower[i]) return false;
    return true;
}

bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The position just past the first "\r\n\r\n" in text (searching from `from`), or npos.
std::size_t head_end(std::string_view text, std::size_t from) {
    const auto at = text.find("\r\n\r\n", from);
    return at == std::string_view::npos ? at : at + 4;
}

}  // namespace

void response_parser::reset(bool head_request) {
    *this = response_parser{};
    head_request_ = head_request;
}

void response_parser::fail(const char* why) {
    state_ = state::failed;
    error_ = why;
}

std::size_t response_parser::feed(const char* data, std::size_t n) {
    std::size_t used = 0;
    while (used < n && state_ != state::done && state_ != state::failed) {
        const char* p = data + used;
        const std::size_t left = n - used;
        switch (state_) {
            case state::head:
                used += feed_head(p, left);
                break;
            case state::body:
            case state::chunk_data: {
                const auto take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(left, remaining_));
                remaining_ -= take;
                used += take;
                if (remaining_ == 0)
                    state_ = state_ == state::body ? state::done : state::chunk_end;
                break;
            }
            case state::until_close:
                used = n;
                break;
            default:  // chunk_size, chunk_end, trailer: line by line
                used += feed_line(p, left);
                break;
        }
    }
    return used;
}

std::size_t response_parser::feed_head(const char* data, std::size_t n) {
    started_ = true;
    const std::string_view chunk(data, n);
    if (pending_.empty()) {
        const auto end = head_end(chunk, 0);
        if (end != std::string_view::npos) {
            if (end > max_head) return fail("head over 64 KiB"), end;
            if (parse_head(chunk.substr(0, end))) start_body();
            return end;
        }
    }
    const std::size_t before = pending_.size();
    pending_.append(chunk);
    const auto end = head_end(pending_, before < 3 ? 0 : before - 3);
    if (end == std::string::npos) {
        if (pending_.size() > max_head) fail("head over 64 KiB");
        return n;
    }
    const std::string head = pending_.substr(0, end);
    pending_.clear();
    if (end > max_head) return fail("head over 64 KiB"), end - before;
    if (parse_head(head)) start_body();
    return end - before;
}

bool response_parser::parse_head(std::string_view head) {
    head.remove_suffix(2);  // the empty line's CRLF; every line now ends with CRLF
    bool first = true;
    while (!head.empty()) {
        const auto eol = head.find("\r\n");
        const std::string_view line = head.substr(0, eol);
        if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos)
            return fail("bare CR or LF in the head"), false;
        if (!(first ? parse_status_line(line) : parse_header(line))) return false;
        first = false;
        head.remove_prefix(eol + 2);
    }
    if (chunked_ && has_length_) return fail("both Content-Length and chunked"), false;
    return true;
}

bool response_parser::parse_status_line(std::string_view line) {
    // "HTTP/1.1 200 OK" (the reason may be empty, and so may the space before it).
    if (line.size() < 12 || !line.starts_with("HTTP/1.") || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
        return fail("bad status line"), false;
    auto [end, ec] = std::from_chars(line.data() + 9, line.data() + 12, status_);
    if (ec != std::errc() || end != line.data() + 12 || status_ < 100)
        return fail("bad status code"), false;
    keep_alive_ = line[7] == '1';
    return true;
}

bool response_parser::parse_header(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return fail("bad header line"), false;
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) return fail("bad header name"), false;
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_lower(name, "content-length")) {
        std::uint64_t length = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
            (has_length_ && length != remaining_))
            return fail("bad Content-Length"), false;
        has_length_ = true;
        remaining_ = length;
    } else if (equals_lower(name, "transfer-encoding")) {
        if (!equals_lower(value, "chunked")) return fail("unsupported Transfer-Encoding"), false;
        chunked_ = true;
    } else if (equals_lower(name, "connection")) {
        if (equals_lower(value, "close")) keep_alive_ = false;
        if (equals_lower(value, "keep-alive")) keep_alive_ = true;
    }
    return true;
}

void response_parser::start_body() {
    if (status_ < 200 && status_ != 101) {  // an interim response: the real one follows
        const bool head = head_request_;
        reset(head);
        started_ = true;
        return;
    }
    if (head_request_ || status_ == 204 || status_ == 304)
        state_ = state::done;
    else if (chunked_)
        state_ = state::chunk_size;
    else if (has_length_)
        state_ = remaining_ == 0 ? state::done : state::body;
    else
        state_ = state::until_close, keep_alive_ = false;
}

// Chunk-size lines, the CRLF after a chunk's data and trailer lines.
std::size_t response_parser::feed_line(const char* data, std::size_t n) {
    const std::string_view chunk(data, n);
    const auto lf = chunk.find('\n');
    if (lf == std::string_view::npos) {
        pending_.append(chunk);
        if (pending_.size() > 4096) fail("chunk line over 4 KiB");
        return n;
    }
    std::string_view line = chunk.substr(0, lf + 1);
    if (!pending_.empty()) {
        pending_.append(line);
        line = pending_;
    }
    if (line.size() < 2 || line[line.size() - 2] != '\r') return fail("bare LF"), lf + 1;
    line.remove_suffix(2);
    const bool ok = on_chunk_line(line);
    pending_.clear();
    if (!ok && state_ != state::failed) fail("bad chunk framing");
    return lf + 1;
}

bool response_parser::on_chunk_line(std::string_view line) {
    if (state_ == state::chunk_end) {
        state_ = state::chunk_size;
        return line.empty();
    }
    if (state_ == state::trailer) {
        if (line.empty()) state_ = state::done;
        return true;
    }
    const auto ext = line.find(';');
    const std::string_view hex = trim(line.substr(0, ext));
    auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), remaining_, 16);
    if (hex.empty() || hex.size() > 15 || ec != std::errc() || end != hex.data() + hex.size())
        return false;
    state_ = remaining_ == 0 ? state::trailer : state::chunk_data;
    return true;
}

bool response_parser::on_eof() {
    if (state_ == state::until_close) {
        state_ = state::done;
        return true;
    }
    return state_ == state::done;
}

}  // namespace sidelight::loadtest
