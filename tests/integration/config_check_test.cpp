// `sidelight check` refuses what `run` refuses, with the same file:line:col message and exit 2,
// on the real binary: an unusable checkpoint key, a `path:` source no matched route has, a
// missing OpenAPI file, a second YAML document, a config that is not a regular file.

#include <gtest/gtest.h>

#include <string>

#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

const std::string base =
    "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
    "upstream:\n  address: 127.0.0.1:9\n";

// Runs `sidelight <command> --config <path>`; expects exit 2 and returns stderr.
std::string refused(const std::string& command, const std::string& path) {
    sidelight_process proc({command, "--config", path});
    EXPECT_EQ(proc.wait_exit(10s), 2) << command << " " << path;
    return proc.stderr_text();
}

// check and run both exit 2 naming `expected`.
void expect_both_refuse(const std::string& path, const std::string& expected) {
    for (const char* command : {"check", "run"}) {
        const auto err = refused(command, path);
        EXPECT_NE(err.find(expected), std::string::npos) << command << ": " << err;
    }
}

TEST(ConfigCheckTest, CheckpointKeyIsVerifiedByCheckAsByRun) {
    temp_dir dir;
    const auto key = dir.write("junk.pem", "not a key\n");
    const auto path = dir.write("s.yaml", base +
                                              "audit:\n  store: {type: memory}\n"
                                              "  checkpoint:\n    key_file: junk.pem\n");
    expect_both_refuse(
        path, "sidelight: " + path + ":10:15: audit.checkpoint.key_file: no PEM key in " + key);
}

TEST(ConfigCheckTest, EntityIdNamingAnUnknownParameterIsRefused) {
    temp_dir dir;
    const auto path = dir.write("s.yaml", base +
                                              "routes:\n  - PUT /api/products/{id}\n"
                                              "audit:\n  store: {type: memory}\n  rules:\n"
                                              "    - action: UPDATE\n"
                                              "      entity_id: path:nosuchparam\n");
    expect_both_refuse(path, path +
                                 ":13:18: audit.rules[0].entity_id: no route this rule can "
                                 "match has a parameter \"nosuchparam\"");
}

TEST(ConfigCheckTest, MissingOpenApiFileNamesTheOpenApiKey) {
    temp_dir dir;
    const auto path = dir.write("s.yaml", base + "routes:\n  openapi: api.yaml\n");
    expect_both_refuse(path, path + ":8:12: routes.openapi: cannot read " + dir.path() +
                                 "/api.yaml: No such file or directory");
}

// The key path appears once, after the position (it was written twice).
TEST(ConfigCheckTest, AnUnreadableDatabaseCaFileIsNamedOnce) {
    temp_dir dir;
    const auto path = dir.write(
        "s.yaml", base +
                      "databases:\n  - name: main\n    listen: 127.0.0.1:0\n"
                      "    upstream: {address: db.internal:5432, tls: verify-full, ca_file: "
                      "nope.pem}\n");
    const auto err = refused("check", path);
    EXPECT_EQ(err, "sidelight: " + path +
                       ":10:70: databases[0].upstream.ca_file: cannot load CA certificates " +
                       dir.path() + "/nope.pem (No such file or directory)\n")
        << err;
}

TEST(ConfigCheckTest, SecondDocumentAndNonRegularFilesAreRefused) {
    temp_dir dir;
    const auto path = dir.write("s.yaml", base + "---\nproxy: {workers: 2}\n");
    expect_both_refuse(path, path + ":8:1: a second YAML document (after ---)");
    expect_both_refuse("/dev/zero", "sidelight: /dev/zero: not a regular file");
}

}  // namespace
}  // namespace sidelight::test
