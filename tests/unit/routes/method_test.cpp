#include "routes/method.hpp"

#include <gtest/gtest.h>

namespace sidelight::routes {
namespace {

TEST(method, parses_the_nine_standard_methods) {
    EXPECT_EQ(parse_method("GET"), http_method::get);
    EXPECT_EQ(parse_method("HEAD"), http_method::head);
    EXPECT_EQ(parse_method("POST"), http_method::post);
    EXPECT_EQ(parse_method("PUT"), http_method::put);
    EXPECT_EQ(parse_method("DELETE"), http_method::delete_);
    EXPECT_EQ(parse_method("CONNECT"), http_method::connect);
    EXPECT_EQ(parse_method("OPTIONS"), http_method::options);
    EXPECT_EQ(parse_method("TRACE"), http_method::trace);
    EXPECT_EQ(parse_method("PATCH"), http_method::patch);
}

TEST(method, is_case_sensitive_and_exact) {
    EXPECT_EQ(parse_method("get"), http_method::other);
    EXPECT_EQ(parse_method("Get"), http_method::other);
    EXPECT_EQ(parse_method("GET "), http_method::other);
    EXPECT_EQ(parse_method("GETS"), http_method::other);
    EXPECT_EQ(parse_method(""), http_method::other);
    EXPECT_EQ(parse_method("PROPFIND"), http_method::other);
}

TEST(method, labels_round_trip) {
    for (std::size_t i = 0; i < standard_method_count; ++i) {
        const auto m = static_cast<http_method>(i);
        EXPECT_EQ(parse_method(method_label(m)), m) << i;
    }
    EXPECT_EQ(method_label(http_method::delete_), "DELETE");
    EXPECT_EQ(method_label(http_method::other), "_OTHER");
}

}  // namespace
}  // namespace sidelight::routes
