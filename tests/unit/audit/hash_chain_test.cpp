// The chain's canonical form is pinned: a row without a trace id must encode exactly as before
// trace ids existed, or every stored hash would stop verifying. The golden hashes below were
// computed from the code before the trace_id field was added (and independently from the format
// in docs/AUDIT.md).
#include <gtest/gtest.h>

#include <string>

#include "audit/event.hpp"
#include "audit/hash_chain.hpp"

namespace sidelight::audit {
namespace {

audit_event golden_audit() {
    audit_event a;
    a.event_id = "0190f5c2-7a3e-7b41-9c2d-5e6f7a8b9c0d";
    a.created_at = *parse_time("2026-11-26T23:59:01.123456Z");
    a.source = event_source::rule;
    a.request_id = "req-7";
    a.method = "PUT";
    a.route = "/api/products/{id}";
    a.status = 200;
    a.user_id = "u7";
    a.action = "UPDATE_PRODUCT";
    a.entity_type = "product";
    a.entity_id = "42";
    a.changes = R"({"price":10})";
    a.ip_address = "10.0.0.1";
    a.user_agent = "curl/8";
    return a;
}

security_event golden_security(std::optional<bool> success) {
    security_event s;
    s.event_id = "0190f5c2-7a3e-7b41-9c2d-5e6f7a8b9c0e";
    s.created_at = *parse_time("2026-11-26T23:59:02.000001Z");
    s.source = event_source::detector;
    s.request_id = "req-8";
    s.method = "POST";
    s.route = "/login";
    s.status = 401;
    s.event_type = "authn_login_fail_max";
    s.user_id = "bob";
    s.ip_address = "10.0.0.2";
    s.success = success;
    s.details = R"({"count":5})";
    return s;
}

TEST(HashChainGolden, RowsWithoutTraceIdEncodeAsBefore) {
    const event a = golden_audit();
    EXPECT_EQ(sha256_hex(canonical_row(3, a)),
              "e3b2d196990c2e7e09d2893be1ab3fdfb8180b9fa6e2183c6347b07ba63cc8f2");
    EXPECT_EQ(chain_hash(genesis_hash, 3, a),
              "0ca8ee6b6fef2bac74bcd2f70edbdddfe6eeef50776f60f326b5b54ad85eab96");

    const event failed = golden_security(false);
    EXPECT_EQ(sha256_hex(canonical_row(4, failed)),
              "c4eb2b177ac398ddfbb4760a12f7628a2103de285684674b81994c0eb5f9cc7b");
    EXPECT_EQ(chain_hash(genesis_hash, 4, failed),
              "ae7a1256a0e04117209d2065ed8bfe8899fd68b3995aec87a2acce5dfbb5428c");
    const event ok = golden_security(true);
    EXPECT_EQ(chain_hash(genesis_hash, 4, ok),
              "a3eae7751375fba2842b9f10ca663dc21ff499aba8fbeb4e0fe3e0cdbd4c2b5f");
    const event unknown = golden_security(std::nullopt);
    EXPECT_EQ(chain_hash(genesis_hash, 4, unknown),
              "3cc7eee49e951e3f9539c82bb06a7212370e9f2b22fefc64417f8c050a7e8fc7");
}

// A trace id is one more field after all the others, so the row's hash covers it; without one
// the encoding is the golden one above.
TEST(HashChainGolden, ATraceIdIsAppendedAndCovered) {
    const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const std::string length_prefix{"\0\0\0\x20", 4};  // 32, big-endian
    for (event ev : {event{golden_audit()}, event{golden_security(false)}}) {
        const auto without = canonical_row(3, ev);
        const auto hash_without = chain_hash(genesis_hash, 3, ev);
        std::visit([&](auto& e) { e.trace_id = trace; }, ev);
        EXPECT_EQ(canonical_row(3, ev), without + length_prefix + trace);
        const auto with = chain_hash(genesis_hash, 3, ev);
        EXPECT_NE(with, hash_without);
        std::visit([&](auto& e) { e.trace_id = "0af7651916cd43dd8448eb211c80319c"; }, ev);
        EXPECT_NE(chain_hash(genesis_hash, 3, ev), with);
        std::visit([&](auto& e) { e.trace_id.clear(); }, ev);
        EXPECT_EQ(canonical_row(3, ev), without);
    }
    event traced = golden_audit();
    std::get<audit_event>(traced).trace_id = trace;
    // Computed independently from the documented format.
    EXPECT_EQ(chain_hash(genesis_hash, 3, traced),
              "3ae50f9ecdacf7bf5c4031adb99a40052a4f8d893d19d839110d32a8b8a251bd");
}

}  // namespace
}  // namespace sidelight::audit
