// What `sidelight check` and `run` refuse after the YAML parsed, at the position in the file:
// a `path:` source no route the rule can match has, an unusable checkpoint key, a missing
// OpenAPI file. The same calls main() makes for check (routing, rule_set,
// make_checkpoint_signer).

#include <gtest/gtest.h>

#include <fstream>

#include "audit/checkpoint.hpp"
#include "config/load.hpp"
#include "routes/routing.hpp"
#include "rules/rule_set.hpp"
#include "tests/unit/audit/test_util.hpp"

namespace sidelight::rules {
namespace {
using namespace sidelight::audit;  // events, redaction: what the rules make

const std::string upstream = "upstream:\n  address: 127.0.0.1:3000\n";

// The config_error of loading `yaml` and building what check builds, or "accepted".
std::string error_of(const std::string& yaml) {
    try {
        const auto cfg = config::load_string(upstream + yaml, "c.yaml");
        const routes::routing routes(*cfg);
        const rule_set rules(cfg, routes.shared_table());
        make_checkpoint_signer(cfg->audit.checkpoint);
        return "accepted";
    } catch (const config::config_error& e) {
        return e.what();
    }
}

const std::string routes =
    "routes:\n"
    "  - PUT /api/products/{id}\n"
    "  - GET /api/orders/{order}\n"
    "  - GET /health\n";

TEST(load_checks, entity_id_naming_a_parameter_no_matched_route_has_is_refused) {
    EXPECT_EQ(error_of(routes + "audit:\n  rules:\n"
                                "    - action: UPDATE\n"
                                "      match: {routes: [\"/api/products/{id}\"]}\n"
                                "      entity_id: path:nosuchparam\n"),
              "c.yaml:11:18: audit.rules[0].entity_id: no route this rule can match has a "
              "parameter \"nosuchparam\" (it matches /api/products/{id})");
    // `order` exists, but only on a route the rule does not match.
    EXPECT_EQ(error_of(routes + "audit:\n  rules:\n"
                                "    - action: UPDATE\n"
                                "      match: {routes: [\"/api/products/{id}\", /health]}\n"
                                "      entity_id: path:order\n"),
              "c.yaml:11:18: audit.rules[0].entity_id: no route this rule can match has a "
              "parameter \"order\" (it matches /api/products/{id}, /health)");
}

TEST(load_checks, a_rule_without_routes_may_use_a_parameter_some_route_of_its_methods_has) {
    const std::string rule = "audit:\n  rules:\n    - action: A\n      entity_id: path:";
    EXPECT_EQ(error_of(routes + rule + "order\n"), "accepted");
    EXPECT_EQ(error_of(routes + rule + "id\n      match: {methods: [PUT]}\n"), "accepted");
    // PUT requests only reach /api/products/{id}: no `order` there.
    EXPECT_EQ(error_of(routes + rule + "order\n      match: {methods: [PUT]}\n"),
              "c.yaml:10:18: audit.rules[0].entity_id: no route this rule can match has a "
              "parameter \"order\" (it matches /api/products/{id})");
    EXPECT_EQ(error_of(rule + "id\n"),
              "c.yaml:6:18: audit.rules[0].entity_id: no route this rule can match has a "
              "parameter \"id\" (it matches no configured route)");
}

TEST(load_checks, user_sources_of_audit_and_security_rules_are_checked_too) {
    EXPECT_EQ(error_of(routes + "audit:\n  rules:\n"
                                "    - action: A\n      match: {routes: [/health]}\n"
                                "      user: path:id\n"),
              "c.yaml:11:13: audit.rules[0].user: no route this rule can match has a parameter "
              "\"id\" (it matches /health)");
    EXPECT_EQ(error_of(routes + "security:\n  rules:\n"
                                "    - event_type: E\n      match: {routes: [/health]}\n"
                                "      user: path:id\n"),
              "c.yaml:11:13: security.rules[0].user: no route this rule can match has a "
              "parameter \"id\" (it matches /health)");
}

class CheckpointKeyTest : public ::testing::Test {
  protected:
    std::string config_with_key(const std::string& path) const {
        return "audit:\n  store: {type: memory}\n  checkpoint:\n    key_file: " + path + "\n";
    }
    testing::temp_dir dir_;
};

TEST_F(CheckpointKeyTest, a_missing_or_unusable_key_is_refused_at_the_key_file) {
    const auto missing = dir_.file("missing.pem");
    EXPECT_EQ(error_of(config_with_key(missing)),
              "c.yaml:6:15: audit.checkpoint.key_file: cannot read " + missing +
                  ": No such file or directory");
    const auto junk = dir_.file("junk.pem");
    std::ofstream(junk) << "not a key\n";
    EXPECT_EQ(error_of(config_with_key(junk)),
              "c.yaml:6:15: audit.checkpoint.key_file: no PEM key in " + junk +
                  " (expected an Ed25519 private key in PEM; `sidelight audit keygen` writes "
                  "one)");
    const auto priv = dir_.file("k.pem"), pub = dir_.file("k.pub.pem");
    generate_checkpoint_key(priv, pub);
    EXPECT_EQ(error_of(config_with_key(pub)),
              "c.yaml:6:15: audit.checkpoint.key_file: no PEM key in " + pub +
                  " (expected an Ed25519 private key in PEM; `sidelight audit keygen` writes "
                  "one)");
    EXPECT_EQ(error_of(config_with_key("/dev/null")),
              "c.yaml:6:15: audit.checkpoint.key_file: /dev/null is not a regular file");
    EXPECT_EQ(error_of(config_with_key(priv)), "accepted");
}

TEST(load_checks, a_missing_openapi_file_names_the_openapi_key) {
    EXPECT_EQ(error_of("routes:\n  openapi: /nonexistent/api.yaml\n"),
              "c.yaml:4:12: routes.openapi: cannot read /nonexistent/api.yaml: No such file or "
              "directory");
}

}  // namespace
}  // namespace sidelight::rules
