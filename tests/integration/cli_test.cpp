// The command line on the real binary: help and version, where options may go, usage errors
// (exit 2, on stderr, naming the valid choices), and what `routes` prints.

#include <gtest/gtest.h>

#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

struct result {
    int exit_code = -1;
    std::string out, err;
};

result run_cli(std::vector<std::string> args) {
    sidelight_process proc(std::move(args));
    result r;
    r.exit_code = proc.wait_exit(10s).value_or(-1);
    r.out = proc.stdout_text();
    r.err = proc.stderr_text();
    return r;
}

bool has(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

const std::string minimal = "upstream:\n  address: 127.0.0.1:3000\n";

TEST(CliTest, HelpOfEveryCommandGoesToStdoutAndExitsZero) {
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"--help"},
         {"run", "check", "routes", "audit", "loadtest", "--config", "--log-level", "--version"}},
        {{"-h"}, {"run", "check", "routes", "audit"}},
        {{"run", "--help"}, {"--config", "--log-level"}},
        {{"check", "--help"}, {"--config"}},
        {{"routes", "--help"}, {"--config", "[METHOD] [PATH]"}},
        {{"audit", "--help"}, {"verify", "query", "export", "keygen"}},
        {{"audit", "verify", "--help"}, {"--store", "--checkpoints", "--public-key"}},
        {{"audit", "query", "--help"}, {"--store", "--filter", "user_id=", "after_seq="}},
        {{"audit", "export", "--help"}, {"--store"}},
        {{"audit", "keygen", "--help"}, {"--key", "--public-key"}},
        {{"loadtest", "--help"},
         {"--file", "--json", "--markdown", "--quiet", "--compare-metrics"}},
        {{"--config", "x.yaml", "check", "--help"}, {"--config"}},
    };
    for (const auto& [args, words] : cases) {
        const auto r = run_cli(args);
        const auto what = args.front() + " " + args.back();
        EXPECT_EQ(r.exit_code, 0) << what << "\n" << r.err;
        EXPECT_EQ(r.err, "") << what;
        for (const auto& word : words) EXPECT_TRUE(has(r.out, word)) << what << ": " << word;
    }
}

TEST(CliTest, VersionPrintsTheVersion) {
    const auto r = run_cli({"--version"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, std::string("sidelight ") + SIDELIGHT_VERSION + "\n");
}

TEST(CliTest, ConfigMayBeWrittenEitherWayBeforeOrAfterTheCommand) {
    temp_dir dir;
    const auto file = dir.write("c.yaml", minimal);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"check", "--config", file},
             {"check", "--config=" + file},
             {"check", "-c", file},
             {"--config", file, "check"},
             {"--config=" + file, "check"},
             {"--log-level", "debug", "check", "--config", file},
             {"check", "--config", "/nope.yaml", "--config", file},  // the last one counts
         }) {
        const auto r = run_cli(args);
        EXPECT_EQ(r.exit_code, 0) << args.front() << " " << args.back() << "\n" << r.err;
        EXPECT_TRUE(has(r.out, "address: 127.0.0.1:3000")) << r.out;
    }
}

TEST(CliTest, AnUnknownLogLevelIsRefusedWithTheValidOnes) {
    temp_dir dir;
    const auto file = dir.write("c.yaml", minimal);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"run", "--config", file, "--log-level", "verbose"},
             {"--log-level=verbose", "run", "--config", file},
             {"--config", file, "--log-level", "verbose"},
         }) {
        const auto r = run_cli(args);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_EQ(r.out, "");
        EXPECT_TRUE(has(r.err,
                        "sidelight: --log-level: verbose not in "
                        "{trace,debug,info,warn,error,critical,off}"))
            << r.err;
    }
}

TEST(CliTest, UsageErrorsExitTwoOnStderr) {
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        // A missing or unknown (sub)command: the list of them.
        {{"audit"}, {"audit needs a subcommand", "verify", "query", "export", "keygen"}},
        {{"audit", "vrfy"}, {"vrfy", "verify", "keygen"}},
        {{"frobnicate"}, {"frobnicate", "run", "check", "routes", "audit"}},
        // Anything else: the message and where the help is.
        {{"audit", "verify"}, {"--store is required", "sidelight audit verify --help"}},
        {{"audit", "keygen", "--key", "k.pem"}, {"--public-key is required"}},
        {{"check", "--config"}, {"--config", "sidelight check --help"}},
        {{"run", "--bogus"}, {"--bogus"}},
        {{"routes", "--config", "c.yaml", "GET", "/a", "/b"}, {"/b"}},
    };
    for (const auto& [args, words] : cases) {
        const auto r = run_cli(args);
        const auto what = args.front() + " " + args.back();
        EXPECT_EQ(r.exit_code, 2) << what;
        EXPECT_EQ(r.out, "") << what;
        EXPECT_EQ(r.err.rfind("sidelight: ", 0), 0u) << what << ": " << r.err;
        for (const auto& word : words) EXPECT_TRUE(has(r.err, word)) << what << ": " << r.err;
    }
}

TEST(CliTest, QueryFilterErrorListsTheFilters) {
    temp_dir dir;
    const auto r = run_cli(
        {"audit", "query", "--store", dir.path() + "/a.db", "--filter", "colour=red&limit=5"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(has(r.err, "sidelight: --filter: colour: unknown parameter")) << r.err;
    for (const char* name :
         {"table=audit_log|security_audit", "user_id=", "entity_type=", "entity_id=", "event_type=",
          "since=", "until=", "after_seq=", "limit=1..1000"})
        EXPECT_TRUE(has(r.err, name)) << name << "\n" << r.err;
}

TEST(CliTest, AuditDiagnosticsGoToStderrAndReportsToStdout) {
    temp_dir dir;
    const auto missing = dir.path() + "/missing.db";
    for (const char* cmd : {"verify", "export", "query"}) {
        const auto r = run_cli({"audit", cmd, "--store", missing});
        EXPECT_EQ(r.exit_code, 2) << cmd;
        EXPECT_EQ(r.out, "") << cmd;
        EXPECT_TRUE(has(r.err, std::string("sidelight: audit ") + cmd + ": ")) << r.err;
    }
    const auto key = dir.path() + "/k.pem", pub = dir.path() + "/k.pub.pem";
    const auto keygen = run_cli({"audit", "keygen", "--key", key, "--public-key", pub});
    EXPECT_EQ(keygen.exit_code, 0) << keygen.err;
    EXPECT_TRUE(has(keygen.out, "wrote " + key)) << keygen.out;
}

const std::string routes_yaml = minimal +
                                "routes:\n"
                                "  unmatched: normalize\n"
                                "  entries:\n"
                                "    - PUT /api/products/{id}\n"
                                "    - template: /api/orders\n"
                                "      methods: [get, post]\n";

TEST(CliTest, RoutesUpperCasesTheMethodAsTheConfigDoes) {
    temp_dir dir;
    const auto file = dir.write("r.yaml", routes_yaml);
    const auto lower = run_cli({"routes", "--config", file, "put", "/api/products/42"});
    EXPECT_EQ(lower.exit_code, 0) << lower.err;
    EXPECT_EQ(lower.out.rfind("PUT /api/products/42 -> PUT /api/products/{id} id=42", 0), 0u)
        << lower.out;
    const auto mixed = run_cli({"--config", file, "routes", "Post", "/api/orders"});
    EXPECT_EQ(mixed.exit_code, 0) << mixed.err;
    EXPECT_EQ(mixed.out.rfind("POST /api/orders -> GET,POST /api/orders", 0), 0u) << mixed.out;
}

TEST(CliTest, RoutesShowsTheNormalizedTemplateOfAnUnmatchedPath) {
    temp_dir dir;
    const auto file = dir.write("r.yaml", routes_yaml);
    const auto one = run_cli({"routes", "--config", file, "/users/123/orders/7f3a"});
    EXPECT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(one.out, "GET /users/123/orders/7f3a -> /users/{id}/orders/7f3a (normalized)\n");
    const auto table = run_cli({"routes", "--config", file});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_EQ(table.out.rfind("GET,POST  /api/orders", 0), 0u) << table.out;
    EXPECT_TRUE(has(table.out, "routes.unmatched: normalize")) << table.out;

    // With the default (label) an unmatched path stays unmatched.
    const auto label = dir.write("l.yaml", minimal + "routes:\n  - PUT /api/products/{id}\n");
    const auto plain = run_cli({"routes", "--config", label, "/users/123"});
    EXPECT_EQ(plain.out, "GET /users/123 -> unmatched\n");
}

}  // namespace
}  // namespace sidelight::test
