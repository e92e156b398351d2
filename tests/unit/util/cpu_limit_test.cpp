// proxy.workers: 0 follows the container's CPU limit (cgroup v2 cpu.max, v1 cfs quota/period).

#include <gtest/gtest.h>

#include "util/cpu_limit.hpp"

namespace sidelight::util {
namespace {

TEST(CpuLimitTest, CgroupV2QuotaIsRoundedUpToWholeCpus) {
    EXPECT_EQ(cpu_limit_v2("200000 100000\n"), 2u);
    EXPECT_EQ(cpu_limit_v2("150000 100000\n"), 2u);  // 1.5 CPUs
    EXPECT_EQ(cpu_limit_v2("50000 100000"), 1u);     // half a CPU still gets one worker
    EXPECT_EQ(cpu_limit_v2("400000 50000\n"), 8u);
}

TEST(CpuLimitTest, CgroupV2WithoutLimitOrFileIsZero) {
    EXPECT_EQ(cpu_limit_v2("max 100000\n"), 0u);
    EXPECT_EQ(cpu_limit_v2(std::nullopt), 0u);
}

TEST(CpuLimitTest, CgroupV1QuotaAndPeriod) {
    EXPECT_EQ(cpu_limit_v1("300000\n", "100000\n"), 3u);
    EXPECT_EQ(cpu_limit_v1("250000\n", "100000\n"), 3u);
    EXPECT_EQ(cpu_limit_v1("-1\n", "100000\n"), 0u);  // no limit
    EXPECT_EQ(cpu_limit_v1(std::nullopt, "100000\n"), 0u);
    EXPECT_EQ(cpu_limit_v1("300000\n", std::nullopt), 0u);
}

TEST(CpuLimitTest, GarbageMeansNoLimit) {
    for (const char* text :
         {"", "\n", "max", "100000", "abc 100000", "100000 abc", "1e5 100000", "100000 0",
          "0 100000", "-5 100000", "100000 100000 7", "100000x 100000"}) {
        EXPECT_EQ(cpu_limit_v2(text), 0u) << '"' << text << '"';
    }
    EXPECT_EQ(cpu_limit_v1("lots", "100000"), 0u);
    EXPECT_EQ(cpu_limit_v1("100000", ""), 0u);
    EXPECT_EQ(cpu_limit_v1("100000", "0"), 0u);
}

TEST(CpuLimitTest, DefaultWorkersIsTheLimitCappedByTheCores) {
    EXPECT_EQ(default_workers(2, 64), 2u);  // a 2-CPU pod on a 64-core node
    EXPECT_EQ(default_workers(16, 4), 4u);  // a limit above the cores
    EXPECT_EQ(default_workers(0, 8), 8u);   // no limit
    EXPECT_EQ(default_workers(3, 0), 3u);   // cores unknown
    EXPECT_EQ(default_workers(0, 0), 1u);   // nothing known: one worker
}

}  // namespace
}  // namespace sidelight::util
