// newest_rows: the newest n rows of one table, newest first, however many rows of the other
// table came after them (the stores read forwards in seq order only).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/sqlite_store.hpp"
#include "audit/store.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::make_security;
using testing::store_at;
using testing::temp_dir;

void append_audit(sqlite_store& s, int count) {
    std::vector<event> batch;
    for (int i = 0; i < count; ++i) batch.push_back(make_audit("alice", std::to_string(i)));
    s.append(batch);
}

TEST(NewestRows, FindsTheNewestSecurityEventsBehindManyAuditRows) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    // seq 1..30: security events LOGIN_0..29, each after an audit row; then 3000 audit rows,
    // more than one look-back span and than one page.
    for (int i = 0; i < 30; ++i) {
        append_audit(s, 1);
        const std::vector<event> one{make_security("LOGIN_" + std::to_string(i))};
        s.append(one);
    }
    append_audit(s, 3000);
    const auto rows = newest_rows(s, table_kind::security_audit, 20);
    ASSERT_EQ(rows.size(), 20u);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& e = std::get<security_event>(rows[i].ev);
        EXPECT_EQ(e.event_type, "LOGIN_" + std::to_string(29 - i));
    }
    EXPECT_GT(rows.front().seq, rows.back().seq);
}

TEST(NewestRows, FewerThanAskedAndEmpty) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    EXPECT_TRUE(newest_rows(s, table_kind::security_audit, 20).empty());
    const std::vector<event> two{make_security("A"), make_security("B")};
    s.append(two);
    append_audit(s, 5);
    const auto rows = newest_rows(s, table_kind::security_audit, 20);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(std::get<security_event>(rows[0].ev).event_type, "B");
}

}  // namespace
}  // namespace sidelight::audit
