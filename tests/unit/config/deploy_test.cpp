// The shipped deployment files stay valid: the ConfigMap's sidelight.yaml loads, and the
// example's comments match what the binary does.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

TEST(DeployTest, KubernetesConfigMapHoldsAValidConfig) {
    ::setenv("SIDELIGHT_ADMIN_TOKEN", "t0ken", 1);
    const auto docs = YAML::LoadAllFromFile(std::string(SIDELIGHT_SOURCE_DIR) +
                                            "/deploy/kubernetes/common/configmap.yaml");
    std::string embedded;
    for (const auto& doc : docs) {
        if (doc["kind"].as<std::string>() == "ConfigMap")
            embedded = doc["data"]["sidelight.yaml"].as<std::string>();
    }
    ASSERT_FALSE(embedded.empty());
    const auto cfg = load_string(embedded, "/etc/sidelight/sidelight.yaml");
    EXPECT_EQ(cfg->upstream.address.port, 3000);
    EXPECT_EQ(cfg->admin.token, "t0ken");
    EXPECT_EQ(cfg->metrics.const_labels.at("service"), "shop");
    EXPECT_EQ(cfg->routes.entries.size(), 3u);
    EXPECT_TRUE(cfg->config_watch);
    EXPECT_TRUE(cfg->proxy.trusted_proxies.empty());
    EXPECT_EQ(cfg->audit.store.path, "/var/lib/sidelight/audit.db");
}

// The image's default config (deploy/docker/sidelight.yaml) keeps the store in the one
// directory the image makes writable for its non-root user, and trusts no X-Forwarded-For.
TEST(DeployTest, TheImagesConfigKeepsTheStoreInItsVolume) {
    ::unsetenv("SIDELIGHT_UPSTREAM");
    ::unsetenv("SIDELIGHT_ADMIN_TOKEN");
    const auto cfg = load_file(std::string(SIDELIGHT_SOURCE_DIR) + "/deploy/docker/sidelight.yaml");
    EXPECT_EQ(cfg->audit.store.path, "/var/lib/sidelight/audit.db");
    EXPECT_TRUE(cfg->proxy.trusted_proxies.empty());
    EXPECT_EQ(cfg->upstream.address.port, 3000);
}

// The example names the events the brute-force detector really writes (rules/brute_force.cpp;
// tests/integration/audit_test.cpp counts them), not a name it never used.
TEST(DeployTest, ExampleNamesTheDetectorsEvents) {
    std::ifstream in(std::string(SIDELIGHT_SOURCE_DIR) + "/deploy/examples/sidelight.yaml");
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    ASSERT_FALSE(text.empty());
    EXPECT_NE(text.find("authn_login_fail_max"), std::string::npos);
    EXPECT_NE(text.find("authn_login_successafterfail"), std::string::npos);
    EXPECT_EQ(text.find("BRUTE_FORCE"), std::string::npos);
}

}  // namespace
}  // namespace sidelight::config
