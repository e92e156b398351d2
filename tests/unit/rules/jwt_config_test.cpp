// `audit.jwt` as configured: errors that name file:line:column and the key (at load for the
// syntax, when the rules are built for the key itself), and the rule set reading `jwt:` values
// only from tokens that verify, counting refusals once per request.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "config/load.hpp"
#include "routes/routing.hpp"
#include "rules/jwt_verifier.hpp"
#include "rules/rule_set.hpp"
#include "tests/support/jwt_sign.hpp"
#include "tests/unit/audit/test_util.hpp"

namespace sidelight::rules {
namespace {
using namespace sidelight::audit;  // events, redaction: what the rules make

using test::jwt_with_key;
using test::test_key;

const std::string head = "upstream:\n  address: 127.0.0.1:3000\naudit:\n  jwt:\n";

// The config_error message of loading `block` under audit.jwt and building a verifier from it.
std::string error_of(const std::string& block) {
    try {
        const auto cfg = config::load_string(head + block, "j.yaml");
        jwt_verifier v(cfg->audit.jwt);
        return "accepted";
    } catch (const config::config_error& e) {
        return e.what();
    }
}

class JwtConfigTest : public ::testing::Test {
  protected:
    std::string write(const std::string& name, const std::string& text) const {
        const auto path = dir_.file(name);
        std::ofstream(path) << text;
        return path;
    }
    testing::temp_dir dir_;
};

TEST_F(JwtConfigTest, KeyFileErrorsNameFileLineColumnAndKey) {
    const auto missing = dir_.file("nope.pem");
    EXPECT_EQ(
        error_of("    key_file: " + missing + "\n"),
        "j.yaml:5:15: audit.jwt.key_file: cannot read " + missing + ": No such file or directory");
    const test_key rsa("RSA");
    const auto priv = write("private.pem", rsa.private_pem());
    EXPECT_EQ(error_of("    key_file: " + priv + "\n"),
              "j.yaml:5:15: audit.jwt.key_file: " + priv +
                  ": holds a private key; give sidelight only the public key (openssl pkey -in "
                  "key.pem -pubout)");
    const auto junk = write("junk.pem", "not a key\n");
    EXPECT_EQ(error_of("    key_file: " + junk + "\n"),
              "j.yaml:5:15: audit.jwt.key_file: " + junk +
                  ": no PEM public key (BEGIN PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE) in it");
    const auto small = write("small.pem", test_key("RSA-1024").public_pem());
    EXPECT_EQ(error_of("    key_file: " + small + "\n"),
              "j.yaml:5:15: audit.jwt.key_file: " + small +
                  ": an RSA key of 1024 bits is too short (RFC 7518 asks for 2048 or more)");
    const auto k1 = write("k1.pem", test_key("secp256k1").public_pem());
    EXPECT_EQ(error_of("    key_file: " + k1 + "\n"),
              "j.yaml:5:15: audit.jwt.key_file: " + k1 +
                  ": unsupported EC curve secp256k1 (JWS allows P-256, P-384 and P-521)");
    const auto pub = write("rsa.pem", rsa.public_pem());
    EXPECT_EQ(error_of("    key_file: " + pub + "\n    algorithms: [RS256, ES256]\n"),
              "j.yaml:6:17: audit.jwt.algorithms: ES256 needs a key that is not configured (the "
              "configured keys allow RS256, PS256, RS384, PS384, RS512, PS512)");
    EXPECT_EQ(error_of("    key_file: " + pub + "\n"), "accepted");
    // A relative key_file is relative to the config file's directory.
    const auto cfg = config::load_string(head + "    key_file: keys/jwt.pem\n", "/etc/sl/c.yaml");
    EXPECT_EQ(cfg->audit.jwt.key_file, "/etc/sl/keys/jwt.pem");
}

TEST_F(JwtConfigTest, SecretErrorsNameTheVariableButNeverTheSecret) {
    ::unsetenv("SIDELIGHT_TEST_UNSET");
    EXPECT_EQ(error_of("    hmac_secret_env: SIDELIGHT_TEST_UNSET\n"),
              "j.yaml:5:22: audit.jwt.hmac_secret_env: environment variable SIDELIGHT_TEST_UNSET "
              "is not set");
    ::setenv("SIDELIGHT_TEST_SHORT", "short-secret", 1);
    EXPECT_EQ(error_of("    hmac_secret_env: SIDELIGHT_TEST_SHORT\n"),
              "j.yaml:5:22: audit.jwt.hmac_secret_env: environment variable SIDELIGHT_TEST_SHORT "
              "holds 12 bytes; an HMAC secret needs at least 32 (RFC 7518, section 3.2)");
    // The value written where the name belongs: refused without quoting it.
    ::setenv("SIDELIGHT_TEST_SECRET", "s3cr3t value with spaces and more than 32 bytes", 1);
    const auto inline_value = error_of("    hmac_secret_env: ${SIDELIGHT_TEST_SECRET}\n");
    EXPECT_NE(inline_value.find("j.yaml:5:22: audit.jwt.hmac_secret_env: expected the NAME"),
              std::string::npos)
        << inline_value;
    EXPECT_EQ(inline_value.find("s3cr3t"), std::string::npos) << inline_value;
    EXPECT_EQ(error_of("    hmac_secret_env: SIDELIGHT_TEST_SECRET\n"), "accepted");
    EXPECT_NE(error_of("    hmac_secret: abc\n")
                  .find("j.yaml:5:5: audit.jwt.hmac_secret: unknown "
                        "key"),
              std::string::npos);
    ::unsetenv("SIDELIGHT_TEST_SHORT");
    ::unsetenv("SIDELIGHT_TEST_SECRET");
}

TEST_F(JwtConfigTest, SyntaxErrorsAtLoad) {
    ::setenv("SIDELIGHT_TEST_SECRET", std::string(40, 'k').c_str(), 1);
    const std::string env = "    hmac_secret_env: SIDELIGHT_TEST_SECRET\n";
    EXPECT_EQ(error_of(env + "    algorithms: [HS256, none]\n"),
              "j.yaml:6:25: audit.jwt.algorithms[1]: \"none\" (an unsigned token) is never "
              "accepted");
    EXPECT_NE(error_of(env + "    algorithms: [HS257]\n")
                  .find("j.yaml:6:18: audit.jwt.algorithms[0]: unknown JWS algorithm \"HS257\""),
              std::string::npos);
    EXPECT_EQ(error_of("    issuer: https://id.example\n"),
              "j.yaml:5:5: audit.jwt: needs key_file or hmac_secret_env: without a key, tokens "
              "are only decoded and nothing else here would be checked");
    EXPECT_NE(error_of(env + "    leeway: 30\n").find("j.yaml:6:13: audit.jwt.leeway: expected a"),
              std::string::npos);
    ::unsetenv("SIDELIGHT_TEST_SECRET");
}

const char* rules_yaml = R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /a/{id}
audit:
  jwt:
    key_file: KEY
  rules:
    - name: read
      match: {routes: ["/a/{id}"]}
      action: READ
      entity_id: path:id
      user: jwt:sub
      mode: strict
security:
  rules:
    - name: access
      match: {routes: ["/a/{id}"]}
      event_type: ACCESS
      user: jwt:sub
)";

TEST_F(JwtConfigTest, RulesReadOnlyVerifiedTokensAndCountARefusalOncePerRequest) {
    const test_key rsa("RSA"), other("RSA");
    std::string yaml = rules_yaml;
    yaml.replace(yaml.find("KEY"), 3, write("rsa.pem", rsa.public_pem()));
    const auto cfg = config::load_string(yaml, "r.yaml");
    routes::routing routes(*cfg);
    jwt_stats stats;
    rule_set rules(cfg, routes.shared_table(), &stats);
    const auto request = [&](const std::string& token) {
        routes::request_record r;
        r.method = "GET";
        r.method_id = routes::http_method::get;
        r.route = routes.resolve(r.method_id, "/a/7", &r.params);
        r.route_label = routes.label(r.route);
        r.route_configured = routes.configured(r.route);
        r.status = 200;
        r.wall_start = std::chrono::system_clock::now();
        r.headers = {{"authorization", "Bearer " + token}};
        return r;
    };
    const auto users = [&](const routes::request_record& r) {
        std::vector<derived_event> held, out;
        rules.evaluate_strict(r, routes::audit_phase::request, held);
        auto done = r;
        done.held_request = true;
        rules.evaluate(done, out);
        std::string all = held.empty() ? "-" : std::get<audit_event>(held[0].ev).user_id;
        for (const auto& d : out) all += "|" + std::get<security_event>(d.ev).user_id;
        return all;
    };
    const std::string payload = R"({"sub":"user-42"})";
    EXPECT_EQ(users(request(jwt_with_key(rsa, "RS256", payload))), "user-42|user-42");
    EXPECT_EQ(users(request(jwt_with_key(other, "RS256", payload))), "|");
    EXPECT_EQ(stats.value(jwt_rejection::signature), 1u);  // read three times, counted once
    EXPECT_EQ(users(request(test::jwt_unsigned("none", payload))), "|");
    EXPECT_EQ(stats.value(jwt_rejection::algorithm), 1u);

    // The key is read when the rules are built: `sidelight check`, startup and reload refuse it.
    yaml = rules_yaml;
    yaml.replace(yaml.find("KEY"), 3, dir_.file("gone.pem"));
    const auto bad = config::load_string(yaml, "r.yaml");
    routes::routing bad_routes(*bad);
    try {
        rule_set refused(bad, bad_routes.shared_table());
        FAIL() << "accepted";
    } catch (const config::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("r.yaml:7:15: audit.jwt.key_file: cannot read"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace sidelight::rules
