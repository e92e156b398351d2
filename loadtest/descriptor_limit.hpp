#pragma once
// The file descriptors a plan needs, checked before it runs. Every connection is a socket; with
// the usual soft RLIMIT_NOFILE of 1024, `connections: 2000` used to get about 1000 sockets and
// count every failed socket() (EMFILE) as a connect error, retried every 10 ms. At start the
// soft limit is raised to the hard one; a plan that still needs more is refused (exit 2) at the
// `connections` of the scenario that needs the most, with the numbers.
//
// Thread-safety: raise_descriptor_limit() changes the process's limit: call it before the load
// threads start. The rest are pure functions.

#include <cstdint>

#include "loadtest/plan.hpp"

namespace sidelight::loadtest {

// Descriptors besides the connections: stdio, the --json and --markdown files, a scrape, each
// thread's epoll and timer (counted apart), and what the C library opens.
constexpr std::uint64_t descriptor_headroom = 64;

// The descriptors scenario `s` holds at once: its connections (a parallel scenario's members'
// together), two per thread, and the headroom.
std::uint64_t descriptors_needed(const plan& p, const scenario& s);

// Throws config::config_error at the `connections` key of the first scenario that needs more
// than `limit` descriptors ("... need 2066 file descriptors; the limit is 1024 ...").
void check_descriptor_limit(const plan& p, std::uint64_t limit);

// Raises the soft RLIMIT_NOFILE to the hard limit; the soft limit in effect after.
std::uint64_t raise_descriptor_limit();

}  // namespace sidelight::loadtest
