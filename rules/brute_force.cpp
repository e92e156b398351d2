#include "rules/brute_force.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace sidelight::rules {
namespace {

audit::security_event detection(const audit::security_event& attempt, std::string type,
                                std::string kind, const std::string& key, std::size_t count,
                                std::chrono::milliseconds window, audit::time_point first) {
    audit::security_event ev;
    ev.event_type = std::move(type);
    ev.user_id = attempt.user_id;
    ev.ip_address = attempt.ip_address;
    ev.success = false;
    ev.created_at = attempt.created_at;
    ev.request_id = attempt.request_id;
    ev.method = attempt.method;
    ev.route = attempt.route;
    ev.status = attempt.status;
    ev.trace_id = attempt.trace_id;  // the request that tipped the detector
    ev.source = audit::event_source::detector;
    boost::json::object d;
    d["key_kind"] = kind;
    d["key"] = key.substr(key.find(':') + 1);
    d["count"] = count;
    d["window_s"] = std::chrono::duration_cast<std::chrono::seconds>(window).count();
    d["first"] = audit::format_time(first);
    d["last"] = audit::format_time(attempt.created_at);
    ev.details = boost::json::serialize(d);
    return ev;
}

}  // namespace

brute_force_detector::brute_force_detector(const config::brute_force_config& cfg) : cfg_(cfg) {}

void brute_force_detector::expire(window& w, audit::time_point now) const {
    while (!w.failures.empty() && now - w.failures.front() > cfg_.window) w.failures.pop_front();
}

void brute_force_detector::make_room(audit::time_point now) {
    if (windows_.size() < max_keys) return;
    std::erase_if(windows_, [&](const auto& kv) { return now - kv.second.last > cfg_.window; });
    while (windows_.size() >= max_keys) windows_.erase(windows_.begin());
}

void brute_force_detector::observe(const audit::security_event& attempt,
                                   std::vector<audit::event>& out) {
    // An attempt whose outcome is unknown (the client went away first) is no evidence.
    if (!cfg_.enabled || cfg_.threshold == 0 || !attempt.success.has_value()) return;
    const auto now = attempt.created_at;
    std::vector<std::pair<std::string, std::string>> keys;  // (kind, key)
    if (!attempt.ip_address.empty()) keys.emplace_back("ip", "ip:" + attempt.ip_address);
    if (!attempt.user_id.empty()) keys.emplace_back("user", "user:" + attempt.user_id);
    if (!attempt.user_id.empty() && !attempt.ip_address.empty())
        keys.emplace_back("user_ip", "user_ip:" + attempt.user_id + "|" + attempt.ip_address);
    std::lock_guard lock(mutex_);
    make_room(now);
    bool success_reported = false;
    for (const auto& [kind, key] : keys) {
        auto& w = windows_[key];
        w.last = now;
        expire(w, now);
        if (*attempt.success) {
            // Per user when known (else per IP): one report for one success.
            const bool reportable = kind == (attempt.user_id.empty() ? "ip" : "user");
            if (reportable && !success_reported && w.failures.size() >= cfg_.threshold) {
                out.push_back(detection(attempt, "authn_login_successafterfail", kind, key,
                                        w.failures.size(), cfg_.window, w.failures.front()));
                success_after_fail_.fetch_add(1);
                success_reported = true;
            }
            w.failures.clear();
            continue;
        }
        w.failures.push_back(now);
        if (w.failures.size() > 4 * cfg_.threshold) w.failures.pop_front();
        if (w.failures.size() >= cfg_.threshold && now >= w.quiet_until) {
            out.push_back(detection(attempt, "authn_login_fail_max", kind, key, w.failures.size(),
                                    cfg_.window, w.failures.front()));
            fail_max_.fetch_add(1);
            w.quiet_until = now + cfg_.window;
        }
    }
}

}  // namespace sidelight::rules
