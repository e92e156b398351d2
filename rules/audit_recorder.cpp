#include "rules/audit_recorder.hpp"

#include <atomic>

namespace sidelight::rules {

audit_recorder::audit_recorder(audit::writer& writer, const config::config& cfg)
    : writer_(writer),
      strict_timeout_(cfg.audit.strict_timeout),
      detector_(cfg.security.brute_force) {}

void audit_recorder::install(std::shared_ptr<const rule_set> rules) {
    rules_.publish(std::move(rules));
}

// Cached per thread: one atomic load per request, the lock of `published` only after a reload.
const std::shared_ptr<const rule_set>& audit_recorder::current() const {
    thread_local std::shared_ptr<const rule_set> rules;
    thread_local std::uint64_t generation = 0;
    rules_.refresh(rules, generation);
    return rules;
}

// A login attempt feeds the brute-force detector; what it detects is recorded (batch mode)
// after the attempt itself.
std::vector<audit::event> audit_recorder::detect(const derived_event& d) {
    std::vector<audit::event> detections;
    if (const auto* attempt = std::get_if<audit::security_event>(&d.ev); attempt && d.login)
        detector_.observe(*attempt, detections);
    return detections;
}

void audit_recorder::record(const routes::request_record& r) {
    thread_local std::vector<derived_event> events;
    const auto& rules = current();
    if (!rules) return;
    events.clear();
    rules->evaluate(r, events);
    for (auto& d : events) {
        auto detections = detect(d);
        // Batch mode never blocks: a full queue drops and counts (the writer reports the loss).
        writer_.try_submit(std::move(d.ev));
        for (auto& ev : detections) writer_.try_submit(std::move(ev));
    }
}

void audit_recorder::hold(const routes::request_record& r, routes::audit_phase phase,
                          std::function<void(bool ok)> done) {
    thread_local std::vector<derived_event> events;
    events.clear();
    if (const auto& rules = current()) rules->evaluate_strict(r, phase, events);
    if (events.empty()) {
        done(true);
        return;
    }
    // Counts down this hold's commits; the last one answers the gate.
    struct pending {
        std::atomic<std::size_t> left;
        std::atomic<bool> ok{true};
        std::function<void(bool)> done;
    };
    auto p = std::make_shared<pending>();
    p->left = events.size();
    p->done = std::move(done);
    for (auto& d : events) {
        auto detections = detect(d);  // a strict login attempt still feeds the detector
        writer_.submit_async(std::move(d.ev), strict_timeout_, [p](audit::commit_result res) {
            if (!res.ok) p->ok = false;
            if (p->left.fetch_sub(1) == 1) p->done(p->ok.load());
        });
        for (auto& ev : detections) writer_.try_submit(std::move(ev));
    }
}

}  // namespace sidelight::rules
