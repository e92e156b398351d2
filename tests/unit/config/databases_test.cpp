// `databases`: parsing with defaults, errors at file:line:col, port clashes, and the dump
// round-trip of `sidelight check`.
#include <gtest/gtest.h>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

const std::string upstream = "upstream: {address: 127.0.0.1:3000}\n";

std::string error_of(const std::string& yaml) {
    try {
        load_string(yaml, "sidelight.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(databases, parsed_with_defaults) {
    auto cfg = load_string(upstream +
                               "databases:\n"
                               "  - name: main\n"
                               "    listen: 127.0.0.1:6432\n"
                               "    upstream: {address: db.internal:5432, tls: verify-full, "
                               "ca_file: ca.pem}\n"
                               "    tables: {max: 20}\n"
                               "    slow_query: 250ms\n"
                               "  - {name: reports, listen: 127.0.0.1:6433, upstream: "
                               "{address: 10.0.0.9:5432}}\n",
                           "/etc/sidelight/sidelight.yaml");
    ASSERT_EQ(cfg->databases.size(), 2u);
    const auto& main = cfg->databases[0];
    EXPECT_EQ(main.name, "main");
    EXPECT_EQ(main.listen.to_string(), "127.0.0.1:6432");
    EXPECT_EQ(main.upstream.address.to_string(), "db.internal:5432");
    EXPECT_EQ(main.upstream.tls, db_tls::verify_full);
    EXPECT_EQ(main.upstream.ca_file, "/etc/sidelight/ca.pem");  // relative to the file
    EXPECT_EQ(main.max_tables, 20u);
    EXPECT_EQ(main.slow_query, duration(250));
    const auto& reports = cfg->databases[1];
    EXPECT_EQ(reports.upstream.tls, db_tls::disable);
    EXPECT_EQ(reports.max_tables, 200u);
    EXPECT_EQ(reports.slow_query, duration(100));
    // `sidelight check` prints it, and what it prints loads back to the same databases.
    const auto text = dump(*cfg);
    EXPECT_NE(text.find("tls: verify-full"), std::string::npos) << text;
    EXPECT_EQ(load_string(text, "/etc/sidelight/dumped.yaml")->databases, cfg->databases);
}

TEST(databases, errors_quote_the_position) {
    EXPECT_EQ(error_of(upstream + "databases:\n  - {name: main, listen: 127.0.0.1:6432}\n"),
              "sidelight.yaml:3:5: databases[0].upstream: missing required key");
    EXPECT_EQ(
        error_of(upstream + "databases:\n"
                            "  - {name: a, listen: 127.0.0.1:6432, upstream: {address: d:5432}}\n"
                            "  - {name: a, listen: 127.0.0.1:6433, upstream: {address: d:5432}}\n"),
        "sidelight.yaml:4:5: databases[1]: duplicate database name \"a\"");
    EXPECT_EQ(
        error_of(upstream +
                 "databases:\n"
                 "  - {name: a, listen: 127.0.0.1:6432, upstream: {address: d:5432, tls: yes}}\n"),
        "sidelight.yaml:3:72: databases[0].upstream.tls: expected one of disable, prefer, "
        "require, verify-full, got \"yes\"");
    EXPECT_EQ(error_of(upstream + "databases:\n  - {name: a, listen: 127.0.0.1:6432, upstream: "
                                  "{address: d:5432, ca_file: x.pem}}\n"),
              "sidelight.yaml:3:76: databases[0].upstream.ca_file: applies with tls: "
              "verify-full only");
    EXPECT_EQ(error_of(upstream + "databases:\n  - {name: a, listen: 127.0.0.1:6432, upstream: "
                                  "{address: d:5432, sni: db.test}}\n"),
              "sidelight.yaml:3:72: databases[0].upstream.sni: applies with tls: prefer, "
              "require or verify-full only");
    EXPECT_EQ(error_of(upstream + "databases:\n  - {name: a, listen: 127.0.0.1:6432, upstream: "
                                  "{address: d:5432, tls: require, sni: db.test}}\n"),
              "(no error)");
}

TEST(databases, listen_ports_do_not_clash) {
    EXPECT_EQ(error_of(upstream + "proxy: {listen: 0.0.0.0:8080}\n"
                                  "databases:\n"
                                  "  - {name: a, listen: 127.0.0.1:8080, upstream: {address: "
                                  "d:5432}}\n"),
              "sidelight.yaml:4:5: databases[0].listen: same port as proxy.listen "
              "(0.0.0.0:8080)");
    EXPECT_EQ(error_of(upstream + "admin: {listen: 127.0.0.1:9901}\n"
                                  "databases:\n"
                                  "  - {name: a, listen: 127.0.0.1:9901, upstream: {address: "
                                  "d:5432}}\n"),
              "sidelight.yaml:4:5: databases[0].listen: same port as admin.listen "
              "(127.0.0.1:9901)");
    EXPECT_EQ(error_of(upstream +
                       "egress:\n"
                       "  - {name: mail, listen: 127.0.0.1:15001, upstream: {address: x:443}}\n"
                       "databases:\n"
                       "  - {name: a, listen: 127.0.0.1:15001, upstream: {address: d:5432}}\n"),
              "sidelight.yaml:5:5: databases[0].listen: same port as egress mail");
    EXPECT_EQ(
        error_of(upstream + "databases:\n"
                            "  - {name: a, listen: 127.0.0.1:6432, upstream: {address: d:5432}}\n"
                            "  - {name: b, listen: 0.0.0.0:6432, upstream: {address: d:5432}}\n"),
        "sidelight.yaml:4:5: databases[1].listen: same port as databases[0] (a)");
}

TEST(databases, audit_rules_parse_dump_and_refuse_what_cannot_match) {
    const std::string head = upstream +
                             "databases:\n"
                             "  - name: main\n"
                             "    listen: 127.0.0.1:6432\n"
                             "    upstream: {address: 127.0.0.1:5432}\n"
                             "    audit:\n";
    auto cfg = load_string(head +
                               "      - name: user-deleted\n"
                               "        match: {operations: [delete], tables: [users]}\n"
                               "        action: user.delete\n"
                               "        entity_type: user\n"
                               "      - name: failed-writes\n"
                               "        match: {operations: [insert, update], outcome: error}\n"
                               "      - name: everything\n",
                           "sidelight.yaml");
    const auto& rules = cfg->databases.at(0).audit;
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0].operations, std::vector<std::string>{"delete"});
    EXPECT_EQ(rules[0].tables, std::vector<std::string>{"users"});
    EXPECT_EQ(rules[0].outcome, "ok");
    EXPECT_EQ(rules[0].action, "user.delete");
    EXPECT_EQ(rules[0].entity_type, "user");
    EXPECT_EQ(rules[1].outcome, "error");
    EXPECT_TRUE(rules[1].tables.empty());
    EXPECT_TRUE(rules[2].operations.empty());
    EXPECT_EQ(rules[2].action, "");  // db.<operation> at record time
    EXPECT_EQ(load_string(dump(*cfg), "dumped.yaml")->databases.at(0).audit, rules);

    EXPECT_EQ(error_of(head + "      - {name: a, match: {operations: [drop]}}\n"),
              "sidelight.yaml:7:39: databases[0].audit[0].match.operations: unknown operation "
              "\"drop\" (expected select, insert, update, delete, copy, ddl, tx or other)");
    EXPECT_NE(error_of(head + "      - {name: a, match: {tables: [public.users]}}\n")
                  .find("databases[0].audit[0].match.tables: expected table names"),
              std::string::npos);
    EXPECT_NE(error_of(head + "      - {name: a, match: {outcome: maybe}}\n")
                  .find("databases[0].audit[0].match.outcome"),
              std::string::npos);
    EXPECT_NE(
        error_of(head + "      - {name: a}\n      - {name: a}\n").find("duplicate audit rule name"),
        std::string::npos);
    EXPECT_NE(
        error_of(head + "      - {name: a, routes: [x]}\n").find("databases[0].audit[0].routes"),
        std::string::npos);
}

}  // namespace
}  // namespace sidelight::config
