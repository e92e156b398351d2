// Framing of PostgreSQL messages; see wire.hpp.
#include "dbproxy/wire.hpp"

#include <algorithm>

namespace sidelight::dbproxy {

std::uint32_t read_u32(std::string_view b, std::size_t at) {
    if (at + 4 > b.size()) return 0;
    const auto u = [&](std::size_t k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + k]));
    };
    return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

void put_u32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

bool startup_length_ok(std::uint32_t length) {
    return length >= 8 && length <= max_startup_bytes;
}

startup_type startup_kind(std::string_view packet) {
    const auto length = read_u32(packet, 0);
    if (!startup_length_ok(length) || length != packet.size()) return startup_type::bad;
    const auto code = read_u32(packet, 4);
    if (code == ssl_request_code) return startup_type::ssl_request;
    if (code == gssenc_request_code) return startup_type::gssenc_request;
    if (code == cancel_request_code) return startup_type::cancel_request;
    if ((code >> 16) == 3) return startup_type::startup_message;
    return startup_type::bad;
}

std::size_t message_splitter::step(std::span<const char> bytes) {
    if (header_have_ < 5) {
        const std::size_t n = std::min(bytes.size(), 5 - header_have_);
        std::copy_n(bytes.begin(), n, header_ + header_have_);
        header_have_ += n;
        if (header_have_ < 5) return n;
        type_ = header_[0];
        const auto length = read_u32(std::string_view(header_, 5), 1);
        if (length < 4 || length > max_message_bytes || !known_type(from_, type_)) {
            error_ = !known_type(from_, type_) ? protocol_error::unknown_type
                     : length < 4              ? protocol_error::length_too_small
                                               : protocol_error::length_too_large;
            return n;
        }
        remaining_ = length - 4;
        complete_ = remaining_ == 0;
        return n;
    }
    const std::size_t n = std::min<std::size_t>(bytes.size(), remaining_);
    const std::size_t room = keep_ > body_.size() ? keep_ - body_.size() : 0;
    body_.append(bytes.data(), std::min(n, room));
    remaining_ -= static_cast<std::uint32_t>(n);
    complete_ = remaining_ == 0;
    return n;
}

void message_splitter::reset() {
    header_have_ = 0;
    remaining_ = 0;
    body_.clear();
    complete_ = false;
}

std::optional<std::string_view> cursor::cstring() {
    const auto nul = body.find('\0', at);
    if (nul == std::string_view::npos) return std::nullopt;
    const auto s = body.substr(at, nul - at);
    at = nul + 1;
    return s;
}

std::optional<char> cursor::byte() {
    if (at >= body.size()) return std::nullopt;
    return body[at++];
}

bool known_type(direction from, char type) {
    // The v3 message types: protocol.html "Message Formats", F and B.
    constexpr std::string_view frontend = "QPBDECHSXFdcfp";
    constexpr std::string_view backend = "123ACcdDEGHWIKnNtRSsTVvZ";
    return (from == direction::frontend ? frontend : backend).find(type) != std::string_view::npos;
}

std::string_view to_string(protocol_error e) {
    switch (e) {
        case protocol_error::length_too_small:
            return "length_too_small";
        case protocol_error::length_too_large:
            return "length_too_large";
        case protocol_error::unknown_type:
            return "unknown_type";
        case protocol_error::bad_startup:
            return "bad_startup";
        case protocol_error::truncated:
            return "truncated";
        case protocol_error::too_many_pending:
            return "too_many_pending";
    }
    return "unknown";
}

namespace {

std::string fatal(std::string_view sqlstate, std::string_view message) {
    std::string fields;
    for (auto [code, value] : {std::pair<char, std::string_view>{'S', "FATAL"},
                               {'V', "FATAL"},
                               {'C', sqlstate},
                               {'M', message}}) {
        fields += code;
        fields.append(value);
        fields += '\0';
    }
    fields += '\0';
    std::string out(1, 'E');
    put_u32(out, static_cast<std::uint32_t>(fields.size() + 4));
    return out + fields;
}

}  // namespace

std::string error_response(std::string_view message) {
    return fatal("08006", message);
}

std::string protocol_violation(std::string_view message) {
    return fatal("08P01", message);
}

std::string shutting_down() {
    return fatal("57P03", "the database system is shutting down");
}

std::string admin_shutdown() {
    return fatal("57P01", "terminating connection due to administrator command");
}

}  // namespace sidelight::dbproxy
