// The SQL lexer behind the operation and table labels: comments, literals, dollar quotes, CTEs,
// qualified and quoted names, and input meant to break it.
#include "dbproxy/sql_lexer.hpp"

#include <gtest/gtest.h>

#include <random>

namespace sidelight::dbproxy {
namespace {

statement_info info(std::string op, std::string table) {
    return {std::move(op), std::move(table)};
}

}  // namespace

// Readable failures: the labels and writes, not the object's bytes.
void PrintTo(const statement_target& w, std::ostream* os) {
    *os << w.operation << "/" << w.table;
}

void PrintTo(const statement_info& i, std::ostream* os) {
    *os << i.operation << "/" << i.table;
    for (const auto& w : i.writes) *os << " +" << w.operation << "/" << w.table;
}

namespace {

TEST(sql_lexer, verbs_and_tables) {
    EXPECT_EQ(classify("SELECT id FROM orders WHERE id = 1"), info("select", "orders"));
    EXPECT_EQ(classify("insert into Orders (a, b) values (1, 'x')"), info("insert", "orders"));
    EXPECT_EQ(classify("UPDATE ONLY items SET n = n + 1"), info("update", "items"));
    EXPECT_EQ(classify("DELETE FROM sessions WHERE expired"), info("delete", "sessions"));
    EXPECT_EQ(classify("COPY events (a, b) FROM STDIN"), info("copy", "events"));
    EXPECT_EQ(classify("COPY (SELECT 1) TO STDOUT"), info("copy", "none"));
    EXPECT_EQ(classify("SELECT 1"), info("select", "none"));
    EXPECT_EQ(classify("LISTEN jobs"), info("other", "none"));
    EXPECT_EQ(classify("frobnicate the database"), info("other", "none"));
    EXPECT_EQ(classify(""), info("other", "none"));
    EXPECT_EQ(classify("TABLE accounts"), info("select", "accounts"));
}

TEST(sql_lexer, operations_are_a_closed_set_of_eight) {
    for (const char* tx :
         {"begin", "BEGIN ISOLATION LEVEL SERIALIZABLE", "START TRANSACTION READ ONLY", "COMMIT",
          "end", "ROLLBACK", "abort", "SAVEPOINT s1", "RELEASE SAVEPOINT s1",
          "ROLLBACK TO SAVEPOINT s1", "PREPARE TRANSACTION 'gid'", "COMMIT PREPARED 'gid'",
          "ROLLBACK PREPARED 'gid'"})
        EXPECT_EQ(classify(tx), info("tx", "none")) << tx;
    for (const char* ddl :
         {"CREATE INDEX i ON orders (id)", "CREATE VIEW v AS SELECT * FROM orders",
          "ALTER ROLE app SET work_mem = '8MB'", "DROP INDEX i", "COMMENT ON TABLE orders IS 'x'",
          "GRANT SELECT ON orders TO app", "REVOKE ALL ON orders FROM app",
          "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql"})
        EXPECT_EQ(classify(ddl), info("ddl", "none")) << ddl;
    for (const char* other :
         {"SET search_path = x", "SHOW work_mem", "NOTIFY jobs, 'x'", "VACUUM orders",
          "ANALYZE orders", "EXPLAIN SELECT * FROM orders", "DO $$ BEGIN END $$", "CALL p(1)",
          "PREPARE q AS SELECT 1", "EXECUTE q", "DEALLOCATE ALL", "LOCK TABLE orders",
          "REINDEX TABLE orders", "DISCARD ALL"}) {
        const auto i = classify(other);  // (the prepared statements' names aside: see below)
        EXPECT_EQ(i.operation, "other") << other;
        EXPECT_EQ(i.table, "none") << other;
    }
    EXPECT_EQ(classify("VALUES (1), (2)"), info("select", "none"));
    EXPECT_EQ(classify("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DO NOTHING"),
              info("other", "t"));
    EXPECT_EQ(classify("WITH x AS (SELECT 1) MERGE INTO t USING x ON true WHEN MATCHED THEN "
                       "DO NOTHING"),
              info("other", "t"));
    EXPECT_EQ(classify("WITH x AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM x").table,
              "b");
}

TEST(sql_lexer, ddl_names_its_table_when_plain) {
    EXPECT_EQ(classify("CREATE TABLE orders (id int)"), info("ddl", "orders"));
    EXPECT_EQ(classify("create unlogged table if not exists public.Jobs (id int)"),
              info("ddl", "jobs"));
    EXPECT_EQ(classify("CREATE TEMP TABLE scratch AS SELECT 1"), info("ddl", "scratch"));
    EXPECT_EQ(classify("ALTER TABLE IF EXISTS ONLY \"Sales\".\"Orders\" ADD COLUMN x int"),
              info("ddl", "Orders"));
    EXPECT_EQ(classify("DROP TABLE IF EXISTS a, b"), info("ddl", "a"));
    EXPECT_EQ(classify("TRUNCATE events"), info("ddl", "events"));
    EXPECT_EQ(classify("TRUNCATE TABLE ONLY app.events RESTART IDENTITY"), info("ddl", "events"));
    EXPECT_EQ(classify("DROP TABLE IF"), info("ddl", "none"));
}

// A function in FROM gives none (a sub-query gives its table: see above).
TEST(sql_lexer, a_copy_of_a_query_gives_the_querys_table) {
    EXPECT_EQ(classify("COPY (SELECT a FROM big WHERE a > 1) TO STDOUT"), info("copy", "big"));
    EXPECT_EQ(classify("COPY t (a, b) FROM STDIN"), info("copy", "t"));
}

TEST(sql_lexer, a_function_in_from_gives_none) {
    EXPECT_EQ(classify("SELECT g FROM generate_series(1, 3) g"), info("select", "none"));
    EXPECT_EQ(classify("SELECT * FROM (VALUES (1)) v"), info("select", "none"));
}

TEST(sql_lexer, comments_and_strings_are_skipped) {
    EXPECT_EQ(classify("-- a comment FROM nowhere\nSELECT * FROM t1"), info("select", "t1"));
    EXPECT_EQ(classify("/* outer /* inner FROM x */ still comment */ DELETE FROM t2"),
              info("delete", "t2"));
    EXPECT_EQ(classify("SELECT 'FROM fake' , E'it\\'s FROM fake2' FROM t3"), info("select", "t3"));
    EXPECT_EQ(classify("SELECT 'it''s' FROM t4"), info("select", "t4"));
    EXPECT_EQ(classify("SELECT $$ FROM fake $$, $tag$ x $$ FROM y $tag$ FROM t5"),
              info("select", "t5"));
    EXPECT_EQ(classify("SELECT $1::int FROM t6 WHERE a = $2"), info("select", "t6"));
}

TEST(sql_lexer, ctes_resolve_to_the_main_statement) {
    EXPECT_EQ(classify("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent"),
              info("select", "orders"));
    EXPECT_EQ(classify("WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t) "
                       "DELETE FROM jobs WHERE id IN (SELECT n FROM t)"),
              info("delete", "jobs"));
    EXPECT_EQ(classify("with a as materialized (select 1), b as not materialized (select 2) "
                       "insert into log select * from a"),
              info("insert", "log"));
    EXPECT_EQ(classify("WITH broken"), info("other", "none"));
}

statement_target write(std::string op, std::string table) {
    return {std::move(op), std::move(table)};
}

// Labels follow the main statement; what a statement modifies besides it is in `writes`, for
// audit rules: a DELETE wrapped in a WITH must not escape a DELETE rule.
TEST(sql_lexer, data_modifying_ctes_are_writes) {
    const auto del = classify(
        "WITH d AS (DELETE FROM public.Users WHERE id = 1 RETURNING *) SELECT count(*) FROM d");
    EXPECT_EQ(del.operation, "select");
    EXPECT_EQ(del.table, "users");  // what `d` reads
    EXPECT_EQ(del.writes, std::vector{write("delete", "users")});

    const auto two = classify(
        "WITH a AS (UPDATE accounts SET n = n - 1 RETURNING id), b AS (SELECT 1), "
        "c AS (INSERT INTO log (id) SELECT id FROM a RETURNING id), "
        "e AS (UPDATE accounts SET n = 0) DELETE FROM jobs");
    EXPECT_EQ(two.operation, "delete");
    EXPECT_EQ(two.table, "jobs");
    EXPECT_EQ(two.writes, (std::vector{write("update", "accounts"), write("insert", "log")}));

    // A CTE in a CTE, a CTE that only reads, and none.
    EXPECT_EQ(classify("WITH x AS (WITH y AS (DELETE FROM users RETURNING *) SELECT * FROM y) "
                       "SELECT * FROM x")
                  .writes,
              std::vector{write("delete", "users")});
    EXPECT_TRUE(classify("WITH x AS (SELECT * FROM users) SELECT * FROM x").writes.empty());
    EXPECT_TRUE(classify("DELETE FROM users").writes.empty());
    // A quote or a comment in a CTE's body does not end it.
    EXPECT_EQ(classify("WITH d AS (DELETE FROM users WHERE n = ')' /* ) */ RETURNING 1) "
                       "SELECT 1")
                  .writes,
              std::vector{write("delete", "users")});
    // Unclosed: not a statement the lexer reads (the server refuses it).
    EXPECT_EQ(classify("WITH d AS (DELETE FROM users").writes, std::vector<statement_target>{});
}

TEST(sql_lexer, explain_analyze_runs_its_statement) {
    EXPECT_EQ(classify("EXPLAIN ANALYZE DELETE FROM users WHERE id = 1").writes,
              std::vector{write("delete", "users")});
    EXPECT_EQ(classify("explain analyse verbose update users set a = 1").writes,
              std::vector{write("update", "users")});
    EXPECT_EQ(classify("EXPLAIN (FORMAT JSON, ANALYZE) INSERT INTO users VALUES (1)").writes,
              std::vector{write("insert", "users")});
    EXPECT_EQ(classify("EXPLAIN (ANALYZE true) WITH d AS (DELETE FROM users) SELECT 1").writes,
              std::vector{write("delete", "users")});
    // Not run: no ANALYZE, or ANALYZE set false.
    for (const char* sql :
         {"EXPLAIN DELETE FROM users", "EXPLAIN (ANALYZE false) DELETE FROM users",
          "EXPLAIN (analyze off, costs) DELETE FROM users",
          "EXPLAIN ANALYZE SELECT * FROM users"}) {
        const auto i = classify(sql);
        EXPECT_TRUE(i.writes.empty()) << sql;
        EXPECT_EQ(i.operation, "other") << sql;
        EXPECT_EQ(i.table, "none") << sql;
    }
    // A literal is taken as true whatever its value: labels never read a literal (texts of one
    // shape share their labels in the cache).
    EXPECT_EQ(classify("EXPLAIN (ANALYZE 0) DELETE FROM users"),
              classify("EXPLAIN (ANALYZE 1) DELETE FROM users"));
    EXPECT_EQ(classify("EXPLAIN (ANALYZE 'off') DELETE FROM users").writes,
              std::vector{write("delete", "users")});
}

TEST(sql_lexer, merge_names_its_target_and_actions) {
    const auto m = classify(
        "MERGE INTO app.users u USING incoming i ON u.id = i.id WHEN MATCHED AND i.gone THEN "
        "DELETE WHEN MATCHED THEN UPDATE SET name = i.name WHEN NOT MATCHED THEN INSERT VALUES "
        "(i.id, i.name)");
    EXPECT_EQ(m.operation, "other");
    EXPECT_EQ(m.table, "users");
    EXPECT_EQ(m.writes, (std::vector{write("delete", "users"), write("update", "users"),
                                     write("insert", "users")}));
    EXPECT_EQ(classify("MERGE INTO t USING s ON true WHEN MATCHED THEN DO NOTHING").writes,
              std::vector<statement_target>{});
}

TEST(sql_lexer, sql_level_prepared_statements) {
    const auto p = classify("PREPARE Del (int) AS DELETE FROM users WHERE id = $1");
    EXPECT_EQ(p.operation, "other");
    EXPECT_EQ(p.table, "none");
    EXPECT_TRUE(p.writes.empty());  // preparing runs nothing
    EXPECT_EQ(p.prepared, sql_prepared::prepare);
    EXPECT_EQ(p.prepared_name, "del");
    EXPECT_EQ(p.prepared_targets, std::vector{write("delete", "users")});

    const auto cte =
        classify("prepare \"Q\" as with d as (delete from users returning *) select * from d");
    EXPECT_EQ(cte.prepared_name, "Q");
    EXPECT_EQ(cte.prepared_targets,
              (std::vector{write("select", "users"), write("delete", "users")}));

    const auto e = classify("EXECUTE Del(42)");
    EXPECT_EQ(e.prepared, sql_prepared::execute);
    EXPECT_EQ(e.prepared_name, "del");
    EXPECT_EQ(classify("DEALLOCATE PREPARE del").prepared, sql_prepared::deallocate);
    EXPECT_EQ(classify("DEALLOCATE del").prepared_name, "del");
    EXPECT_EQ(classify("DEALLOCATE ALL").prepared, sql_prepared::deallocate_all);
    EXPECT_EQ(classify("DISCARD ALL").prepared, sql_prepared::deallocate_all);
    EXPECT_EQ(classify("DISCARD PLANS").prepared, sql_prepared::none);
    EXPECT_EQ(classify("PREPARE TRANSACTION 'x'").prepared, sql_prepared::none);
    EXPECT_EQ(classify("PREPARE x").prepared, sql_prepared::none);  // no AS: not read
    EXPECT_EQ(classify("EXECUTE").prepared, sql_prepared::none);
}

// Each level of nesting lexes its text again: the depth is capped (4 levels below the statement
// are read), and deep nesting is read without a crash.
TEST(sql_lexer, nested_statements_are_bounded) {
    const auto nested = [](int levels) {
        std::string sql;
        for (int i = 0; i < levels; ++i) sql += "WITH a AS (";
        sql += "DELETE FROM users";
        for (int i = 0; i < levels; ++i) sql += ") SELECT 1";
        return classify(sql);
    };
    EXPECT_EQ(nested(1).writes, std::vector{write("delete", "users")});
    EXPECT_EQ(nested(4).writes, std::vector{write("delete", "users")});
    EXPECT_TRUE(nested(5).writes.empty());
    EXPECT_EQ(nested(2000).operation, "select");
    std::string explains;
    for (int i = 0; i < 2000; ++i) explains += "EXPLAIN ANALYZE ";
    explains += "DELETE FROM users";
    EXPECT_TRUE(classify(explains).writes.empty());  // deeper than the cap
    EXPECT_EQ(classify("EXPLAIN ANALYZE EXPLAIN ANALYZE DELETE FROM users").writes,
              std::vector{write("delete", "users")});
}

// What the first review of this found: each a way a DELETE was run by a statement whose writes
// did not show it.
TEST(sql_lexer, writes_under_copy_create_table_as_and_quoted_options) {
    const auto copy = classify("COPY (DELETE FROM users RETURNING id) TO STDOUT");
    EXPECT_EQ(copy.operation, "copy");
    EXPECT_EQ(copy.writes, std::vector{write("delete", "users")});
    EXPECT_EQ(classify("COPY (WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d) TO STDOUT")
                  .writes,
              std::vector{write("delete", "users")});
    const auto ctas =
        classify("CREATE TABLE x AS WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d");
    EXPECT_EQ(ctas, (statement_info{"ddl", "x", {write("delete", "users")}}));
    EXPECT_TRUE(classify("CREATE TABLE x (id int GENERATED ALWAYS AS IDENTITY)").writes.empty());
    EXPECT_EQ(classify("EXPLAIN (\"analyze\") DELETE FROM users").writes,
              std::vector{write("delete", "users")});
    EXPECT_TRUE(classify("EXPLAIN (\"ANALYZE\") DELETE FROM users").writes.empty());  // unknown
    // SEARCH and CYCLE after a recursive query do not hide the queries after them.
    EXPECT_EQ(
        classify("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
                 "CYCLE n SET c TO true DEFAULT false USING p, "
                 "d AS (DELETE FROM users RETURNING 1) SELECT * FROM d")
            .writes,
        std::vector{write("delete", "users")});
    EXPECT_EQ(classify("WITH RECURSIVE r(n, m) AS (SELECT 1, 2) SEARCH DEPTH FIRST BY n, m SET o, "
                       "d AS (DELETE FROM users RETURNING 1) SELECT * FROM d")
                  .writes,
              std::vector{write("delete", "users")});
}

// A statement with its writes late in a long text is read whole (an ordinary statement's label
// needs its first 4,096 tokens only).
TEST(sql_lexer, a_long_with_or_merge_is_read_whole) {
    std::string ones = "1";
    for (int i = 0; i < 3000; ++i) ones += ", 1";
    EXPECT_EQ(
        classify("WITH p AS (SELECT " + ones + "), d AS (DELETE FROM users RETURNING 1) SELECT 1")
            .writes,
        std::vector{write("delete", "users")});
    std::string rows = "(1)";
    for (int i = 0; i < 2000; ++i) rows += ", (1)";
    EXPECT_EQ(classify("MERGE INTO users u USING (VALUES " + rows +
                       ") v(id) ON u.id = v.id WHEN MATCHED THEN DELETE")
                  .writes,
              std::vector{write("delete", "users")});
    // Inside another statement, one such text is read whole: EXPLAIN ANALYZE of the WITH above.
    const auto explained = "EXPLAIN ANALYZE WITH p AS (SELECT " + ones +
                           "), d AS (DELETE FROM users RETURNING 1) SELECT 1";
    EXPECT_EQ(classify(explained).writes, std::vector{write("delete", "users")});
    // Writes are capped at 16 per statement.
    std::string many = "WITH ";
    for (int i = 0; i < 40; ++i)
        many += "d" + std::to_string(i) + " AS (DELETE FROM t" + std::to_string(i) + "), ";
    EXPECT_EQ(classify(many + "e AS (SELECT 1) SELECT 1").writes.size(), 16u);
}

TEST(sql_lexer, prepared_names_fold_as_the_server_folds_them) {
    EXPECT_EQ(classify("PREPARE \"x y\" AS DELETE FROM users").prepared_name, "x y");
    EXPECT_EQ(classify("EXECUTE \"x y\"").prepared_name, "x y");
    EXPECT_EQ(classify("EXECUTE \"a\"\"b\"").prepared_name, "a\"b");
    EXPECT_EQ(classify("PREPARE Dél AS SELECT 1").prepared_name, "dél");
    EXPECT_EQ(classify("PREPARE " + std::string(70, 'A') + " AS SELECT 1").prepared_name,
              std::string(63, 'a'));
    // Cut at 63 bytes before a character that would not fit whole (2-byte é at byte 62).
    EXPECT_EQ(classify("EXECUTE " + std::string(62, 'a') + "é").prepared_name,
              std::string(62, 'a'));
    EXPECT_EQ(classify("DEALLOCATE prepare").prepared_name, "prepare");
    EXPECT_EQ(classify("EXPLAIN ANALYZE EXECUTE d").prepared, sql_prepared::execute_inside);
    EXPECT_EQ(classify("CREATE TABLE x AS EXECUTE d (1)").prepared, sql_prepared::execute_inside);
}

// A WITH query named in FROM stands for the table it reads, through a chain of them; one that
// reads no table (recursive over VALUES, or only itself) gives none.
TEST(sql_lexer, a_with_query_named_as_the_table_gives_its_table) {
    EXPECT_EQ(classify("WITH a AS (SELECT * FROM s.items), b AS (SELECT * FROM a) "
                       "SELECT * FROM b JOIN users ON true"),
              info("select", "items"));
    EXPECT_EQ(classify("WITH \"Recent\" AS (SELECT * FROM orders) SELECT * FROM \"Recent\""),
              info("select", "orders"));
    EXPECT_EQ(classify("WITH recent AS (SELECT * FROM orders) SELECT * FROM \"Recent\""),
              info("select", "Recent"));  // another name: not the query
    EXPECT_EQ(classify("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                       "SELECT * FROM r"),
              info("select", "none"));
    EXPECT_EQ(classify("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT * FROM a"),
              info("select", "none"));
    EXPECT_EQ(classify("WITH none AS (SELECT * FROM t) SELECT 1"), info("select", "none"));
    // The target of a write is a table, never a WITH query's name.
    EXPECT_EQ(classify("WITH ids AS (SELECT id FROM old) DELETE FROM jobs USING ids"),
              info("delete", "jobs"));
    EXPECT_EQ(classify("WITH ids AS (SELECT id FROM old) INSERT INTO archive SELECT * FROM ids"),
              info("insert", "archive"));
}

// The text is read as the server reads it: with standard_conforming_strings off, '...' takes
// backslash escapes; in a client-only multibyte encoding, a character's second byte is not the
// ASCII byte it looks like. Read otherwise, a literal would end elsewhere than the server ends
// it: statements after it missed, and a literal's bytes taken for names.
TEST(sql_lexer, the_text_is_read_in_the_connections_mode) {
    lex_mode off;
    apply_parameter(off, "standard_conforming_strings", "off");
    EXPECT_TRUE(off.backslash_strings);
    const std::string sql = "SELECT 'a\\''; DELETE FROM t WHERE id = 5; SELECT 1";
    ASSERT_EQ(split_statements(sql, off).size(), 3u);
    EXPECT_EQ(classify(split_statements(sql, off)[1], off), info("delete", "t"));
    EXPECT_EQ(classify("WITH q AS (SELECT N'a\\'' AS v) DELETE FROM t WHERE id = 5", off),
              info("delete", "t"));
    EXPECT_EQ(normalize("SELECT 'a\\'', 'hunter2'", off), "SELECT $1, $2");
    EXPECT_EQ(split_statements("SELECT 'a\\'; SELECT 2").size(), 2u);  // standard: as before
    apply_parameter(off, "standard_conforming_strings", "on");
    EXPECT_FALSE(off.backslash_strings);

    lex_mode sjis;
    apply_parameter(sjis, "client_encoding", "SJIS");
    const std::string so = "SELECT E'\x83\x5C'; DELETE FROM t; SELECT 1";  // ソ: 83 5C
    ASSERT_EQ(split_statements(so, sjis).size(), 3u);
    EXPECT_EQ(classify(split_statements(so, sjis)[1], sjis), info("delete", "t"));
    EXPECT_EQ(split_statements(so).size(), 1u);  // read as one byte each: the quote is escaped
    // A half-width kana is one byte: the backslash after it escapes the quote.
    EXPECT_EQ(split_statements("SELECT E'\xB1\\''; DELETE FROM t", sjis).size(), 2u);
    lex_mode gbk, gb18030, johab;
    apply_parameter(gbk, "client_encoding", "GBK");
    apply_parameter(gb18030, "client_encoding", "GB18030");
    apply_parameter(johab, "client_encoding", "JOHAB");
    EXPECT_EQ(split_statements("SELECT E'\x81\x5C'; DELETE FROM t", gbk).size(), 2u);
    EXPECT_EQ(split_statements("SELECT E'\x81\x30\x81\x30\x81\x5C'; DELETE FROM t", gb18030).size(),
              2u);
    // In JOHAB a second byte may be a semicolon: inside a name, not the end of a statement.
    EXPECT_EQ(split_statements("SELECT a\x88\x3B FROM t", johab).size(), 1u);
    EXPECT_EQ(split_statements("SELECT a\x88\x3B FROM t").size(), 2u);
    // A backslash escapes a whole character; a dollar tag may hold one whose second byte looks
    // like ASCII; a literal continued on the next line is read the same way (E: with escapes).
    EXPECT_EQ(split_statements("SELECT E'\\\x83\x5C'; DELETE FROM users; --'", sjis).size(), 2u);
    EXPECT_EQ(
        split_statements("SELECT $\x83\x5C$ '$\x83\x5C$; DELETE FROM users; --'", sjis).size(), 2u);
    EXPECT_EQ(split_statements("SELECT E'a'\n'\\'' ; DELETE FROM users; --'").size(), 2u);
    EXPECT_EQ(split_statements("SELECT E'a' -- c\n  '\\'' ; DELETE FROM users; --'").size(), 2u);
    EXPECT_EQ(split_statements("SELECT E'a' '\\'' ; DELETE FROM users; --'").size(),
              1u);  // no newline
    // A server in SQL_ASCII converts nothing: it reads the bytes one by one, as the lexer does.
    apply_parameter(sjis, "server_encoding", "SQL_ASCII");
    EXPECT_EQ(split_statements(so, sjis).size(), 1u);
    apply_parameter(sjis, "server_encoding", "UTF8");
    EXPECT_EQ(split_statements(so, sjis).size(), 3u);
    apply_parameter(sjis, "client_encoding", "UTF8");
    EXPECT_EQ(sjis, lex_mode{});
    // Texts read in different modes are different shapes.
    std::string a, b;
    shape_of("SELECT 1", a);
    shape_of("SELECT 1", b, off.backslash_strings ? off : lex_mode{true});
    EXPECT_NE(a, b);
}

TEST(sql_lexer, qualified_and_quoted_names) {
    EXPECT_EQ(classify("SELECT * FROM public.orders"), info("select", "orders"));
    EXPECT_EQ(classify("SELECT * FROM Sales.\"Orders\""), info("select", "Orders"));
    EXPECT_EQ(classify("SELECT * FROM \"Sales\".\"Orders\""), info("select", "Orders"));
    EXPECT_EQ(classify("UPDATE db.app.items SET n = 1"), info("update", "items"));
    EXPECT_EQ(classify("DELETE FROM \"it's\""), info("delete", "none"));  // no quote in a label
    EXPECT_EQ(classify("SELECT * FROM \"back\\slash\""), info("select", "none"));
    EXPECT_EQ(classify("INSERT INTO \"weird table\" VALUES (1)"),
              info("insert", "none"));  // a space: not kept as a label
    EXPECT_EQ(classify("select extract(year from ts) from events"), info("select", "events"));
    EXPECT_EQ(classify("SELECT * FROM generate_series(1, 3)"), info("select", "none"));
    EXPECT_EQ(classify("SELECT * FROM (SELECT * FROM inner_t) s"), info("select", "inner_t"));
}

TEST(sql_lexer, split_statements_at_top_level_semicolons) {
    const auto s = split_statements(
        "SELECT 1; SELECT ';' FROM a;; /* ; */ ; INSERT INTO b "
        "VALUES ($$;$$);\n-- end;");
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(classify(s[0]), info("select", "none"));
    EXPECT_EQ(classify(s[1]), info("select", "a"));
    EXPECT_EQ(classify(s[2]), info("insert", "b"));
    EXPECT_TRUE(split_statements("  -- only a comment").empty());
    EXPECT_TRUE(split_statements("").empty());
}

// A routine's SQL-standard body (BEGIN ATOMIC ... END, CASE ... END inside) is one statement
// with the CREATE, as the server's grammar reads it; what follows is split as usual.
TEST(sql_lexer, a_begin_atomic_body_is_not_split) {
    const auto s = split_statements(
        "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
        "SELECT CASE WHEN true THEN 2 END; END; DELETE FROM t WHERE id = 9; "
        "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO log VALUES (1); END; BEGIN; END");
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(classify(s[0]), info("ddl", "none"));
    EXPECT_EQ(classify(s[1]), info("delete", "t"));
    EXPECT_EQ(classify(s[2]), info("ddl", "none"));
    EXPECT_EQ(classify(s[3]), info("tx", "none"));
    EXPECT_EQ(classify(s[4]), info("tx", "none"));
    // A function with a quoted body, a table with a column named begin: split at each ';'.
    EXPECT_EQ(split_statements("CREATE FUNCTION g() RETURNS int AS 'SELECT 1; SELECT 2' "
                               "LANGUAGE sql; SELECT begin FROM c; CREATE TABLE x (atomic int)")
                  .size(),
              3u);
}

TEST(sql_lexer, hostile_input_never_crashes) {
    for (const char* text : {"'", "E'\\", "$", "$a", "$a$", "\"", "/*", "/* /* */", "--", "(((((",
                             ")))))", "U&\"", "WITH x AS (", "SELECT * FROM", "INSERT INTO",
                             "SELECT * FROM a.b.c.d.e", "\xff\xfe FROM \x80"}) {
        (void)classify(text);
        (void)split_statements(text);
    }
    std::mt19937 rng(42);
    const std::string alphabet = "SELECTFROMINTOWITHas()'\"$;-*/\\E.x \n\x01\xff";
    for (int i = 0; i < 20000; ++i) {
        std::string text(rng() % 64, ' ');
        for (auto& c : text) c = alphabet[rng() % alphabet.size()];
        const auto r = classify(text);
        EXPECT_LE(r.table.size(), 63u);
        EXPECT_EQ(r.table.find_first_of("'\"\\"), std::string::npos) << r.table;
        for (auto piece : split_statements(text)) (void)classify(piece);
    }
}

}  // namespace
}  // namespace sidelight::dbproxy
