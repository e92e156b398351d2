#pragma once
// Security events committed, by event type and outcome: sidelight_security_events_total
// {event_type, success}. The writer thread counts each new security_audit row; the agent reads a
// snapshot at scrape time.
//
// The label is bounded. The types the config can produce (its security rules, the built-ins,
// the brute-force detector, the writer's own audit_events_dropped) are admitted up front and
// shown from zero, so the first one of a kind is a rise a rate() sees. Another type (one posted
// to /v1/events) gets its own series while fewer than max_types are known and it is a plain name
// (letters, digits, `_ . : -`, at most 64 bytes); any other is counted as `other`.
// Thread-safety: every member from any thread (one mutex, taken once per security event).

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidelight::audit {

class security_counts {
  public:
    static constexpr std::size_t max_types = 64;
    static constexpr std::string_view other = "other";

    // By outcome: [0] success=false, [1] success=true, [2] success unknown (client went away).
    using outcomes = std::array<std::uint64_t, 3>;
    struct row {
        std::string event_type;
        outcomes counts{};
    };

    // Makes these types known (shown from zero); past max_types the rest are left out.
    void admit(const std::vector<std::string>& types);
    // One committed security event.
    void count(std::string_view event_type, std::optional<bool> success);
    // Every known type, by name; `other` last when anything was counted as other.
    std::vector<row> snapshot() const;

  private:
    std::map<std::string, outcomes, std::less<>>::iterator find_or_admit(std::string_view type);

    mutable std::mutex mutex_;
    std::map<std::string, outcomes, std::less<>> counts_;
    outcomes other_{};
};

std::string_view success_label(std::size_t outcome);

}  // namespace sidelight::audit
