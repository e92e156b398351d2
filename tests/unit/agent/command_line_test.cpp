// sidelight's command line (CLI11): both option spellings, options before or after the
// command, help and version on stdout with exit 0, usage errors on stderr with exit 2.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "agent/command_line.hpp"

namespace sidelight::agent {
namespace {

struct parsed {
    std::variant<command_line, int> result;
    std::string out, err;
    const command_line& cl() const { return std::get<command_line>(result); }
    int exit_code() const { return std::get<int>(result); }
};

parsed parse(std::vector<std::string> args) {
    args.insert(args.begin(), "sidelight");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    auto result = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
    return {std::move(result), out.str(), err.str()};
}

TEST(CommandLineTest, RunIsTheDefaultAndBothConfigSpellingsWork) {
    const auto plain = parse({});
    ASSERT_TRUE(std::holds_alternative<command_line>(plain.result));
    EXPECT_EQ(plain.cl().cmd, command::run);
    EXPECT_EQ(plain.cl().config_path, "/etc/sidelight/sidelight.yaml");
    EXPECT_EQ(parse({"--config=a.yaml"}).cl().config_path, "a.yaml");
    EXPECT_EQ(parse({"--config", "b.yaml"}).cl().config_path, "b.yaml");
    EXPECT_EQ(parse({"-c", "c.yaml", "check"}).cl().config_path, "c.yaml");
}

TEST(CommandLineTest, OptionsComeBeforeOrAfterTheCommand) {
    const auto before = parse({"--config", "x.yaml", "--log-level", "debug", "check"});
    EXPECT_EQ(before.cl().cmd, command::check);
    EXPECT_EQ(before.cl().config_path, "x.yaml");
    EXPECT_EQ(before.cl().log_level, "debug");
    const auto after = parse({"routes", "--config", "y.yaml", "put", "/api/products/7"});
    EXPECT_EQ(after.cl().cmd, command::routes);
    EXPECT_EQ(after.cl().config_path, "y.yaml");
    EXPECT_EQ(after.cl().operands, (std::vector<std::string>{"put", "/api/products/7"}));
}

TEST(CommandLineTest, InjectTakesItsOwnConfigAndOptions) {
    const auto p = parse({"inject", "-f", "-", "--config", "s.yaml", "--port", "3000",
                          "--container", "app", "--service", "--image", "r/s:1", "--dry-run"});
    ASSERT_TRUE(std::holds_alternative<command_line>(p.result)) << p.err;
    const auto& i = p.cl().inject;
    EXPECT_EQ(p.cl().cmd, command::inject);
    EXPECT_EQ(i.file, "-");
    EXPECT_EQ(i.config_file, "s.yaml");  // the config to embed, not the one to run with
    EXPECT_EQ(p.cl().config_path, "/etc/sidelight/sidelight.yaml");
    EXPECT_EQ(i.opts.port, std::optional<std::uint16_t>(3000));
    EXPECT_EQ(i.opts.container, "app");
    EXPECT_TRUE(i.opts.service);
    EXPECT_TRUE(i.dry_run);
    EXPECT_EQ(i.opts.image, "r/s:1");
    EXPECT_EQ(parse({"inject", "-f", "a.yaml"}).cl().inject.opts.image,
              std::string("sidelight:") + SIDELIGHT_VERSION);
    EXPECT_EQ(parse({"uninject", "-f", "a.yaml"}).cl().cmd, command::uninject);
    EXPECT_EQ(parse({"inject", "-f", "a.yaml", "--port", "70000"}).exit_code(), 2);
    EXPECT_EQ(parse({"-c", "x.yaml", "inject", "-f", "a.yaml"}).exit_code(), 2);
}

TEST(CommandLineTest, AnUnknownLogLevelIsRefusedWithTheValidOnes) {
    const auto p = parse({"--log-level", "verbose"});
    EXPECT_EQ(p.exit_code(), 2);
    EXPECT_NE(p.err.find("verbose"), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("debug"), std::string::npos) << p.err;  // the valid values are listed
    EXPECT_TRUE(p.out.empty());
}

TEST(CommandLineTest, HelpAndVersionGoToStdoutWithExitZero) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--help"}, {"run", "--help"}, {"audit", "verify", "--help"}}) {
        const auto p = parse(args);
        EXPECT_EQ(p.exit_code(), 0) << args.back();
        EXPECT_NE(p.out.find("Usage"), std::string::npos) << p.out;
        EXPECT_TRUE(p.err.empty()) << p.err;
    }
    EXPECT_NE(parse({"audit", "verify", "--help"}).out.find("--store"), std::string::npos);
    const auto v = parse({"--version"});
    EXPECT_EQ(v.exit_code(), 0);
    EXPECT_EQ(v.out.rfind("sidelight ", 0), 0u) << v.out;
}

TEST(CommandLineTest, AuditCommandsTakeTheirOwnArguments) {
    const auto q = parse({"audit", "query", "--store", "s.db", "--filter", "table=audit_log"});
    EXPECT_EQ(q.cl().cmd, command::audit);
    EXPECT_EQ(q.cl().audit.cmd, audit::audit_args::command::query);
    EXPECT_EQ(q.cl().audit.store, "s.db");
    EXPECT_EQ(q.cl().audit.filter, "table=audit_log");
    const auto k = parse({"audit", "keygen", "--key", "k.pem", "--public-key", "p.pem"});
    EXPECT_EQ(k.cl().audit.cmd, audit::audit_args::command::keygen);
    EXPECT_EQ(*k.cl().audit.public_key, "p.pem");
}

TEST(CommandLineTest, AuditWithoutASubcommandListsThemAll) {
    const auto p = parse({"audit"});
    EXPECT_EQ(p.exit_code(), 2);
    for (const char* sub : {"verify", "query", "export", "keygen"})
        EXPECT_NE(p.err.find(sub), std::string::npos) << sub << "\n" << p.err;
}

TEST(CommandLineTest, UsageErrorsExitTwo) {
    EXPECT_EQ(parse({"frobnicate"}).exit_code(), 2);
    EXPECT_EQ(parse({"audit", "verify"}).exit_code(), 2);  // --store is required
    // The audit commands read no configuration: --config with them is a mistake, said so.
    const auto p = parse({"--config", "a.yaml", "audit", "export", "--store", "s.db"});
    EXPECT_EQ(p.exit_code(), 2);
    EXPECT_NE(p.err.find("--store"), std::string::npos) << p.err;
}

}  // namespace
}  // namespace sidelight::agent
