// Walking a target's addresses: a refused address gives way to the next, and the one that
// answered stays in use. ("localhost" as ::1 then 127.0.0.1 against an app on 0.0.0.0; here two
// loopback ports, one with nothing listening, stand for the two addresses.)
#include "loadtest/target_addresses.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/support/fake_upstream.hpp"

namespace sidelight::loadtest {
namespace {

using namespace std::chrono_literals;
using test::fake_reply;
using test::fake_upstream;
using test::simple_response;

socket_address loopback(std::uint16_t port) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socket_address a;
    std::memcpy(&a.storage, &in, sizeof in);
    a.length = sizeof in;
    return a;
}

std::uint16_t port_of(const socket_address& a) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(a.get())->sin_port);
}

std::uint16_t closed_port() {
    fake_upstream gone;
    return gone.port();
}

TEST(TargetAddresses, ARefusedFirstAddressGivesWayToTheOneListening) {
    fake_upstream app(
        [](const test::wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    address_walk walk({loopback(closed_port()), loopback(app.port())});
    const int fd = connect_walking(walk, 2s);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(walk.current(), 1u);
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    char answer[64] = {};
    EXPECT_GT(::read(fd, answer, sizeof answer - 1), 0);
    EXPECT_EQ(std::string(answer).substr(0, 12), "HTTP/1.1 200");
    ::close(fd);
    // The address that answered stays in use: the next connect goes straight there.
    const int again = connect_walking(walk, 2s);
    ASSERT_GE(again, 0);
    EXPECT_EQ(port_of(walk.at(walk.current())), app.port());
    ::close(again);
}

TEST(TargetAddresses, EveryAddressRefusingIsOneFailure) {
    address_walk walk({loopback(closed_port()), loopback(closed_port())});
    EXPECT_EQ(connect_walking(walk, 2s), -1);
    EXPECT_EQ(errno, ECONNREFUSED);
    EXPECT_EQ(walk.current(), 0u);  // starts over at the first, which may come up
    address_walk none;
    EXPECT_EQ(connect_walking(none, 2s), -1);
}

TEST(TargetAddresses, OnlyAFailureAboutTheAddressMovesTheWalk) {
    address_walk walk({loopback(1), loopback(2), loopback(3)});
    EXPECT_TRUE(walk.failed(0, ECONNREFUSED));
    EXPECT_EQ(walk.current(), 1u);
    EXPECT_FALSE(walk.failed(1, ETIMEDOUT));  // a timeout counts; the address stays
    EXPECT_EQ(walk.current(), 1u);
    EXPECT_TRUE(walk.failed(0, ECONNREFUSED));  // a connect begun before the move: retry at 1
    EXPECT_EQ(walk.current(), 1u);
    EXPECT_TRUE(walk.failed(1, ENETUNREACH));
    EXPECT_EQ(walk.current(), 2u);
    EXPECT_FALSE(walk.failed(2, ECONNREFUSED));  // all refused: one error, back to the first
    EXPECT_EQ(walk.current(), 0u);
}

}  // namespace
}  // namespace sidelight::loadtest
