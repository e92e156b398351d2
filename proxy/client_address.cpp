#include "proxy/client_address.hpp"

#include "proxy/http_text.hpp"

#include <array>
#include <charconv>

namespace sidelight::proxy {
namespace net = boost::asio;

namespace {

std::optional<net::ip::address> parse_ip(std::string_view text) {
    boost::system::error_code ec;
    auto a = net::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return normalize_address(a);
}

bool trusted_address(const net::ip::address& a, const std::vector<cidr>& trusted) {
    for (const auto& c : trusted) {
        if (c.contains(a)) return true;
    }
    return false;
}

}  // namespace

net::ip::address normalize_address(const net::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
    return a;
}

std::string client_ip_string(const net::ip::address& peer) {
    return normalize_address(peer).to_string();
}

bool cidr::contains(const net::ip::address& raw) const {
    const auto a = normalize_address(raw);
    if (a.is_v4() != network.is_v4()) return false;
    std::array<unsigned char, 16> x{}, y{};
    std::size_t len = 4;
    if (a.is_v4()) {
        const auto xa = a.to_v4().to_bytes(), ya = network.to_v4().to_bytes();
        std::copy(xa.begin(), xa.end(), x.begin());
        std::copy(ya.begin(), ya.end(), y.begin());
    } else {
        x = a.to_v6().to_bytes();
        y = network.to_v6().to_bytes();
        len = 16;
    }
    unsigned bits = prefix;
    for (std::size_t i = 0; i < len && bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        const auto mask = static_cast<unsigned char>(0xff << (8 - take));
        if ((x[i] & mask) != (y[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

std::optional<cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    auto addr = parse_ip(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const unsigned max = addr->is_v4() ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc{} || end != digits.data() + digits.size() || prefix > max)
            return std::nullopt;
    }
    return cidr{*addr, prefix};
}

bool is_trusted_peer(const net::ip::address& peer, const std::vector<cidr>& trusted) {
    return !trusted.empty() && trusted_address(normalize_address(peer), trusted);
}

void resolve_client_ip(const net::ip::address& peer, std::string_view forwarded_for,
                       const std::vector<cidr>& trusted, std::string& out) {
    const auto peer_addr = normalize_address(peer);
    if (trusted.empty() || forwarded_for.empty() || !trusted_address(peer_addr, trusted)) {
        out = peer_addr.to_string();
        return;
    }
    std::string_view rest = forwarded_for;
    std::optional<net::ip::address> leftmost;
    while (!rest.empty()) {  // right to left
        const auto comma = rest.rfind(',');
        const auto hop = trim_ows(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        const auto addr = parse_ip(hop);
        if (!addr) break;  // garbage: stop believing the header at this point
        leftmost = addr;
        if (!trusted_address(*addr, trusted)) {
            out = addr->to_string();
            return;
        }
    }
    out = (leftmost ? *leftmost : peer_addr).to_string();
}

}  // namespace sidelight::proxy
