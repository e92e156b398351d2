// The upstream verdict: unknown until a threshold is reached, then flipped only by as many
// probes in a row (health.unhealthy_threshold / health.healthy_threshold).

#include <gtest/gtest.h>

#include "agent/health.hpp"

namespace sidelight::agent {
namespace {

TEST(ProbeVerdictTest, UnknownUntilAThresholdIsReached) {
    probe_verdict v(3, 1);
    EXPECT_EQ(v.state(), upstream_state::unknown);
    EXPECT_FALSE(v.record(false));
    EXPECT_FALSE(v.record(false));
    EXPECT_EQ(v.state(), upstream_state::unknown);  // two failures are not yet a verdict
    EXPECT_TRUE(v.record(false));
    EXPECT_EQ(v.state(), upstream_state::unreachable);
}

TEST(ProbeVerdictTest, OneGoodProbeMakesItReachableByDefault) {
    probe_verdict v(3, 1);
    EXPECT_TRUE(v.record(true));
    EXPECT_EQ(v.state(), upstream_state::reachable);
}

TEST(ProbeVerdictTest, OneSlowProbeDoesNotFlipIt) {
    probe_verdict v(3, 1);
    v.record(true);
    EXPECT_FALSE(v.record(false));
    EXPECT_FALSE(v.record(false));
    EXPECT_FALSE(v.record(true));  // the run of failures is broken
    EXPECT_FALSE(v.record(false));
    EXPECT_FALSE(v.record(false));
    EXPECT_EQ(v.state(), upstream_state::reachable);
    EXPECT_TRUE(v.record(false));  // the third in a row
    EXPECT_EQ(v.state(), upstream_state::unreachable);
}

TEST(ProbeVerdictTest, HealthyThresholdNeedsThatManyInARow) {
    probe_verdict v(1, 2);
    EXPECT_TRUE(v.record(false));
    EXPECT_EQ(v.state(), upstream_state::unreachable);
    EXPECT_FALSE(v.record(true));
    EXPECT_FALSE(v.record(false));
    EXPECT_FALSE(v.record(true));
    EXPECT_EQ(v.state(), upstream_state::unreachable);
    EXPECT_TRUE(v.record(true));
    EXPECT_EQ(v.state(), upstream_state::reachable);
    EXPECT_EQ(to_string(v.state()), "reachable");
}

}  // namespace
}  // namespace sidelight::agent
