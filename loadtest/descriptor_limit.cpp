// Counting a plan's file descriptors against RLIMIT_NOFILE (descriptor_limit.hpp).
#include "loadtest/descriptor_limit.hpp"

#include <sys/resource.h>

#include <string>

#include "config/load.hpp"

namespace sidelight::loadtest {
namespace {

// The members of a parallel scenario; the scenario itself otherwise.
std::vector<const scenario*> loops_of(const plan& p, const scenario& s) {
    if (s.kind != scenario_kind::parallel) return {&s};
    std::vector<const scenario*> out;
    for (auto m : s.members) out.push_back(&p.scenarios[m]);
    return out;
}

}  // namespace

std::uint64_t descriptors_needed(const plan& p, const scenario& s) {
    std::uint64_t n = descriptor_headroom;
    for (const scenario* loop : loops_of(p, s)) n += loop->connections + 2 * loop->threads;
    return n;
}

void check_descriptor_limit(const plan& p, std::uint64_t limit) {
    for (const auto& s : p.scenarios) {
        const std::uint64_t needed = descriptors_needed(p, s);
        if (needed <= limit) continue;
        // A parallel scenario is named at its largest member's connections: the number to cut.
        const scenario* largest = nullptr;
        std::uint64_t connections = 0;
        for (const scenario* loop : loops_of(p, s)) {
            connections += loop->connections;
            if (!largest || loop->connections > largest->connections) largest = loop;
        }
        std::string what = std::to_string(connections) + " connections";
        if (s.kind == scenario_kind::parallel)
            what += " at once in parallel scenario \"" + s.name + "\"";
        throw config::config_error(
            largest->connections_mark, largest->connections_path,
            what + " need " + std::to_string(needed) + " file descriptors (with " +
                std::to_string(descriptor_headroom) + " to spare); the limit is " +
                std::to_string(limit) +
                " (RLIMIT_NOFILE, raised to its hard limit: raise that, e.g. ulimit -Hn, or use "
                "fewer connections)");
    }
}

std::uint64_t raise_descriptor_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return UINT64_MAX;  // unknown: not a reason to refuse
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(lim.rlim_cur);
}

}  // namespace sidelight::loadtest
