#include "routes/route_normalizer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace sidelight::routes {
namespace {

std::string tpl(std::string_view target) {
    return unmatched_normalizer::to_template(target).value_or("unmatched");
}

TEST(route_normalizer, replaces_integers_uuids_hex_and_tokens) {
    EXPECT_EQ(tpl("/users/42/orders/7"), "/users/{id}/orders/{id}");
    EXPECT_EQ(tpl("/items/123e4567-e89b-12d3-a456-426614174000"), "/items/{id}");
    EXPECT_EQ(tpl("/items/123E4567-E89B-12D3-A456-426614174000/x"), "/items/{id}/x");
    EXPECT_EQ(tpl("/commits/9fceb02d0ae598e95dc970b74767f19372d61af8"), "/commits/{id}");
    EXPECT_EQ(tpl("/blobs/deadbeefcafebabe"), "/blobs/{id}");
    EXPECT_EQ(tpl("/reset/Zx9Kq2L_mW7vR4tY8pN3sB6dF1"), "/reset/{id}");
    EXPECT_EQ(tpl("/v1/health"), "/v1/health");
    EXPECT_EQ(tpl("/blobs/deadbeef"), "/blobs/deadbeef");  // short hex is a word
    EXPECT_EQ(tpl("/posts/a-very-long-article-slug-title"),
              "/posts/a-very-long-article-slug-title");
    EXPECT_EQ(tpl("/"), "/");
}

TEST(route_normalizer, reads_the_path_like_the_route_table) {
    EXPECT_EQ(tpl("/users/%34%32?token=abc#x"), "/users/{id}");
    EXPECT_EQ(tpl("/users/42/"), "/users/{id}");
    EXPECT_EQ(tpl("//a/./b/../c"), "/a/c");
    EXPECT_EQ(tpl("/a/../../%2e%2e/admin"), "/admin");
    EXPECT_EQ(tpl("/bad/%zz"), "unmatched");
}

TEST(route_normalizer, hostile_bytes_collapse_to_unmatched) {
    EXPECT_EQ(tpl("/a/%00"), "unmatched");
    EXPECT_EQ(tpl("/a/%0d%0aSet-Cookie"), "unmatched");
    EXPECT_EQ(tpl("/a/%22quoted%22"), "unmatched");
    EXPECT_EQ(tpl("/a/back%5Cslash"), "unmatched");
    EXPECT_EQ(tpl("/a/%7Bid%7D"), "unmatched");
    EXPECT_EQ(tpl("/a/x%2Fy"), "unmatched");
    EXPECT_EQ(tpl("/a/%ff%fe"), "unmatched");
    EXPECT_EQ(tpl("/a/%c0%af"), "unmatched");     // overlong '/'
    EXPECT_EQ(tpl("/a/%ed%a0%80"), "unmatched");  // surrogate
    EXPECT_EQ(tpl("/a/%c2%85"), "unmatched");     // C1 control (NEL)
    EXPECT_EQ(tpl("/a/with%20space"), "unmatched");
    EXPECT_EQ(tpl("/a/\x7f"), "unmatched");
    EXPECT_EQ(tpl("/caf%C3%A9/%E2%82%AC"), "/caf\xC3\xA9/\xE2\x82\xAC");  // printable UTF-8
}

TEST(route_normalizer, caps_template_length) {
    const std::string word(60, 'w');
    EXPECT_EQ(tpl("/" + word + "/" + word), "/" + word + "/" + word);   // 122 bytes
    EXPECT_EQ(tpl("/" + word + "/" + word + "/abcdefg"), "unmatched");  // 130 bytes
    std::string ids;
    for (int i = 0; i < 40; ++i) ids += "/" + std::to_string(i);
    EXPECT_EQ(tpl(ids), "unmatched");  // 40 x "/{id}" = 200 bytes
}

TEST(route_normalizer, hands_out_stable_ids_after_the_table_up_to_the_cap) {
    unmatched_normalizer n(11, 2);
    const auto a = n.normalize("/users/1");
    EXPECT_EQ(a, 11u);
    EXPECT_EQ(n.normalize("/users/2?x"), a);
    const auto b = n.normalize("/teams/abc");
    EXPECT_EQ(b, 12u);
    EXPECT_EQ(n.normalize("/third/route"), unmatched_route);
    EXPECT_EQ(n.normalize("/teams/abc/"), b);
    EXPECT_EQ(n.normalize("/a/%00"), unmatched_route);
    EXPECT_EQ(n.size(), 2u);
    EXPECT_EQ(n.label(a), "/users/{id}");
    EXPECT_EQ(n.label(b), "/teams/abc");
    EXPECT_EQ(n.label(10), "unmatched");
    EXPECT_EQ(n.label(13), "unmatched");
    EXPECT_EQ(n.label(unmatched_route), "unmatched");
}

TEST(route_normalizer, zero_cap_labels_everything_unmatched) {
    unmatched_normalizer n(1, 0);
    EXPECT_EQ(n.normalize("/users/1"), unmatched_route);
    EXPECT_EQ(n.size(), 0u);
}

TEST(route_normalizer, concurrent_callers_share_ids_and_respect_the_cap) {
    unmatched_normalizer n(5, 50);
    std::vector<std::thread> threads;
    std::atomic<int> over{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int k = 0; k < 500; ++k) {
                const auto id =
                    n.normalize("/r" + std::to_string((k + t) % 80) + "/" + std::to_string(k));
                if (id != unmatched_route && (id < 5 || id >= 55)) ++over;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(over.load(), 0);
    EXPECT_EQ(n.size(), 50u);
    std::string first{n.label(5)};
    ASSERT_EQ(first.rfind("/{id}"), first.size() - 5) << first;
    const std::string again = first.substr(0, first.size() - 4) + "9";
    EXPECT_EQ(n.normalize(again), 5u);
}

}  // namespace
}  // namespace sidelight::routes
