// Audit rules over database statements (`databases[].audit`, issue 15), through the real binary
// against a real PostgreSQL 15 with libpq: a matched statement becomes an audit_log row with the
// database user, the client's address and its SQL normalized — never a literal or a parameter.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

using conn_ptr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

pg_cluster& cluster() {
    return pg_cluster::shared();
}

// Every DELETE on users becomes a user.delete row.
const std::string user_deleted_rule =
    "      - name: user-deleted\n"
    "        match: {operations: [delete], tables: [users]}\n"
    "        action: user.delete\n";

void ok(PGconn* c, const std::string& sql) {
    result_ptr r(PQexec(c, sql.c_str()), &PQclear);
    const auto s = PQresultStatus(r.get());
    ASSERT_TRUE(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(c);
}

struct row {
    std::string user_id, action, entity_type, entity_id, ip_address, user_agent, method, route;
    boost::json::object changes;
};

class PgWireAuditTest : public ::testing::Test {
  protected:
    void start(const std::string& rules) {
        const std::string yaml =
            "audit:\n  store: {path: audit.db}\n"
            "databases:\n  - name: main\n    listen: 127.0.0.1:0\n"
            "    upstream: {address: 127.0.0.1:" +
            std::to_string(cluster().port()) + "}\n    audit:\n" + rules;
        proc_ = sidelight_process::run(dir_, test_config(app_.port(), yaml));
        ASSERT_TRUE(proc_->wait_for_log("database main listening on")) << proc_->stderr_text();
        const auto text = proc_->stderr_text();
        const auto at = text.find("database main listening on 127.0.0.1:");
        port_ = std::stoi(
            text.substr(at + std::string("database main listening on 127.0.0.1:").size()));
    }

    conn_ptr connect(const std::string& dbname, const std::string& app_name = "shop-api") {
        const auto dsn = "host=127.0.0.1 port=" + std::to_string(port_) +
                         " user=postgres dbname=" + dbname +
                         " sslmode=disable application_name=" + app_name;
        conn_ptr c(PQconnectdb(dsn.c_str()), &PQfinish);
        EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
        return c;
    }

    std::vector<row> rows() const {
        SQLite::Database d(dir_.path() + "/audit.db", SQLite::OPEN_READONLY);
        SQLite::Statement st(d,
                             "SELECT user_id, action, entity_type, entity_id, ip_address, "
                             "user_agent, method, route, changes FROM audit_log ORDER BY seq");
        std::vector<row> out;
        while (st.executeStep()) {
            row r{st.getColumn(0).getString(),
                  st.getColumn(1).getString(),
                  st.getColumn(2).getString(),
                  st.getColumn(3).getString(),
                  st.getColumn(4).getString(),
                  st.getColumn(5).getString(),
                  st.getColumn(6).getString(),
                  st.getColumn(7).getString(),
                  {}};
            boost::system::error_code ec;
            auto v = boost::json::parse(st.getColumn(8).getString(), ec);
            if (!ec && v.is_object()) r.changes = v.as_object();
            out.push_back(std::move(r));
        }
        return out;
    }

    // A new database whose `users (id int)` holds the ids 1 to n, and a connection to it through
    // sidelight: {its name, the connection}.
    std::pair<std::string, conn_ptr> users_database(int n) {
        auto dbname = cluster().create_database();
        auto c = connect(dbname);
        ok(c.get(), "CREATE TABLE users (id int)");
        ok(c.get(), "INSERT INTO users SELECT generate_series(1, " + std::to_string(n) + ")");
        return {std::move(dbname), std::move(c)};
    }

    // The audit rows once there are `n` of them, expecting no more.
    std::vector<row> exactly_rows(std::size_t n) const {
        std::vector<row> r;
        EXPECT_TRUE(eventually([&] {
            r = rows();
            return r.size() >= n;
        })) << all_rows_text();
        EXPECT_EQ(r.size(), n) << all_rows_text();
        return r;
    }

    std::string all_rows_text() const {
        SQLite::Database d(dir_.path() + "/audit.db", SQLite::OPEN_READONLY);
        SQLite::Statement st(d, "SELECT * FROM audit_log");
        std::string out;
        while (st.executeStep())
            for (int i = 0; i < st.getColumnCount(); ++i) out += st.getColumn(i).getString() + "|";
        return out;
    }

    fake_upstream app_;
    temp_dir dir_;
    std::unique_ptr<sidelight_process> proc_;
    int port_ = 0;
};

// The ids left in `users` of `dbname`, in order: "3,4,5".
std::string ids_in_users(const std::string& dbname) {
    return cluster().psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM users", "postgres",
                          dbname);
}

TEST_F(PgWireAuditTest, DeletesOnUsersBecomeRowsWithoutTheirValues) {
    start(
        "      - name: user-deleted\n"
        "        match: {operations: [delete], tables: [users]}\n"
        "        action: user.delete\n"
        "        entity_type: user\n"
        "      - name: failed-writes\n"
        "        match: {operations: [insert, update], outcome: error}\n");
    const auto dbname = cluster().create_database();
    auto c = connect(dbname);
    auto* pc = c.get();
    ok(pc, "CREATE TABLE users (id int, email text)");
    ok(pc, "INSERT INTO users VALUES (1, 'alice@example.com'), (2, 'bob@example.com')");
    ok(pc, "SELECT * FROM users WHERE email = 'alice@example.com'");
    // The simple protocol, a multi-statement string: one row for the DELETE only.
    ok(pc,
       "UPDATE users SET id = 3 WHERE id = 2; DELETE FROM public.users WHERE email = "
       "'alice@example.com' /* hunter2 */");
    // The extended protocol with a named statement: the parameter never reaches the row.
    result_ptr prep(PQprepare(pc, "del", "DELETE FROM users WHERE email = $1", 1, nullptr),
                    &PQclear);
    ASSERT_EQ(PQresultStatus(prep.get()), PGRES_COMMAND_OK) << PQerrorMessage(pc);
    const char* values[1] = {"bob@example.com"};
    result_ptr del(PQexecPrepared(pc, "del", 1, values, nullptr, nullptr, 0), &PQclear);
    ASSERT_EQ(PQresultStatus(del.get()), PGRES_COMMAND_OK) << PQerrorMessage(pc);
    // A failed write matches the second rule; a failed DELETE matches nothing (outcome ok).
    result_ptr bad(PQexec(pc, "INSERT INTO users VALUES ('secret-token-123', 'x')"), &PQclear);
    ASSERT_EQ(PQresultStatus(bad.get()), PGRES_FATAL_ERROR);
    result_ptr bad_delete(PQexec(pc, "DELETE FROM users WHERE id = 'nope'"), &PQclear);
    ASSERT_EQ(PQresultStatus(bad_delete.get()), PGRES_FATAL_ERROR);

    std::vector<row> r;
    ASSERT_TRUE(eventually([&] {
        r = rows();
        return r.size() >= 3;
    })) << proc_->stderr_text();
    ASSERT_EQ(r.size(), 3u) << all_rows_text();
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(r[i].user_id, "postgres");
        EXPECT_EQ(r[i].action, "user.delete");
        EXPECT_EQ(r[i].entity_type, "user");
        EXPECT_EQ(r[i].entity_id, "");
        EXPECT_EQ(r[i].ip_address, "127.0.0.1");
        EXPECT_EQ(r[i].user_agent, "shop-api");  // application_name
        EXPECT_EQ(r[i].method, "DELETE");
        EXPECT_EQ(r[i].route, "postgres:main");
        EXPECT_EQ(r[i].changes.at("database").as_string(), "main");
        EXPECT_EQ(r[i].changes.at("dbname").as_string(), dbname);
        EXPECT_EQ(r[i].changes.at("table").as_string(), "users");
        EXPECT_EQ(r[i].changes.at("outcome").as_string(), "ok");
        EXPECT_EQ(r[i].changes.at("rule").as_string(), "user-deleted");
        EXPECT_TRUE(r[i].changes.at("duration_ms").is_number());
    }
    EXPECT_EQ(r[0].changes.at("statement").as_string(),
              "DELETE FROM public.users WHERE email = $1");
    EXPECT_EQ(r[1].changes.at("statement").as_string(), "DELETE FROM users WHERE email = $1");
    // Same shape, same fingerprint: the schema is part of the text, so these two differ.
    EXPECT_EQ(r[0].changes.at("fingerprint").as_string().size(), 16u);
    EXPECT_EQ(r[2].action, "db.insert");
    EXPECT_EQ(r[2].entity_type, "users");
    EXPECT_EQ(r[2].changes.at("outcome").as_string(), "error");
    EXPECT_EQ(r[2].changes.at("statement").as_string(), "INSERT INTO users VALUES ($1, $2)");

    // No value the client sent is stored anywhere in the rows.
    const auto text = all_rows_text();
    for (const char* secret : {"alice@", "bob@", "hunter2", "secret-token-123", "nope"})
        EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
    // The rows are in the hash chain like any other.
    sidelight_process verify({"audit", "verify", "--store", dir_.path() + "/audit.db"});
    EXPECT_EQ(verify.wait_exit(), 0) << verify.stdout_text() << verify.stderr_text();
}

// Rules with no match list match every statement; a database without rules records nothing.
TEST_F(PgWireAuditTest, RulesAreFirstMatchAndTheStatementCountIsExact) {
    start(
        "      - name: ddl\n"
        "        match: {operations: [ddl]}\n"
        "        action: schema.change\n"
        "      - name: everything\n");
    auto c = connect(cluster().create_database(), "reports");
    ok(c.get(), "CREATE TABLE t (a int)");
    ok(c.get(), "INSERT INTO t VALUES (1)");
    ok(c.get(), "SELECT a FROM t");
    std::vector<row> r;
    ASSERT_TRUE(eventually([&] {
        r = rows();
        return r.size() >= 3;
    }));
    ASSERT_EQ(r.size(), 3u) << all_rows_text();
    EXPECT_EQ(r[0].action, "schema.change");
    EXPECT_EQ(r[0].entity_type, "t");
    EXPECT_EQ(r[1].action, "db.insert");
    EXPECT_EQ(r[2].action, "db.select");
    EXPECT_EQ(r[2].user_agent, "reports");
    EXPECT_EQ(r[2].changes.at("rule").as_string(), "everything");
}

// A string that creates a function with a SQL-standard body (whose own statements end in
// semicolons) and then deletes: the DELETE is still seen as the DELETE it is.
TEST_F(PgWireAuditTest, ADeleteAfterABeginAtomicBodyIsAudited) {
    start(user_deleted_rule);
    const auto [dbname, c] = users_database(2);
    ok(c.get(),
       "CREATE FUNCTION two() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
       "SELECT CASE WHEN true THEN 2 END; END; DELETE FROM users WHERE id = 2; SELECT two()");
    EXPECT_EQ(cluster().psql("SELECT count(*) FROM users", "postgres", dbname), "1");
    ASSERT_TRUE(eventually([&] { return rows().size() == 1; })) << all_rows_text();
    EXPECT_EQ(rows()[0].action, "user.delete");
    const auto m = http_get(proc_->admin_port(), "/metrics")->body;
    EXPECT_EQ(sample_value(m, R"(db_queries_total{operation="delete",outcome="ok",table="users"})"),
              1);
    EXPECT_EQ(sample_value(m, R"(db_queries_total{operation="ddl",outcome="ok",table="none"})"), 1);
}

// A DELETE rule sees the DELETEs a statement runs besides its own verb: in a WITH, under EXPLAIN
// ANALYZE, as a MERGE's action, and through a SQL-level prepared statement (EXECUTE). The
// statements that only name a DELETE (EXPLAIN without ANALYZE, a PREPARE, a refused PREPARE)
// and those that read make no row. Labels follow the main statement (an EXECUTE: what it runs).
TEST_F(PgWireAuditTest, ADeleteInsideAnotherStatementIsAudited) {
    start(user_deleted_rule);
    const auto [dbname, c] = users_database(10);
    auto* pc = c.get();
    ok(pc, "WITH d AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT count(*) FROM d");
    ok(pc, "EXPLAIN ANALYZE DELETE FROM users WHERE id = 2");
    ok(pc, "MERGE INTO users u USING (VALUES (3)) v(id) ON u.id = v.id WHEN MATCHED THEN DELETE");
    ok(pc, "PREPARE del (int) AS DELETE FROM users WHERE id = $1; EXECUTE del(4)");
    result_ptr taken(PQexec(pc, "PREPARE del AS SELECT * FROM users"), &PQclear);  // 42P05
    ASSERT_EQ(PQresultStatus(taken.get()), PGRES_FATAL_ERROR);
    result_ptr extended(
        PQexecParams(pc, "EXECUTE del(5)", 0, nullptr, nullptr, nullptr, nullptr, 0), &PQclear);
    ASSERT_EQ(PQresultStatus(extended.get()), PGRES_COMMAND_OK) << PQerrorMessage(pc);
    // None of these deletes anything.
    ok(pc, "EXPLAIN DELETE FROM users");
    ok(pc, "WITH x AS (SELECT * FROM users) SELECT * FROM x");
    ok(pc, "PREPARE sel AS SELECT * FROM users; EXECUTE sel; DEALLOCATE del");
    result_ptr gone(PQexec(pc, "EXECUTE del(6)"), &PQclear);
    ASSERT_EQ(PQresultStatus(gone.get()), PGRES_FATAL_ERROR);
    // A statement prepared by the protocol (libpq's PQprepare), run by SQL: one namespace.
    result_ptr prepared(PQprepare(pc, "pd", "DELETE FROM users WHERE id = $1", 0, nullptr),
                        &PQclear);
    ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK) << PQerrorMessage(pc);
    ok(pc, "EXECUTE pd(6)");
    ok(pc, "EXPLAIN ANALYZE EXECUTE pd(7)");
    EXPECT_EQ(ids_in_users(dbname), "8,9,10");

    const auto r = exactly_rows(7);
    ASSERT_EQ(r.size(), 7u);
    const std::vector<std::string> statements = {
        "WITH d AS (DELETE FROM users WHERE id = $1 RETURNING *) SELECT count (*) FROM d",
        "EXPLAIN ANALYZE DELETE FROM users WHERE id = $1",
        "MERGE INTO users u USING (VALUES ($1)) v (id) ON u.id = v.id WHEN MATCHED THEN DELETE",
        "EXECUTE del ($1)",
        "EXECUTE del ($1)",
        "EXECUTE pd ($1)",
        "EXPLAIN ANALYZE EXECUTE pd ($1)"};
    for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].action, "user.delete") << i;
        EXPECT_EQ(r[i].method, "DELETE") << i;
        EXPECT_EQ(r[i].entity_type, "users") << i;
        EXPECT_EQ(r[i].changes.at("operation").as_string(), "delete") << i;
        EXPECT_EQ(r[i].changes.at("table").as_string(), "users") << i;
        EXPECT_EQ(std::string(r[i].changes.at("statement").as_string()), statements[i]) << i;
    }
    const auto m = http_get(proc_->admin_port(), "/metrics")->body;
    EXPECT_EQ(sample_value(m, R"(db_queries_total{operation="delete",outcome="ok",table="users"})"),
              3);  // the EXECUTEs
    EXPECT_EQ(sample_value(m, R"(db_queries_total{operation="select",outcome="ok",table="users"})"),
              3);  // the two WITHs (`d` and `x` read users) and EXECUTE sel
    EXPECT_EQ(sample_value(m, R"(db_queries_total{operation="other",outcome="ok",table="users"})"),
              1);  // the MERGE
}

// The server reads a text with its session's standard_conforming_strings, after converting it
// from the client's encoding; sidelight reads it as the server reports both (ParameterStatus).
// Read another way, a literal ends elsewhere: the DELETE after it was missed, and the rest of
// the literal could be taken for names and stored.
TEST_F(PgWireAuditTest, ADeleteAfterALiteralIsReadAsTheServerReadsIt) {
    start(user_deleted_rule);
    const auto [dbname, c] = users_database(5);
    auto* pc = c.get();
    ok(pc, "SET standard_conforming_strings = off");
    ok(pc, "SELECT 'a\\''; DELETE FROM users WHERE id = 1 OR 'hunter2\\' --' = 'x'");
    ok(pc, "SET standard_conforming_strings = on");
    // SJIS: the second byte of ソ (83 5C) is a backslash's byte; the server converts it first.
    const auto dsn = "host=127.0.0.1 port=" + std::to_string(port_) +
                     " user=postgres dbname=" + dbname + " sslmode=disable client_encoding=SJIS";
    conn_ptr sjis(PQconnectdb(dsn.c_str()), &PQfinish);
    ASSERT_EQ(PQstatus(sjis.get()), CONNECTION_OK) << PQerrorMessage(sjis.get());
    ok(sjis.get(), "SELECT E'\x83\x5C'; DELETE FROM users WHERE id = 2");
    EXPECT_EQ(ids_in_users(dbname), "3,4,5");
    const auto r = exactly_rows(2);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::string(r[0].changes.at("statement").as_string()),
              "DELETE FROM users WHERE id = $1 OR $2 = $3");
    EXPECT_EQ(std::string(r[1].changes.at("statement").as_string()),
              "DELETE FROM users WHERE id = $1");
    EXPECT_EQ(all_rows_text().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace sidelight::test
