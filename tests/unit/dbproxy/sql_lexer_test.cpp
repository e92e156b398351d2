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

TEST(sql_lexer, verbs_and_tables) {
    EXPECT_EQ(classify("SELECT id FROM orders WHERE id = 1"), info("select", "orders"));
    EXPECT_EQ(classify("insert into Orders (a, b) values (1, 'x')"), info("insert", "orders"));
    EXPECT_EQ(classify("UPDATE ONLY items SET n = n + 1"), info("update", "items"));
    EXPECT_EQ(classify("DELETE FROM sessions WHERE expired"), info("delete", "sessions"));
    EXPECT_EQ(classify("COPY events (a, b) FROM STDIN"), info("copy", "events"));
    EXPECT_EQ(classify("COPY (SELECT 1) TO STDOUT"), info("copy", "none"));
    EXPECT_EQ(classify("SELECT 1"), info("select", "none"));
    EXPECT_EQ(classify("begin"), info("begin", "none"));
    EXPECT_EQ(classify("START TRANSACTION ISOLATION LEVEL SERIALIZABLE"), info("begin", "none"));
    EXPECT_EQ(classify("COMMIT"), info("commit", "none"));
    EXPECT_EQ(classify("end"), info("commit", "none"));
    EXPECT_EQ(classify("ROLLBACK"), info("rollback", "none"));
    EXPECT_EQ(classify("LISTEN jobs"), info("listen", "none"));
    EXPECT_EQ(classify("frobnicate the database"), info("other", "none"));
    EXPECT_EQ(classify(""), info("other", "none"));
    EXPECT_EQ(classify("TABLE accounts"), info("select", "accounts"));
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
              info("select", "recent"));
    EXPECT_EQ(classify("WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t) "
                       "DELETE FROM jobs WHERE id IN (SELECT n FROM t)"),
              info("delete", "jobs"));
    EXPECT_EQ(classify("with a as materialized (select 1), b as not materialized (select 2) "
                       "insert into log select * from a"),
              info("insert", "log"));
    EXPECT_EQ(classify("WITH broken"), info("other", "none"));
}

TEST(sql_lexer, qualified_and_quoted_names) {
    EXPECT_EQ(classify("SELECT * FROM public.orders"), info("select", "public.orders"));
    EXPECT_EQ(classify("SELECT * FROM Sales.\"Orders\""), info("select", "sales.Orders"));
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
        EXPECT_LE(r.table.size(), 3 * 64u);
        for (auto piece : split_statements(text)) (void)classify(piece);
    }
}

}  // namespace
}  // namespace sidelight::dbproxy
