// The throwaway PostgreSQL cluster of tests/support: it answers, isolates, stops, starts, and
// keeps committed data across a crash (immediate stop).

#include <gtest/gtest.h>

#include "tests/support/pg_cluster.hpp"

namespace sidelight::test {
namespace {

TEST(PgClusterTest, SharedClusterAnswers) {
    auto& pg = pg_cluster::shared();
    EXPECT_EQ(pg.psql("SELECT 1"), "1");
    EXPECT_TRUE(pg.running());
    EXPECT_EQ(pg.dsn(), "host=127.0.0.1 port=" + std::to_string(pg.port()) +
                            " user=postgres dbname=postgres");
    EXPECT_EQ(pg.uri("a", "b"), "postgresql://a@127.0.0.1:" + std::to_string(pg.port()) + "/b");
}

TEST(PgClusterTest, CreateDatabaseGivesDistinctDatabases) {
    auto& pg = pg_cluster::shared();
    const auto a = pg.create_database();
    const auto b = pg.create_database();
    EXPECT_NE(a, b);
    EXPECT_EQ(pg.psql("SELECT current_database()", "postgres", a), a);
    EXPECT_EQ(pg.psql("SELECT current_database()", "postgres", b), b);
    pg.psql("CREATE TABLE t (x int)", "postgres", a);
    EXPECT_NE(pg.try_psql("SELECT * FROM t", "postgres", b).first, 0);
}

TEST(PgClusterTest, FailedStatementThrowsAndTryPsqlReportsIt) {
    auto& pg = pg_cluster::shared();
    EXPECT_THROW(pg.psql("SELECT * FROM no_such_table"), std::runtime_error);
    const auto [code, text] = pg.try_psql("SELECT * FROM no_such_table");
    EXPECT_EQ(code, 3);
    EXPECT_NE(text.find("no_such_table"), std::string::npos) << text;
}

TEST(PgClusterTest, StopThenStartOnTheSamePort) {
    pg_cluster pg;
    const auto port = pg.port();
    pg.stop();
    EXPECT_FALSE(pg.running());
    const auto [code, text] = pg.try_psql("SELECT 1");
    EXPECT_NE(code, 0) << text;
    pg.start();
    EXPECT_EQ(pg.port(), port);
    EXPECT_TRUE(pg.running());
    EXPECT_EQ(pg.psql("SELECT 1"), "1");
}

TEST(PgClusterTest, CommittedDataSurvivesAnImmediateRestart) {
    pg_cluster pg;
    const auto db = pg.create_database();
    pg.psql("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000);", "postgres",
            db);
    pg.restart_immediate();
    EXPECT_EQ(pg.psql("SELECT count(*) FROM t", "postgres", db), "1000");
    pg.stop_immediate();
    EXPECT_FALSE(pg.running());
    pg.start();
    EXPECT_EQ(pg.psql("SELECT sum(x) FROM t", "postgres", db), "500500");
}

}  // namespace
}  // namespace sidelight::test
