#pragma once
// The audit and security rules of one config, compiled: which finished requests become
// `audit_log` and `security_audit` rows, and what each route must capture for them.
//
// Rules are ordered and the first match wins (one audit event and one security event per
// request at most). A rule matches on route templates, methods and status codes/ranges/classes.
// The rules are compiled against one route table and bucketed by its route ids
// (route_buckets.hpp): a request looks only at the rules of its route. The routing value the
// proxy labels requests with is built from the same table, with plans() as its capture plans;
// a request labelled by another table (in flight across a reload) is looked up by its label.
// Without a matching security rule, the built-ins turn 401 into `authn_fail`, 403 into `authz_fail`
// and 429 into `excess_rate_limit_exceeded` (OWASP logging vocabulary).
//
// A strict rule decided by the request alone (no `status`, no `response:` source) is held in
// the request phase; any other strict rule in the response phase (routes/audit_gate.hpp).
// With a key under `audit.jwt`, `jwt:` sources read only tokens that verify (jwt_verifier.hpp);
// refusals are counted in the jwt_stats given, once per request, by evaluate().
//
// Immutable after construction; evaluate() may run on every worker thread at once.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/event.hpp"
#include "config/config.hpp"
#include "routes/audit_gate.hpp"
#include "routes/capture.hpp"
#include "routes/request_record.hpp"
#include "routes/route_table.hpp"
#include "rules/jwt_verifier.hpp"
#include "rules/matcher.hpp"
#include "rules/route_buckets.hpp"

namespace sidelight::rules {

struct derived_event {
    audit::event ev;
    bool strict = false;
    routes::audit_phase phase = routes::audit_phase::response;  // when a strict one is held
    bool login = false;  // a login attempt, for the brute-force detector
    std::string rule;    // the rule's name ("builtin:authn_fail" for the built-ins)
};

// The security event types `cfg` can produce from the traffic: its security rules' event_type,
// the enabled built-ins and, with brute_force on, the detector's two (for
// sidelight_security_events_total, which shows these from zero).
std::vector<std::string> security_event_types(const config::config& cfg);

class rule_set {
  public:
    // The rules of one HTTP listener: `listener` 0 is the proxy (rules without `listener`), i
    // the egress listener cfg.egress[i - 1] (rules with its name); `table` is that listener's.
    // Throws config::config_error when a rule names a route template the table does not have,
    // or the `audit.jwt` key cannot be used. `jwt_counts` (optional) must outlive the rule set.
    rule_set(std::shared_ptr<const config::config> cfg,
             std::shared_ptr<const routes::route_table> table, jwt_stats* jwt_counts = nullptr,
             std::size_t listener = 0);

    // One plan per route id of the table (index 0: unmatched and normalized paths), saying per
    // method what the rules that can match such a request need captured or held; empty when
    // no rule asks anything (routes::routing then gives every route the empty plan).
    std::vector<routes::capture_plan> plans() const;

    // The events of a finished request. Strict events of a phase the session already held
    // (record.held_request / held_response) are left out: they were committed then.
    void evaluate(const routes::request_record& r, std::vector<derived_event>& out) const;

    // The strict events to commit before `phase` goes on (request phase: status unknown).
    void evaluate_strict(const routes::request_record& r, routes::audit_phase phase,
                         std::vector<derived_event>& out) const;

    // The rule sets of the egress listeners ([i]: egress[i]), which evaluate() and
    // evaluate_strict() hand the records of those listeners to. Called once, before publishing.
    void attach_egress(std::vector<std::shared_ptr<const rule_set>> egress) {
        egress_ = std::move(egress);
    }

    // audit.redact_keys of the config the rules came from.
    const std::vector<std::string>& redact_keys() const { return cfg_->audit.redact_keys; }

  private:
    struct compiled_audit {
        const config::audit_rule* rule;
        rule_matcher match;
        routes::audit_phase phase;
        std::size_t index;  // in audit.rules, for messages
    };
    void refuse_undecidable_strict_rules() const;
    struct compiled_security {
        const config::security_rule* rule;
        rule_matcher match;
        routes::audit_phase phase;
    };

    void build_buckets();
    // The first rule of `route`'s bucket that matches `r`.
    template <class Compiled>
    const Compiled* first_match(const std::vector<Compiled>& rules, const route_buckets& buckets,
                                routes::route_id route, const routes::request_record& r,
                                bool status_known) const;
    // `final`: the one evaluation of a finished request (evaluate), which counts JWT refusals.
    derived_event make_audit(const compiled_audit& c, const routes::request_record& r,
                             bool final) const;
    derived_event make_security(const compiled_security& c, const routes::request_record& r,
                                bool final) const;
    void add_builtin(const routes::request_record& r, std::vector<derived_event>& out) const;
    static bool held(const derived_event& e, const routes::request_record& r);

    std::shared_ptr<const config::config> cfg_;
    std::shared_ptr<const routes::route_table> table_;
    std::vector<compiled_audit> audit_;
    std::vector<compiled_security> security_;
    route_buckets audit_buckets_;
    route_buckets security_buckets_;
    route_lookup routes_;                      // the id a record's route has in table_
    std::unique_ptr<const jwt_verifier> jwt_;  // null: no key, `jwt:` tokens are only decoded
    std::size_t listener_;  // whose records these rules judge (request_record::listener)
    std::vector<std::shared_ptr<const rule_set>> egress_;
};

}  // namespace sidelight::rules
