// normalize() and fingerprint(): what a database audit row keeps of a statement.
#include <gtest/gtest.h>

#include <random>

#include "dbproxy/sql_lexer.hpp"

namespace sidelight::dbproxy {
namespace {

TEST(SqlNormalize, LiteralsAndParametersBecomeNumberedParameters) {
    EXPECT_EQ(normalize("DELETE FROM users WHERE email = 'alice@example.com' AND id = 42"),
              "DELETE FROM users WHERE email = $1 AND id = $2");
    EXPECT_EQ(normalize("update public.users set pw = E'se\\'cret', n = 1.5e3 where id = $1"),
              "update public.users set pw = $1, n = $2 where id = $3");
    EXPECT_EQ(normalize("SELECT $tag$ hunter2 $tag$, B'1010', X'ff', U&'d\\0061t'"),
              "SELECT $1, $2, $3, $4");
    EXPECT_EQ(normalize("insert into \"Audit\"(a, b) values ('x', 2)"),
              "insert into \"Audit\" (a, b) values ($1, $2)");
    EXPECT_EQ(normalize("SELECT a::int FROM t WHERE x IN (1,2 , 3) LIMIT 10"),
              "SELECT a::int FROM t WHERE x IN ($1, $2, $3) LIMIT $4");
}

TEST(SqlNormalize, CommentsAndWhitespaceGo) {
    EXPECT_EQ(normalize("  DELETE /* token=abc */ FROM\n\tusers -- password=hunter2\n WHERE id=7;"),
              "DELETE FROM users WHERE id = $1;");
}

TEST(SqlNormalize, NoValueSurvivesAndTheTextIsBounded) {
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        const std::string secret = "s3cr3t" + std::to_string(rng());
        const std::string sql = "UPDATE t SET a = '" + secret + "', b = $$" + secret +
                                "$$, c = E'" + secret + "' /* " + secret + " */ -- " + secret;
        EXPECT_EQ(normalize(sql).find("s3cr3t"), std::string::npos) << sql;
    }
    std::string huge = "INSERT INTO t VALUES ";
    for (int i = 0; i < 10000; ++i) huge += "('x'),";
    huge += "('y')";
    const auto n = normalize(huge);
    EXPECT_LE(n.size(), 4096u + 4);
    EXPECT_TRUE(n.ends_with(" ...")) << n.substr(n.size() - 20);
}

TEST(SqlNormalize, FingerprintIsTheShapeNotTheValues) {
    const auto a = fingerprint(normalize("DELETE FROM users WHERE id = 1"));
    EXPECT_EQ(a.size(), 16u);
    EXPECT_EQ(a, fingerprint(normalize("delete FROM Users where ID = 2")));      // case folds
    EXPECT_NE(a, fingerprint(normalize("DELETE FROM \"Users\" WHERE id = 1")));  // unless quoted
    EXPECT_EQ(a, fingerprint(normalize("DELETE FROM users  WHERE id = 999 -- x")));
    EXPECT_NE(a, fingerprint(normalize("DELETE FROM orders WHERE id = 1")));
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace sidelight::dbproxy
