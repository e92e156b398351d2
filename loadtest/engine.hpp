#pragma once
// The load engine: one thread's worth of HTTP/1.1 keep-alive connections to one target, on
// non-blocking sockets and one epoll instance, pipelining off. Three ways to pace requests:
//   closed loop  each connection sends the next request when the previous response is complete
//   open loop    request k of connection i is due at start + (k * connections + i) / rate; its
//                latency counts from that intended time, not from when it could be sent
//                (coordinated-omission correction), so a stall shows in the percentiles
//   cold_warm    one connection, `cold` then `warm` requests one after the other
// At the end of the duration (or once `cancel` is set: seen within 50 ms) no new request starts;
// those in flight finish or time out.
//
// Thread-safety: run_load() runs on the calling thread and touches nothing shared but `live`.

#include <atomic>
#include <chrono>
#include <cstdint>

#include "loadtest/plan.hpp"
#include "loadtest/result.hpp"

namespace sidelight::loadtest {

struct load_job {
    const request_spec* request = nullptr;
    target_address target;
    scenario_kind pacing = scenario_kind::closed;  // closed, open or cold_warm
    std::chrono::milliseconds duration{10'000};
    std::uint32_t connections = 10;
    double rate = 0;
    std::chrono::milliseconds timeout{10'000};
    std::uint32_t cold = 1, warm = 100;
    std::uint32_t thread_index = 0, thread_count = 1;  // of the scenario's threads ({{seq}})
    const std::atomic<bool>* cancel = nullptr;  // set: end now, as at the end of the duration
};

run_result run_load(const load_job& job, live_counters& live);

}  // namespace sidelight::loadtest
