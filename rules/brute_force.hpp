#pragma once
// The brute-force detector: sliding windows over failed login events, per client IP, per user
// and per (user, IP).
//  - `threshold` failures for a key within `window` -> one `authn_login_fail_max` event for that
//    key (not again until the window has passed since it fired);
//  - a success after at least `threshold` failures in the window ->
//    `authn_login_successafterfail` (per user, or per IP when the user is unknown).
// Events have source `detector`; details carry the key kind, key, count, window and times.
// Memory is bounded: at most `max_keys` keys are tracked (stale ones go first, then the oldest).
// Thread-safety: observe() may be called from any thread (one mutex).

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/event.hpp"
#include "config/config.hpp"

namespace sidelight::rules {

class brute_force_detector {
  public:
    static constexpr std::size_t max_keys = 100000;

    explicit brute_force_detector(const config::brute_force_config& cfg);

    // One login attempt; detections are appended to `out`.
    void observe(const audit::security_event& attempt, std::vector<audit::event>& out);

    std::uint64_t fail_max_count() const { return fail_max_.load(); }
    std::uint64_t success_after_fail_count() const { return success_after_fail_.load(); }

  private:
    struct window {
        std::deque<audit::time_point> failures;
        audit::time_point quiet_until{};  // fail_max already raised for this window
        audit::time_point last{};
    };
    void expire(window& w, audit::time_point now) const;
    void make_room(audit::time_point now);

    config::brute_force_config cfg_;
    std::mutex mutex_;
    std::unordered_map<std::string, window> windows_;
    std::atomic<std::uint64_t> fail_max_{0};
    std::atomic<std::uint64_t> success_after_fail_{0};
};

}  // namespace sidelight::rules
