// The descriptor check before a run: a plan needing more sockets than RLIMIT_NOFILE allows is
// refused at its `connections`, instead of running with half its connections failing (EMFILE).
#include "loadtest/descriptor_limit.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

#include "config/load.hpp"

namespace sidelight::loadtest {
namespace {

std::string error_of(const plan& p, std::uint64_t limit) {
    try {
        check_descriptor_limit(p, limit);
    } catch (const config::config_error& e) {
        return e.what();
    }
    return "";
}

TEST(DescriptorLimit, TooManyConnectionsAreRefusedAtTheirKey) {
    const plan p = load_plan_string(
        "target: http://127.0.0.1:1\n"
        "scenarios:\n"
        "  - name: big\n"
        "    request: {path: /}\n"
        "    connections: 2000\n",
        "lt.yaml");
    EXPECT_EQ(descriptors_needed(p, p.scenarios[0]), 2000u + 2 + 64);
    EXPECT_EQ(error_of(p, 1024),
              "lt.yaml:5:18: scenarios[0].connections: 2000 connections need 2066 file "
              "descriptors (with 64 to spare); the limit is 1024 (RLIMIT_NOFILE, raised to its "
              "hard limit: raise that, e.g. ulimit -Hn, or use fewer connections)");
    EXPECT_EQ(error_of(p, 2066), "");
}

// Parallel scenarios hold their members' connections at once: 600 + 500 fit alone, not together.
TEST(DescriptorLimit, AParallelScenarioAddsItsMembersUp) {
    const plan p = load_plan_string(
        "target: http://127.0.0.1:1\n"
        "scenarios:\n"
        "  - {name: a, request: {path: /}, connections: 600, threads: 2}\n"
        "  - {name: b, request: {path: /}, connections: 500}\n"
        "  - {name: both, parallel: [a, b]}\n",
        "lt.yaml");
    EXPECT_EQ(descriptors_needed(p, p.scenarios[2]), 600u + 4 + 500 + 2 + 64);
    EXPECT_EQ(error_of(p, 1024),
              "lt.yaml:3:48: scenarios[0].connections: 1100 connections at once in parallel "
              "scenario \"both\" need 1170 file descriptors (with 64 to spare); the limit is 1024 "
              "(RLIMIT_NOFILE, raised to its hard limit: raise that, e.g. ulimit -Hn, or use "
              "fewer connections)");
}

TEST(DescriptorLimit, TheSoftLimitIsRaisedToTheHardOne) {
    rlimit before{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
    if (before.rlim_max > 64) {  // lower the soft limit so that raising it has an effect
        rlimit lowered = before;
        lowered.rlim_cur = 64;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
    }
    const std::uint64_t now = raise_descriptor_limit();
    rlimit after{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
    EXPECT_EQ(after.rlim_cur, before.rlim_max);
    EXPECT_EQ(now, after.rlim_cur == RLIM_INFINITY ? UINT64_MAX : after.rlim_cur);
    setrlimit(RLIMIT_NOFILE, &before);
}

}  // namespace
}  // namespace sidelight::loadtest
