#pragma once
// The rules at work on the traffic: turns each finished request into the audit and security
// events its rules derive (and what the brute-force detector sees in them), and holds the
// requests a strict rule may fire on until their events are committed (routes::audit_gate).
//
//  - record(): batch delivery; the events are queued without blocking (a full queue drops and
//    counts them: the writer reports the loss). Strict events of a phase already held are not
//    recorded twice (rule_set::evaluate).
//  - hold(): the strict events of a phase are committed before `done(true)`; `done(false)` when
//    one could not be committed within audit.strict_timeout (the proxy then answers 503).
//
// The rule set in force is swapped whole by install() (a reload); each worker keeps its own copy
// and notices a new one with one atomic load per request.
// Thread-safety: record() and hold() from every worker thread; install() from any thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/writer.hpp"
#include "config/config.hpp"
#include "routes/audit_gate.hpp"
#include "routes/request_record.hpp"
#include "rules/brute_force.hpp"
#include "rules/rule_set.hpp"
#include "util/published.hpp"

namespace sidelight::rules {

class audit_recorder : public routes::audit_gate {
  public:
    // `writer` must outlive the recorder.
    audit_recorder(audit::writer& writer, const config::config& cfg);

    // Makes `rules` the rule set in force.
    void install(std::shared_ptr<const rule_set> rules);
    // The rule set in force on this thread (null before the first install).
    const std::shared_ptr<const rule_set>& current() const;

    void record(const routes::request_record& r);
    void hold(const routes::request_record& r, routes::audit_phase phase,
              std::function<void(bool ok)> done) override;

    const brute_force_detector& detector() const { return detector_; }

  private:
    std::vector<audit::event> detect(const derived_event& d);

    audit::writer& writer_;
    std::chrono::milliseconds strict_timeout_;
    brute_force_detector detector_;
    util::published<rule_set> rules_{nullptr};
};

}  // namespace sidelight::rules
