#pragma once
// The container's CPU limit, as the cgroup says it: cgroup v2 `cpu.max` ("max 100000" or
// "<quota> <period>" in microseconds) or cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`
// (quota -1: no limit). `proxy.workers: 0` sizes the worker pool from it, so a pod limited to
// 2 CPUs on a 64-core node runs 2 workers, not 64. The parsers are pure functions of the file
// texts; read_cgroup_cpu_limit() reads the files. Thread-safe: no shared state.

#include <optional>
#include <string_view>

namespace sidelight::util {

// Whole CPUs granted, rounded up (a quota of 1.5 CPUs gives 2); 0 when there is no limit or the
// text is not understood. A missing file is std::nullopt.
unsigned cpu_limit_v2(std::optional<std::string_view> cpu_max);
unsigned cpu_limit_v1(std::optional<std::string_view> cfs_quota_us,
                      std::optional<std::string_view> cfs_period_us);

// Workers for `proxy.workers: 0`: the CPU limit (0: none) capped by the hardware threads
// (0: unknown), at least 1.
unsigned default_workers(unsigned cpu_limit, unsigned hardware_threads);

// The limit of the cgroup this process runs in, from /sys/fs/cgroup (v2 first, then v1); 0 when
// there is none or it cannot be read.
unsigned read_cgroup_cpu_limit();

}  // namespace sidelight::util
