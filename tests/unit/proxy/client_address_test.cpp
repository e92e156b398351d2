#include "proxy/client_address.hpp"

#include <gtest/gtest.h>

namespace sidelight::proxy {
namespace {

namespace net = boost::asio;

std::vector<cidr> cidrs(std::initializer_list<const char*> texts) {
    std::vector<cidr> out;
    for (auto t : texts) out.push_back(*parse_cidr(t));
    return out;
}

std::string client(const char* peer, std::string_view xff, const std::vector<cidr>& trusted) {
    std::string out;
    resolve_client_ip(net::ip::make_address(peer), xff, trusted, out);
    return out;
}

TEST(ClientAddressTest, ParsesCidrs) {
    EXPECT_TRUE(parse_cidr("10.0.0.0/8"));
    EXPECT_TRUE(parse_cidr("::1/128"));
    EXPECT_TRUE(parse_cidr("192.168.1.7"));
    EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
    EXPECT_FALSE(parse_cidr("10.0.0.0/"));
    EXPECT_FALSE(parse_cidr("10.0.0/8"));
    EXPECT_FALSE(parse_cidr("fe80::/129"));
    EXPECT_FALSE(parse_cidr("10.0.0.0/8x"));
}

TEST(ClientAddressTest, Contains) {
    const auto c = *parse_cidr("10.1.0.0/16");
    EXPECT_TRUE(c.contains(net::ip::make_address("10.1.200.3")));
    EXPECT_FALSE(c.contains(net::ip::make_address("10.2.0.1")));
    EXPECT_TRUE(c.contains(net::ip::make_address("::ffff:10.1.0.9")));  // v4-mapped
    EXPECT_FALSE(c.contains(net::ip::make_address("::1")));
    const auto odd = *parse_cidr("192.168.0.0/23");
    EXPECT_TRUE(odd.contains(net::ip::make_address("192.168.1.255")));
    EXPECT_FALSE(odd.contains(net::ip::make_address("192.168.2.0")));
    const auto v6 = *parse_cidr("fd00::/8");
    EXPECT_TRUE(v6.contains(net::ip::make_address("fd12:3456::1")));
    EXPECT_TRUE(parse_cidr("0.0.0.0/0")->contains(net::ip::make_address("8.8.8.8")));
}

TEST(ClientAddressTest, UntrustedPeerIsTheClientWhateverItForwards) {
    const auto trusted = cidrs({"10.0.0.0/8"});
    EXPECT_EQ(client("203.0.113.5", "1.2.3.4", trusted), "203.0.113.5");
    EXPECT_EQ(client("203.0.113.5", "", {}), "203.0.113.5");
    EXPECT_EQ(client("10.0.0.1", "1.2.3.4", {}), "10.0.0.1");  // nothing trusted
}

TEST(ClientAddressTest, TrustedPeerRightMostUntrustedHop) {
    const auto trusted = cidrs({"10.0.0.0/8", "::1/128"});
    EXPECT_EQ(client("10.0.0.1", "198.51.100.7", trusted), "198.51.100.7");
    // A client that prepends a fake address does not get it believed.
    EXPECT_EQ(client("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", trusted), "198.51.100.7");
    EXPECT_EQ(client("10.0.0.1", "10.0.0.3, 10.0.0.2", trusted), "10.0.0.3");  // all trusted
    EXPECT_EQ(client("::ffff:10.0.0.1", " 198.51.100.8 ", trusted), "198.51.100.8");
    EXPECT_EQ(client("::1", "2001:db8::5", trusted), "2001:db8::5");
    EXPECT_EQ(client("10.0.0.1", "garbage", trusted), "10.0.0.1");
    EXPECT_EQ(client("10.0.0.1", "::ffff:198.51.100.9", trusted), "198.51.100.9");
}

TEST(ClientAddressTest, MappedAddressesAreWrittenAsIpv4) {
    EXPECT_EQ(client_ip_string(net::ip::make_address("::ffff:127.0.0.1")), "127.0.0.1");
    EXPECT_EQ(client_ip_string(net::ip::make_address("::1")), "::1");
}

}  // namespace
}  // namespace sidelight::proxy
