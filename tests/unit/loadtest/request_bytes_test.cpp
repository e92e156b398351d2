// Request bytes: built once, placeholders filled per request, Content-Length kept right.
#include "loadtest/request_bytes.hpp"

#include <gtest/gtest.h>

namespace sidelight::loadtest {
namespace {

target_address target() {
    return {"127.0.0.1", 8080, "127.0.0.1:8080"};
}

TEST(RequestBytes, FixedRequestIsBuiltOnce) {
    request_spec spec{"GET", "/api/products", {{"Cookie", "sid=x"}}, ""};
    request_bytes b(spec, target());
    EXPECT_FALSE(b.dynamic());
    const auto first = b.next();
    EXPECT_EQ(first, "GET /api/products HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nCookie: sid=x\r\n\r\n");
    EXPECT_EQ(b.next().data(), first.data());
}

TEST(RequestBytes, SeqAndRandomAreFilledEachTime) {
    request_spec spec{"POST",
                      "/o/{{seq}}",
                      {{"Content-Type", "application/json"}},
                      R"({"sku":"{{seq}}","r":"{{random}}","x":"{{other}}"})"};
    request_bytes b(spec, target());
    EXPECT_TRUE(b.dynamic());
    std::string first(b.next());
    EXPECT_TRUE(first.starts_with("POST /o/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")) << first;
    EXPECT_NE(first.find(R"({"sku":"1","r":")"), std::string::npos) << first;
    EXPECT_NE(first.find(R"("x":"{{other}}"})"), std::string::npos) << first;
    const auto body_at = first.find("\r\n\r\n") + 4;
    EXPECT_NE(first.find("Content-Length: " + std::to_string(first.size() - body_at)),
              std::string::npos);
    std::string second(b.next());
    EXPECT_TRUE(second.starts_with("POST /o/2 ")) << second;
}

TEST(RequestBytes, ThreadsTakeEveryStepthSequenceNumber) {
    request_spec spec{"GET", "/{{seq}}", {}, ""};
    request_bytes second_of_three(spec, target(), 2, 3);
    EXPECT_TRUE(std::string(second_of_three.next()).starts_with("GET /2 "));
    EXPECT_TRUE(std::string(second_of_three.next()).starts_with("GET /5 "));
}

TEST(RequestBytes, AHostHeaderOfTheUserReplacesOurs) {
    request_spec spec{"GET", "/", {{"host", "shop.example"}}, ""};
    request_bytes b(spec, target());
    EXPECT_EQ(b.next(), "GET / HTTP/1.1\r\nhost: shop.example\r\n\r\n");
}

}  // namespace
}  // namespace sidelight::loadtest
