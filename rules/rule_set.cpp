#include "rules/rule_set.hpp"

#include <algorithm>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "audit/redact.hpp"
#include "config/load.hpp"
#include "routes/route_template.hpp"
#include "rules/value_source.hpp"

namespace sidelight::rules {
namespace {

using source_kind = config::value_source::kind;
constexpr std::size_t max_id_bytes = 256;

audit::time_point event_time(const routes::request_record& r) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(r.wall_start);
}

// The path with its query string, secrets redacted: what a security event says was asked for.
std::string described_path(const routes::request_record& r, const config::config& cfg) {
    std::string p = r.path;
    if (!r.query.empty()) p += "?" + audit::redact_query(r.query, cfg.audit.redact_keys);
    return audit::sanitize(p, 2048);
}

// What every rule event says about the request it came from.
template <class Event>
void fill_request_fields(Event& ev, const routes::request_record& r) {
    ev.created_at = event_time(r);
    ev.request_id = audit::sanitize(r.request_id, max_id_bytes);
    ev.method = std::string(routes::method_label(r.method_id));
    ev.route = std::string(r.route_label);
    ev.status = r.outcome_status();
    ev.source = audit::event_source::rule;
    ev.trace_id = r.trace.trace_hex();  // "" when tracing is off: stored NULL
}

}  // namespace

rule_set::rule_set(std::shared_ptr<const config::config> cfg,
                   std::shared_ptr<const routes::route_table> table, jwt_stats* jwt_counts,
                   std::size_t listener)
    : cfg_(std::move(cfg)), table_(std::move(table)), listener_(listener) {
    if (cfg_->audit.jwt.verifies())
        jwt_ = std::make_unique<const jwt_verifier>(cfg_->audit.jwt, jwt_counts);
    const std::string name = listener == 0 ? std::string() : cfg_->egress.at(listener - 1).name;
    const auto compile = [&](const config::rule_match& m, const config::source_mark& mark,
                             const std::string& key) {
        return rule_matcher::compile(m, *table_, mark, key);
    };
    const auto& audit_rules = cfg_->audit.rules;
    for (std::size_t i = 0; i < audit_rules.size(); ++i) {
        const auto& rule = audit_rules[i];
        if (rule.match.listener != name) continue;
        const bool needs_response = !rule.match.status.empty() ||
                                    rule.entity_id.from == source_kind::response_body ||
                                    rule.user.from == source_kind::response_body;
        const std::string key = "audit.rules[" + std::to_string(i) + "]";
        audit_.push_back(
            {&rule, compile(rule.match, rule.mark, key),
             needs_response ? routes::audit_phase::response : routes::audit_phase::request, i});
        const rule_matcher& m = audit_.back().match;
        refuse_unknown_path_param(rule.entity_id, *table_, m, key + ".entity_id");
        refuse_unknown_path_param(rule.user, *table_, m, key + ".user");
    }
    refuse_undecidable_strict_rules();
    const auto& security_rules = cfg_->security.rules;
    for (std::size_t i = 0; i < security_rules.size(); ++i) {
        const auto& rule = security_rules[i];
        if (rule.match.listener != name) continue;
        // Success is decided by the status: security events are always response-phase.
        const std::string key = "security.rules[" + std::to_string(i) + "]";
        security_.push_back(
            {&rule, compile(rule.match, rule.mark, key), routes::audit_phase::response});
        const rule_matcher& m = security_.back().match;
        refuse_unknown_path_param(rule.user, *table_, m, key + ".user");
    }
    build_buckets();
}

void rule_set::build_buckets() {
    const auto named = [](const auto& compiled) {
        std::vector<const std::vector<std::string>*> out;
        for (const auto& c : compiled) out.push_back(&c.match.routes);
        return out;
    };
    audit_buckets_ = route_buckets(*table_, named(audit_));
    security_buckets_ = route_buckets(*table_, named(security_));
    const auto names_a_route = [](const auto& c) { return !c.match.routes.empty(); };
    routes_ =
        route_lookup(table_, std::any_of(audit_.begin(), audit_.end(), names_a_route) ||
                                 std::any_of(security_.begin(), security_.end(), names_a_route));
}

// A strict rule that fires on the request holds it before the app answers, so first-match
// must be settled then. An earlier rule with a status condition that can match the same
// requests would settle it only once the app has answered: refuse that order at load time
// (file:line of the strict rule) rather than record an event the first-match rule would not.
void rule_set::refuse_undecidable_strict_rules() const {
    const auto overlap = [](const std::vector<std::string>& a, const std::vector<std::string>& b) {
        if (a.empty() || b.empty()) return true;
        return std::any_of(a.begin(), a.end(), [&](const auto& x) {
            return std::find(b.begin(), b.end(), x) != b.end();
        });
    };
    for (std::size_t i = 0; i < audit_.size(); ++i) {
        const auto& strict = audit_[i];
        if (strict.rule->mode != config::delivery_mode::strict ||
            strict.phase != routes::audit_phase::request)
            continue;
        for (std::size_t j = 0; j < i; ++j) {
            const auto& earlier = audit_[j];
            if (earlier.match.status.empty() ||
                !overlap(earlier.match.routes, strict.match.routes) ||
                (earlier.match.methods & strict.match.methods).empty())
                continue;
            throw config::config_error(
                strict.rule->mark, "audit.rules[" + std::to_string(strict.index) + "]",
                "strict rule '" + strict.rule->name +
                    "' is decided before the app answers, but the earlier rule '" +
                    earlier.rule->name + "' (line " + std::to_string(earlier.rule->mark.line) +
                    ") matches the same requests by status; move the strict rule first, or "
                    "give it a status condition");
        }
    }
}

// Per route, and per method within it: a rule asks something only of the requests it can
// match, so that a strict GET rule neither holds nor buffers a PUT on the same template.
std::vector<routes::capture_plan> rule_set::plans() const {
    if (audit_.empty() && security_.empty()) return {};
    const auto& entries = table_->entries();
    std::vector<routes::capture_plan> out(entries.size() + 1);
    for (std::size_t id = 0; id < out.size(); ++id) {
        auto& plan = out[id];
        plan.max_body_bytes = cfg_->audit.max_body_bytes;
        // The methods a request on this route can have (any, for unmatched and normalized).
        const auto route_methods =
            id == 0 ? routes::method_set::all() : entries[id - 1].request_methods();
        const auto rid = static_cast<routes::route_id>(id);
        audit_buckets_.first(rid, [&](std::uint32_t i) {
            const auto& c = audit_[i];
            const auto methods = c.match.methods & route_methods;
            if (methods.empty()) return false;
            if (c.rule->changes) plan.request_body |= methods;
            want(plan, c.rule->entity_id, methods);
            want(plan, c.rule->user, methods);
            if (c.rule->mode == config::delivery_mode::strict)
                (c.phase == routes::audit_phase::request ? plan.strict_request
                                                         : plan.strict_response) |= methods;
            return false;
        });
        security_buckets_.first(rid, [&](std::uint32_t i) {
            const auto& c = security_[i];
            const auto methods = c.match.methods & route_methods;
            if (methods.empty()) return false;
            want(plan, c.rule->user, methods);
            if (c.rule->mode == config::delivery_mode::strict) plan.strict_response |= methods;
            return false;
        });
    }
    return out;
}

template <class Compiled>
const Compiled* rule_set::first_match(const std::vector<Compiled>& rules,
                                      const route_buckets& buckets, routes::route_id route,
                                      const routes::request_record& r, bool status_known) const {
    const auto i = buckets.first(
        route, [&](std::uint32_t i) { return rules[i].match.matches(r, status_known); });
    return i < 0 ? nullptr : &rules[static_cast<std::size_t>(i)];
}
derived_event rule_set::make_audit(const compiled_audit& c, const routes::request_record& r,
                                   bool final) const {
    const jwt_reading jwt{jwt_.get(), final};
    audit::audit_event ev;
    const auto& keys = cfg_->audit.redact_keys;
    ev.user_id = audit::sanitize(extract(c.rule->user, r, keys, jwt), max_id_bytes);
    ev.action = c.rule->action;
    ev.entity_type = c.rule->entity_type;
    ev.entity_id = audit::sanitize(extract(c.rule->entity_id, r, keys, jwt), max_id_bytes);
    if (c.rule->changes)
        ev.changes =
            audit::changes_json(r.request_body, r.request_body_truncated, cfg_->audit.redact_keys);
    ev.ip_address = r.client_ip;
    ev.user_agent = audit::sanitize(r.user_agent, audit::max_user_agent_bytes);
    fill_request_fields(ev, r);
    return {std::move(ev), c.rule->mode == config::delivery_mode::strict, c.phase, false,
            c.rule->name};
}

derived_event rule_set::make_security(const compiled_security& c, const routes::request_record& r,
                                      bool final) const {
    audit::security_event ev;
    ev.event_type = c.rule->event_type;
    ev.user_id = audit::sanitize(
        extract(c.rule->user, r, cfg_->audit.redact_keys, {jwt_.get(), final}), max_id_bytes);
    ev.ip_address = r.client_ip;
    // A client that went away before the app answered (499) leaves the outcome unknown: not a
    // failed login (nor a success), and the detector does not count it. One that left after the
    // app answered is judged by the app's answer.
    const bool abandoned = r.abandoned();
    if (abandoned)
        ev.success = std::nullopt;
    else
        ev.success = in_ranges(r.outcome_status(), c.rule->success_status);
    boost::json::object details;
    details["owasp"] = c.rule->owasp;
    details["rule"] = c.rule->name;
    details["path"] = described_path(r, *cfg_);
    details["user_agent"] = audit::sanitize(r.user_agent, audit::max_user_agent_bytes);
    if (abandoned) details["outcome"] = "client_abort";
    ev.details = boost::json::serialize(details);
    fill_request_fields(ev, r);
    return {std::move(ev), c.rule->mode == config::delivery_mode::strict, c.phase, c.rule->login,
            c.rule->name};
}

std::vector<std::string> security_event_types(const config::config& cfg) {
    std::vector<std::string> out;
    for (const auto& r : cfg.security.rules) out.push_back(r.event_type);
    const auto& b = cfg.security.builtin;
    if (b.authn_fail) out.emplace_back("authn_fail");
    if (b.authz_fail) out.emplace_back("authz_fail");
    if (b.rate_limit) out.emplace_back("excess_rate_limit_exceeded");
    if (cfg.security.brute_force.enabled) {
        out.emplace_back("authn_login_fail_max");
        out.emplace_back("authn_login_successafterfail");
    }
    return out;
}

void rule_set::add_builtin(const routes::request_record& r, std::vector<derived_event>& out) const {
    // The proxy's own listener only: through an egress listener a 401, 403 or 429 is the outside
    // API's answer to the app (an expired key, its rate limit), not an attack from the app.
    if (listener_ != 0) return;
    const auto& b = cfg_->security.builtin;
    const int status = r.outcome_status();
    std::string type;
    if (status == 401 && b.authn_fail) type = "authn_fail";
    if (status == 403 && b.authz_fail) type = "authz_fail";
    if (status == 429 && b.rate_limit) type = "excess_rate_limit_exceeded";
    if (type.empty()) return;
    audit::security_event ev;
    ev.event_type = type;
    ev.ip_address = r.client_ip;
    ev.success = false;
    boost::json::object details;
    details["owasp"] = type;
    details["path"] = described_path(r, *cfg_);
    ev.details = boost::json::serialize(details);
    fill_request_fields(ev, r);
    out.push_back({std::move(ev), false, routes::audit_phase::response, false, "builtin:" + type});
}

bool rule_set::held(const derived_event& e, const routes::request_record& r) {
    if (!e.strict) return false;
    return e.phase == routes::audit_phase::request ? r.held_request : r.held_response;
}

void rule_set::evaluate(const routes::request_record& r, std::vector<derived_event>& out) const {
    if (r.listener != listener_) {  // the proxy's rule set hands egress records on
        if (listener_ == 0 && r.listener <= egress_.size())
            egress_[r.listener - 1]->evaluate(r, out);
        return;
    }
    const auto route = routes_.of(r);
    if (const auto* c = first_match(audit_, audit_buckets_, route, r, true)) {
        auto d = make_audit(*c, r, true);
        if (!held(d, r)) out.push_back(std::move(d));
    }
    if (const auto* c = first_match(security_, security_buckets_, route, r, true)) {
        auto d = make_security(*c, r, true);
        if (!held(d, r)) out.push_back(std::move(d));
    } else {
        add_builtin(r, out);
    }
}

void rule_set::evaluate_strict(const routes::request_record& r, routes::audit_phase phase,
                               std::vector<derived_event>& out) const {
    if (r.listener != listener_) {
        if (listener_ == 0 && r.listener <= egress_.size())
            egress_[r.listener - 1]->evaluate_strict(r, phase, out);
        return;
    }
    const bool status_known = phase == routes::audit_phase::response;
    const auto route = routes_.of(r);
    if (const auto* c = first_match(audit_, audit_buckets_, route, r, status_known);
        c && c->rule->mode == config::delivery_mode::strict && c->phase == phase)
        out.push_back(make_audit(*c, r, false));
    if (!status_known) return;
    if (const auto* c = first_match(security_, security_buckets_, route, r, true);
        c && c->rule->mode == config::delivery_mode::strict)
        out.push_back(make_security(*c, r, false));
}

}  // namespace sidelight::rules
