#include "agent/db_audit.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace sidelight::agent {
namespace {

// Valid UTF-8 without a control character: what Postgres's text and jsonb accept.
bool clean_text(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
        const std::size_t n = c < 0x80         ? 1
                              : (c >> 5) == 6  ? 2
                              : (c >> 4) == 14 ? 3
                              : (c >> 3) == 30 ? 4
                                               : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
        i += n;
    }
    return true;
}

TEST(DbAuditEvent, WhatTheClientSentIsStoredAsValidTextWithoutControlCharacters) {
    config::db_audit_rule rule;
    rule.name = "deletes";
    const std::string latin1_e = "caf\xe9";  // é in LATIN1: not UTF-8
    dbproxy::statement_audit a;
    a.database_name = "main";
    a.rule = &rule;
    a.operation = "delete";
    a.table = "t\xe9\xff";
    a.user = "ad\xffmin\r\nforged: yes";
    a.dbname = latin1_e;
    a.application = "app\x1b[31m";
    a.client_ip = "10.0.0.7";
    a.statement = "DELETE FROM \"t\xe9\xff\" WHERE id = $1 -- \n\x01";
    a.fingerprint = "0123456789abcdef";
    const auto ev = db_audit_event(a);

    for (const auto* field : {&ev.user_id, &ev.entity_type, &ev.user_agent, &ev.changes})
        EXPECT_TRUE(clean_text(*field)) << *field;
    EXPECT_EQ(ev.user_id.find('\n'), std::string::npos);
    EXPECT_NE(ev.user_id.find("\\r\\nforged"), std::string::npos) << ev.user_id;  // escaped
    EXPECT_NE(ev.user_agent.find("app"), std::string::npos);
    const auto changes = boost::json::parse(ev.changes).as_object();
    for (const char* key : {"dbname", "table", "statement"})
        EXPECT_TRUE(clean_text(std::string(changes.at(key).as_string()))) << key;
    EXPECT_EQ(std::string(changes.at("dbname").as_string()), "caf\xef\xbf\xbd");  // U+FFFD
    EXPECT_EQ(ev.method, "DELETE");
    EXPECT_EQ(ev.route, "postgres:main");
    EXPECT_EQ(ev.action, "db.delete");
}

TEST(DbAuditEvent, AHugeStatementIsCappedAndNamesAreCapped) {
    config::db_audit_rule rule;
    rule.name = "all";
    rule.entity_type = "order";
    dbproxy::statement_audit a;
    a.database_name = "main";
    a.rule = &rule;
    a.operation = "insert";
    const std::string long_name(10'000, 'n');
    a.table = long_name;
    a.user = long_name;
    a.statement = "INSERT INTO t VALUES " + std::string(200'000, 'x');
    const auto ev = db_audit_event(a);
    EXPECT_EQ(ev.entity_type, "order");  // the rule's, as configured
    EXPECT_LE(ev.user_id.size(), 256u);
    const auto changes = boost::json::parse(ev.changes).as_object();
    EXPECT_LE(changes.at("statement").as_string().size(), 64u * 1024);
    EXPECT_GT(changes.at("statement").as_string().size(), 1024u);
    EXPECT_LE(changes.at("table").as_string().size(), 256u);
}

}  // namespace
}  // namespace sidelight::agent
