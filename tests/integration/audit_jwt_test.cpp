// `user: jwt:sub` with a key under `audit.jwt`, through the real binary in front of a fake app:
// only a token signed by the configured key gives a user id; forged, tampered, unsigned,
// algorithm-confused and expired tokens leave it empty and are counted by reason in
// sidelight_audit_jwt_rejected_total. A key that cannot be used stops `sidelight check`
// with the position in the file.

#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include <SQLiteCpp/SQLiteCpp.h>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/jwt_sign.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

const std::string jwt_yaml = R"(routes:
  - PUT /api/products/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  jwt:
    key_file: jwt.pub.pem
    leeway: 5s
  rules:
    - name: product-update
      match:
        routes: ["/api/products/{id}"]
        methods: [PUT]
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: path:id
      user: jwt:sub
)";

std::string claims(std::chrono::seconds exp_from_now, const std::string& sub = "user-42") {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return R"({"sub":")" + sub + R"(","iat":)" + std::to_string(now) + R"(,"exp":)" +
           std::to_string(now + exp_from_now.count()) + "}";
}

// "line:column" (1-based) of `needle`'s value in `yaml`.
std::string position_of_value(const std::string& yaml, const std::string& needle) {
    const auto at = yaml.find(needle) + needle.size();
    const auto line = 1 + std::count(yaml.begin(), yaml.begin() + static_cast<long>(at), '\n');
    const auto line_start = yaml.rfind('\n', at) + 1;
    return std::to_string(line) + ":" + std::to_string(at - line_start + 1);
}

class AuditJwtTest : public ::testing::Test {
  protected:
    std::string db() const { return dir_.path() + "/audit.db"; }
    temp_dir dir_;
};

TEST_F(AuditJwtTest, OnlyTokensSignedByTheConfiguredKeyGiveAUserId) {
    const test_key key("RSA"), other("RSA");
    const auto pem = key.public_pem();
    dir_.write("jwt.pub.pem", pem);
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, test_config(app.port(), jwt_yaml));
    const auto good = jwt_with_key(key, "RS256", claims(600s));
    const auto forged_payload = base64url(claims(600s, "admin"));
    const auto tampered =
        good.substr(0, good.find('.') + 1) + forged_payload + good.substr(good.rfind('.'));
    const std::map<std::string, std::string> tokens = {
        {"1-valid", good},
        {"2-tampered", tampered},
        {"3-other-key", jwt_with_key(other, "RS256", claims(600s))},
        {"4-alg-none", jwt_unsigned("none", claims(600s))},
        {"5-hs256-with-public-key", jwt_with_secret(pem, "HS256", claims(600s))},
        {"6-expired", jwt_with_key(key, "RS256", claims(-3600s))},
        {"7-no-token", ""},
    };
    auto c = connection::connect(proc->proxy_port());
    for (const auto& [id, token] : tokens) {
        const std::string auth = token.empty() ? "" : "Authorization: Bearer " + token + "\r\n";
        c.send("PUT /api/products/" + id + " HTTP/1.1\r\nHost: a\r\n" + auth +
               "Content-Length: 2\r\n\r\n{}");
        ASSERT_EQ(c.read_message(true)->status, 200) << id;  // the app is served either way
    }
    ASSERT_TRUE(eventually(
        [&] {
            SQLite::Database d(db(), SQLite::OPEN_READONLY);
            return d.execAndGet("SELECT count(*) FROM audit_log").getInt() == 7;
        },
        5s));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    SQLite::Statement rows(d, "SELECT entity_id, user_id FROM audit_log ORDER BY entity_id");
    std::map<std::string, std::string> users;
    while (rows.executeStep()) users[rows.getColumn(0).getString()] = rows.getColumn(1).getString();
    EXPECT_EQ(users, (std::map<std::string, std::string>{{"1-valid", "user-42"},
                                                         {"2-tampered", ""},
                                                         {"3-other-key", ""},
                                                         {"4-alg-none", ""},
                                                         {"5-hs256-with-public-key", ""},
                                                         {"6-expired", ""},
                                                         {"7-no-token", ""}}));
    const auto metrics = scrape_metrics(proc->admin_port());
    const auto rejected = [&](const std::string& reason) {
        return sample_value(metrics,
                            "sidelight_audit_jwt_rejected_total{reason=\"" + reason + "\"}");
    };
    EXPECT_EQ(rejected("signature"), 2) << metrics;
    EXPECT_EQ(rejected("algorithm"), 2) << metrics;
    EXPECT_EQ(rejected("expired"), 1) << metrics;
    EXPECT_EQ(rejected("malformed"), 0) << metrics;
    EXPECT_EQ(rejected("not_yet_valid"), 0) << metrics;
}

TEST_F(AuditJwtTest, CheckRefusesAnUnusableKeyWithItsPositionInTheFile) {
    ::unsetenv("SIDELIGHT_TEST_JWT_UNSET");
    auto yaml = test_config(3000, jwt_yaml);
    yaml.replace(yaml.find("    key_file: jwt.pub.pem\n"), 26,
                 "    hmac_secret_env: SIDELIGHT_TEST_JWT_UNSET\n");
    const auto file = dir_.write("sidelight.yaml", yaml);
    sidelight_process check({"check", "--config", file});
    EXPECT_EQ(check.wait_exit(), 2);
    EXPECT_NE(check.stderr_text().find(file + ":" + position_of_value(yaml, "hmac_secret_env: ") +
                                       ": audit.jwt.hmac_secret_env: environment variable "
                                       "SIDELIGHT_TEST_JWT_UNSET is not set"),
              std::string::npos)
        << check.stderr_text();

    yaml = test_config(3000, jwt_yaml);  // key_file names a file that is not there
    dir_.write("sidelight.yaml", yaml);
    sidelight_process missing({"check", "--config", file});
    EXPECT_EQ(missing.wait_exit(), 2);
    EXPECT_NE(missing.stderr_text().find(file + ":" + position_of_value(yaml, "key_file: ") +
                                         ": audit.jwt.key_file: cannot read " + dir_.path() +
                                         "/jwt.pub.pem: No such file or directory"),
              std::string::npos)
        << missing.stderr_text();
}

}  // namespace
}  // namespace sidelight::test
