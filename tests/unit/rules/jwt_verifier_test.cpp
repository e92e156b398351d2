// JWT verification with a configured key: keys generated here with OpenSSL, tokens signed here,
// and every way a token must be refused (tampering, another key, `none`, the HS256-with-the-
// public-key confusion, expiry, issuer, audience, malformed parts).

#include "rules/jwt_verifier.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "config/load.hpp"
#include "tests/support/jwt_sign.hpp"
#include "tests/unit/audit/test_util.hpp"

namespace sidelight::rules {
namespace {
using namespace sidelight::audit;  // events, redaction: what the rules make

using clock = std::chrono::system_clock;
using test::base64url;
using test::jwt_unsigned;
using test::jwt_with_key;
using test::jwt_with_secret;
using test::test_key;

const clock::time_point now{std::chrono::seconds(1'800'000'000)};
const std::string claims = R"({"sub":"user-42","iat":1800000000,"exp":1800000600})";
const std::string secret = "0123456789abcdef0123456789abcdef-test";  // 37 bytes
constexpr const char* secret_env = "SIDELIGHT_TEST_JWT_SECRET";

std::shared_ptr<const config::config> load_jwt(const std::string& block) {
    return config::load_string("upstream:\n  address: 127.0.0.1:3000\naudit:\n  jwt:\n" + block,
                               "j.yaml");
}

class JwtVerifierTest : public ::testing::Test {
  protected:
    void SetUp() override { ::setenv(secret_env, secret.c_str(), 1); }
    void TearDown() override { ::unsetenv(secret_env); }

    std::string write(const std::string& name, const std::string& text) const {
        const auto path = dir_.file(name);
        std::ofstream(path) << text;
        return path;
    }
    // A verifier for `key`'s public half, with `extra` lines under audit.jwt.
    std::unique_ptr<jwt_verifier> with_key(const test_key& key, const std::string& extra = "",
                                           jwt_stats* stats = nullptr) const {
        const auto cfg =
            load_jwt("    key_file: " + write("key.pem", key.public_pem()) + "\n" + extra);
        return std::make_unique<jwt_verifier>(cfg->audit.jwt, stats);
    }
    std::unique_ptr<jwt_verifier> with_secret(const std::string& extra = "") const {
        const auto cfg = load_jwt("    hmac_secret_env: " + std::string(secret_env) + "\n" + extra);
        return std::make_unique<jwt_verifier>(cfg->audit.jwt);
    }

    testing::temp_dir dir_;
};

// "user-42" when accepted, "refused:<reason>" otherwise.
std::string subject(const jwt_verifier& v, const std::string& token, clock::time_point at = now) {
    auto r = v.verify(token, at);
    if (const auto* c = std::get_if<boost::json::object>(&r)) {
        const auto* sub = c->if_contains("sub");
        return sub && sub->is_string() ? std::string(sub->as_string()) : "accepted";
    }
    return "refused:" + std::string(to_string(std::get<jwt_rejection>(r)));
}

std::string with_payload(const std::string& token, const std::string& payload) {
    const auto dot1 = token.find('.'), dot2 = token.rfind('.');
    return token.substr(0, dot1 + 1) + base64url(payload) + token.substr(dot2);
}

TEST_F(JwtVerifierTest, EachKeyTypeAcceptsItsOwnAlgorithms) {
    const test_key rsa("RSA");
    const auto v = with_key(rsa);
    EXPECT_EQ(v->algorithms(),
              (std::vector<std::string>{"RS256", "PS256", "RS384", "PS384", "RS512", "PS512"}));
    for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
        EXPECT_EQ(subject(*v, jwt_with_key(rsa, alg, claims)), "user-42") << alg;

    const test_key p256("P-256"), p384("P-384"), ed("ED25519");
    EXPECT_EQ(subject(*with_key(p256), jwt_with_key(p256, "ES256", claims)), "user-42");
    EXPECT_EQ(subject(*with_key(p384), jwt_with_key(p384, "ES384", claims)), "user-42");
    EXPECT_EQ(subject(*with_key(ed), jwt_with_key(ed, "EdDSA", claims)), "user-42");
    // The curve fixes the algorithm: a P-384 key does not take ES256, nor an RSA key EdDSA.
    EXPECT_EQ(subject(*with_key(p384), jwt_with_key(p384, "ES256", claims)), "refused:algorithm");
    EXPECT_EQ(subject(*v, jwt_with_key(ed, "EdDSA", claims)), "refused:algorithm");

    const auto hs = with_secret();
    for (const char* alg : {"HS256", "HS384", "HS512"})
        EXPECT_EQ(subject(*hs, jwt_with_secret(secret, alg, claims)), "user-42") << alg;
}

TEST_F(JwtVerifierTest, TamperedPayloadAndAnotherKeyAreRefused) {
    const test_key rsa("RSA"), other("RSA"), p256("P-256");
    const auto v = with_key(rsa);
    const auto good = jwt_with_key(rsa, "RS256", claims);
    EXPECT_EQ(subject(*v, with_payload(good, R"({"sub":"admin","exp":1800000600})")),
              "refused:signature");
    EXPECT_EQ(subject(*v, jwt_with_key(other, "RS256", claims)), "refused:signature");
    EXPECT_EQ(subject(*v, good.substr(0, good.size() - 2)), "refused:signature");
    const auto es = with_key(p256);
    const auto es_good = jwt_with_key(p256, "ES256", claims);
    EXPECT_EQ(subject(*es, with_payload(es_good, R"({"sub":"admin"})")), "refused:signature");
    EXPECT_EQ(subject(*es, jwt_with_key(test_key("P-256"), "ES256", claims)), "refused:signature");
    EXPECT_EQ(subject(*es, es_good.substr(0, es_good.size() - 4)), "refused:signature");
    EXPECT_EQ(subject(*with_secret(), jwt_with_secret(secret + "x", "HS256", claims)),
              "refused:signature");
}

TEST_F(JwtVerifierTest, NoneAndAlgorithmConfusionAreRefused) {
    const test_key rsa("RSA");
    const auto v = with_key(rsa);
    for (const char* alg : {"none", "None", "NONE", ""}) {
        EXPECT_EQ(subject(*v, jwt_unsigned(alg, claims)), "refused:algorithm") << alg;
        EXPECT_EQ(subject(*v, jwt_unsigned(alg, claims, "c2ln")), "refused:algorithm") << alg;
    }
    EXPECT_EQ(subject(*v, base64url(R"({"typ":"JWT"})") + "." + base64url(claims) + ".c2ln"),
              "refused:algorithm");  // no alg at all
    // The classic confusion: HS256 keyed with the RSA public key's bytes. Without a secret, no
    // HS* is allowed; with one, the public key is still never used as an HMAC key.
    const auto pem = rsa.public_pem();
    const auto confused = jwt_with_secret(pem, "HS256", claims);
    EXPECT_EQ(subject(*v, confused), "refused:algorithm");
    const auto both = with_key(rsa, "    hmac_secret_env: " + std::string(secret_env) + "\n");
    EXPECT_EQ(subject(*both, confused), "refused:signature");
    EXPECT_EQ(subject(*both, jwt_with_key(rsa, "RS256", claims)), "user-42");
    EXPECT_EQ(subject(*both, jwt_with_secret(secret, "HS256", claims)), "user-42");
    // An RS256 signature relabelled PS256 or RS512 does not verify either.
    const auto rs = jwt_with_key(rsa, "RS256", claims);
    const auto relabel = [&](const char* alg) {
        return base64url(std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})") +
               rs.substr(rs.find('.'));
    };
    EXPECT_EQ(subject(*v, relabel("PS256")), "refused:signature");
    EXPECT_EQ(subject(*v, relabel("RS512")), "refused:signature");
    // `algorithms` narrows what the key allows.
    const auto pinned = with_key(rsa, "    algorithms: [RS256]\n");
    EXPECT_EQ(subject(*pinned, rs), "user-42");
    EXPECT_EQ(subject(*pinned, jwt_with_key(rsa, "PS256", claims)), "refused:algorithm");
}

TEST_F(JwtVerifierTest, ExpiryAndNotBeforeHoldWithinTheLeeway) {
    const test_key ed("ED25519");
    const auto v = with_key(ed, "    leeway: 30s\n");
    const auto token = [&](const std::string& times) {
        return jwt_with_key(ed, "EdDSA", R"({"sub":"user-42")" + times + "}");
    };
    EXPECT_EQ(subject(*v, token(R"(,"exp":1799999000)")), "refused:expired");
    EXPECT_EQ(subject(*v, token(R"(,"exp":1799999980)")), "user-42");  // 20 s ago, leeway 30 s
    EXPECT_EQ(subject(*v, token(R"(,"exp":1799999970)")), "refused:expired");
    EXPECT_EQ(subject(*v, token(R"(,"exp":1800000000.5)")), "user-42");
    EXPECT_EQ(subject(*v, token(R"(,"nbf":1800000020)")), "user-42");
    EXPECT_EQ(subject(*v, token(R"(,"nbf":1800000031)")), "refused:not_yet_valid");
    EXPECT_EQ(subject(*v, token(R"(,"exp":"1900000000")")), "refused:malformed");
    EXPECT_EQ(subject(*v, token("")), "user-42");  // no exp: only the signature counts
    EXPECT_EQ(subject(*v, jwt_with_key(ed, "EdDSA", claims), now + std::chrono::hours(1)),
              "refused:expired");
}

TEST_F(JwtVerifierTest, IssuerAndAudienceWhenConfigured) {
    const auto v = with_secret("    issuer: https://id.example\n    audience: shop\n");
    const auto token = [&](const std::string& more) {
        return jwt_with_secret(secret, "HS256", R"({"sub":"user-42")" + more + "}");
    };
    EXPECT_EQ(subject(*v, token(R"(,"iss":"https://id.example","aud":"shop")")), "user-42");
    EXPECT_EQ(subject(*v, token(R"(,"iss":"https://id.example","aud":["x","shop"])")), "user-42");
    EXPECT_EQ(subject(*v, token(R"(,"iss":"https://evil.example","aud":"shop")")),
              "refused:issuer");
    EXPECT_EQ(subject(*v, token(R"(,"aud":"shop")")), "refused:issuer");
    EXPECT_EQ(subject(*v, token(R"(,"iss":"https://id.example","aud":["x"])")), "refused:audience");
    EXPECT_EQ(subject(*v, token(R"(,"iss":"https://id.example")")), "refused:audience");
}

TEST_F(JwtVerifierTest, MalformedTokensAreRefused) {
    const auto v = with_secret();
    const auto good = jwt_with_secret(secret, "HS256", claims);
    EXPECT_EQ(subject(*v, good), "user-42");
    EXPECT_EQ(subject(*v, good.substr(0, good.rfind('.'))), "refused:malformed");
    EXPECT_EQ(subject(*v, good + ".x"), "refused:malformed");
    EXPECT_EQ(subject(*v, good + "="), "refused:malformed");
    EXPECT_EQ(subject(*v, "a*b." + good.substr(good.find('.') + 1)), "refused:malformed");
    EXPECT_EQ(subject(*v, "bm90IGpzb24." + good.substr(good.find('.') + 1)), "refused:malformed");
    EXPECT_EQ(subject(*v, jwt_with_secret(secret, "HS256", "[1,2]")), "refused:malformed");
    EXPECT_EQ(subject(*v, jwt_with_secret(secret, "HS256", claims,
                                          R"({"alg":"HS256","crit":["exp"],"exp":1})")),
              "refused:malformed");
    EXPECT_EQ(subject(*v, ""), "refused:malformed");
}

routes::request_record request_at(clock::time_point start) {
    routes::request_record r;
    r.wall_start = start;
    return r;
}

// claims() reads the Authorization header value, caches the last token per thread and counts a
// refusal once per request.
TEST_F(JwtVerifierTest, ClaimsCountRefusalsOncePerRequest) {
    const test_key rsa("RSA"), other("RSA");
    jwt_stats stats;
    const auto v = with_key(rsa, "", &stats);
    const auto good = jwt_with_key(rsa, "RS256", claims);
    auto r = request_at(now);
    const auto found = v->claims("bearer  " + good + " ", r, true);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->at("sub").as_string(), "user-42");
    EXPECT_FALSE(v->claims("Basic dXNlcjpwdw==", r, true));
    EXPECT_FALSE(v->claims("", r, true));
    const auto forged = "Bearer " + jwt_with_key(other, "RS256", claims);
    EXPECT_FALSE(v->claims(forged, r, true));
    EXPECT_FALSE(v->claims(forged, r, true));   // the same request read twice
    EXPECT_FALSE(v->claims(forged, r, false));  // a pass that does not count
    EXPECT_EQ(stats.value(jwt_rejection::signature), 1u);
    auto next = request_at(now + std::chrono::seconds(1));
    EXPECT_FALSE(v->claims(forged, next, true));
    EXPECT_EQ(stats.value(jwt_rejection::signature), 2u);
    // A cached verdict is re-timed per request: the same good token, an hour later, is expired.
    EXPECT_TRUE(v->claims("Bearer " + good, r, true));
    auto later = request_at(now + std::chrono::hours(1));
    EXPECT_FALSE(v->claims("Bearer " + good, later, true));
    EXPECT_EQ(stats.value(jwt_rejection::expired), 1u);
    // The per-thread cache belongs to one verifier: another key does not inherit a verdict.
    EXPECT_TRUE(v->claims("Bearer " + good, r, true));
    EXPECT_FALSE(with_key(other)->claims("Bearer " + good, r, true));
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < jwt_rejection_count; ++i)
        total += stats.value(static_cast<jwt_rejection>(i));
    EXPECT_EQ(total, 3u);
}

}  // namespace
}  // namespace sidelight::rules
