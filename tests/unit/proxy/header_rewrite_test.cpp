#include "proxy/header_rewrite.hpp"

#include <gtest/gtest.h>

namespace sidelight::proxy {
namespace {

TEST(HeaderRewriteTest, StripsHopByHopAndConnectionNamedFields) {
    fields f;
    f.set("Connection", "keep-alive, X-Internal");
    f.insert("Connection", "Upgrade");
    f.set("X-Internal", "secret");
    f.set("Keep-Alive", "timeout=5");
    f.set("Proxy-Connection", "keep-alive");
    f.set("TE", "trailers");
    f.set("Trailer", "X-Sum");
    f.set("Transfer-Encoding", "chunked");
    f.set("Upgrade", "websocket");
    f.set("Proxy-Authorization", "Basic x");
    f.set("Proxy-Authenticate", "Basic");
    f.set("X-Kept", "1");
    f.set("Authorization", "Bearer t");
    strip_hop_by_hop(f);
    std::vector<std::string> left;
    for (const auto& field : f) left.emplace_back(field.name_string());
    EXPECT_EQ(left, (std::vector<std::string>{"X-Kept", "Authorization"}));
}

TEST(HeaderRewriteTest, ForwardedHeaders) {
    fields f;
    std::string scratch;
    f.set(http::field::host, "shop.example:8080");
    f.set("X-Forwarded-Proto", "https");  // a client cannot choose these
    f.set("X-Forwarded-Host", "evil");
    set_forwarded(f, "10.1.2.3", scratch);
    EXPECT_EQ(f["X-Forwarded-For"], "10.1.2.3");
    EXPECT_EQ(f["X-Forwarded-Proto"], "http");
    EXPECT_EQ(f["X-Forwarded-Host"], "shop.example:8080");
}

TEST(HeaderRewriteTest, ForwardedForJoinsSeveralLines) {
    fields f;
    std::string scratch;
    f.insert("X-Forwarded-For", "1.1.1.1");
    f.insert("X-Forwarded-For", " 2.2.2.2 ");
    set_forwarded(f, "::1", scratch);
    EXPECT_EQ(f.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(f["X-Forwarded-For"], "1.1.1.1, 2.2.2.2, ::1");
    EXPECT_EQ(f.count("X-Forwarded-Host"), 0u);  // no Host: none forwarded
}

TEST(HeaderRewriteTest, RequestIdKeptOrReplaced) {
    std::string id;
    fields keep;
    keep.set("X-Request-Id", "abc");
    ensure_request_id(keep, id);
    EXPECT_EQ(id, "abc");
    EXPECT_EQ(keep["X-Request-Id"], "abc");

    fields twice;
    twice.insert("X-Request-Id", "a");
    twice.insert("X-Request-Id", "b");
    ensure_request_id(twice, id);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(twice.count("X-Request-Id"), 1u);
    EXPECT_EQ(twice["X-Request-Id"], id);

    fields none;
    ensure_request_id(none, id);
    EXPECT_EQ(none["X-Request-Id"], id);
}

}  // namespace
}  // namespace sidelight::proxy
