#include "audit/security_counts.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sidelight::audit {
namespace {

using outcomes = security_counts::outcomes;

outcomes counts_of(const security_counts& c, const std::string& type) {
    for (const auto& row : c.snapshot()) {
        if (row.event_type == type) return row.counts;
    }
    ADD_FAILURE() << type << " is not shown";
    return {};
}

bool shown(const security_counts& c, const std::string& type) {
    for (const auto& row : c.snapshot()) {
        if (row.event_type == type) return true;
    }
    return false;
}

TEST(SecurityCounts, AdmittedTypesShowFromZeroAndCountByOutcome) {
    security_counts c;
    c.admit({"LOGIN_ATTEMPT", "authz_fail"});
    EXPECT_EQ(counts_of(c, "authz_fail"), (outcomes{0, 0, 0}));
    c.count("LOGIN_ATTEMPT", false);
    c.count("LOGIN_ATTEMPT", false);
    c.count("LOGIN_ATTEMPT", true);
    c.count("LOGIN_ATTEMPT", std::nullopt);
    EXPECT_EQ(counts_of(c, "LOGIN_ATTEMPT"), (outcomes{2, 1, 1}));
    EXPECT_FALSE(shown(c, "other"));  // nothing counted as other yet
    EXPECT_EQ(success_label(0), "false");
    EXPECT_EQ(success_label(1), "true");
    EXPECT_EQ(success_label(2), "unknown");
}

TEST(SecurityCounts, APlainNameIsAdmittedOnFirstSightAndAnythingElseIsOther) {
    security_counts c;
    c.count("password_reset", true);  // e.g. posted to /v1/security
    EXPECT_EQ(counts_of(c, "password_reset"), (outcomes{0, 1, 0}));
    // Label injection and unbounded names never become a series of their own.
    c.count("x\"} 1\nfake_metric{a=\"", false);
    c.count("", false);
    c.count(std::string(65, 'a'), false);
    c.count("white space", true);
    c.count("other", true);
    EXPECT_EQ(counts_of(c, "other"), (outcomes{3, 2, 0}));
    EXPECT_EQ(c.snapshot().back().event_type, "other");  // other comes last
    EXPECT_EQ(c.snapshot().size(), 2u);
}

TEST(SecurityCounts, AtMostMaxTypesThenOther) {
    security_counts c;
    std::vector<std::string> many;
    for (std::size_t i = 0; i < security_counts::max_types + 6; ++i)
        many.push_back("type_" + std::to_string(1000 + i));
    c.admit(many);
    EXPECT_EQ(c.snapshot().size(), security_counts::max_types);
    c.count("late_type", false);  // no room left
    c.count(many.front(), true);  // known
    EXPECT_EQ(counts_of(c, "other"), (outcomes{1, 0, 0}));
    EXPECT_EQ(counts_of(c, many.front()), (outcomes{0, 1, 0}));
    EXPECT_FALSE(shown(c, "late_type"));
    EXPECT_EQ(c.snapshot().size(), security_counts::max_types + 1);
}

}  // namespace
}  // namespace sidelight::audit
