#include "util/cpu_limit.hpp"

#include "util/file.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <string>

namespace sidelight::util {
namespace {

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// A whole decimal number, optionally negative, and nothing else.
std::optional<std::int64_t> to_int(std::string_view s) {
    s = trim(s);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

unsigned whole_cpus(std::int64_t quota, std::int64_t period) {
    if (quota <= 0 || period <= 0) return 0;
    const auto cpus = quota / period + (quota % period != 0 ? 1 : 0);
    return static_cast<unsigned>(std::min<std::int64_t>(cpus, 1 << 20));
}

std::optional<std::string> read_file(const char* path) {
    auto read = read_small_file(path, 4096);  // one line of numbers
    if (!read.ok()) return std::nullopt;
    return std::move(read.text);
}

}  // namespace

unsigned cpu_limit_v2(std::optional<std::string_view> cpu_max) {
    if (!cpu_max) return 0;
    const auto text = trim(*cpu_max);
    const auto space = text.find(' ');
    if (space == std::string_view::npos) return 0;
    const auto quota = text.substr(0, space);
    const auto period = to_int(text.substr(space + 1));
    if (quota == "max" || !period) return 0;
    const auto q = to_int(quota);
    return q ? whole_cpus(*q, *period) : 0;
}

unsigned cpu_limit_v1(std::optional<std::string_view> cfs_quota_us,
                      std::optional<std::string_view> cfs_period_us) {
    if (!cfs_quota_us || !cfs_period_us) return 0;
    const auto quota = to_int(*cfs_quota_us);
    const auto period = to_int(*cfs_period_us);
    return quota && period ? whole_cpus(*quota, *period) : 0;  // quota -1: no limit
}

unsigned default_workers(unsigned cpu_limit, unsigned hardware_threads) {
    unsigned n = hardware_threads;
    if (cpu_limit > 0) n = n > 0 ? std::min(n, cpu_limit) : cpu_limit;
    return std::max(n, 1u);
}

unsigned read_cgroup_cpu_limit() {
    if (const auto v2 = read_file("/sys/fs/cgroup/cpu.max")) return cpu_limit_v2(*v2);
    for (const char* dir : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
        const auto quota = read_file((std::string(dir) + "/cpu.cfs_quota_us").c_str());
        const auto period = read_file((std::string(dir) + "/cpu.cfs_period_us").c_str());
        if (quota && period) return cpu_limit_v1(*quota, *period);
    }
    return 0;
}

}  // namespace sidelight::util
