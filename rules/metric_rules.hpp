#pragma once
// The metric rules of one config (`metrics.rules`), compiled: which finished requests a
// business metric counts or observes, with which label values, and what the rules need the
// proxy to capture. The Prometheus side (families, series, the skipped counter) is the agent's
// (agent/business_metrics.hpp); this is the pure part: matching, reading and classifying.
//
// Every rule that matches a request records (unlike audit rules, there is no first match).
// A rule matches like an audit rule (rules/matcher.hpp): its listener, route templates,
// methods and statuses; it reads values through the same sources (rules/value_source.hpp).
// Each label maps what it read into a closed set of label values (config::metric_label), so
// an observation is a rule, one index per label into that set, and a number. A value that is
// missing or not a number, or a label value with no place in the set, skips the observation
// with a reason: never a guess.
// Immutable after construction; evaluate() may run on every worker thread at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.hpp"
#include "routes/capture.hpp"
#include "routes/request_record.hpp"
#include "routes/route_table.hpp"
#include "rules/jwt_verifier.hpp"
#include "rules/matcher.hpp"
#include "rules/route_buckets.hpp"

namespace sidelight::rules {

// Why a matching request was not recorded (the `reason` label of
// sidelight_metric_rule_skipped_total). A closed set.
enum class metric_skip : std::uint8_t {
    missing_value,   // the value source read nothing
    not_numeric,     // ... or something that is not a finite number
    negative_value,  // a counter cannot go down
    unmapped_label,  // a `map` label read a value it does not map, and has no `other`
    body_truncated,  // the body holding the value was longer than audit.max_body_bytes
};
inline constexpr std::size_t metric_skip_count = 5;
std::string_view skip_label(metric_skip s);

// A label of a compiled rule: its name and its closed set of values.
struct metric_label_set {
    std::string name;
    std::vector<std::string> values;  // what the label can be, `other` included
    std::unordered_map<std::string, std::uint16_t> index;  // read value -> index in values
    std::optional<std::uint16_t> other;                    // index of `other`, when there is one
};

struct compiled_metric {
    const config::metric_rule* rule;
    std::size_t listener;  // 0: the proxy; i: egress[i - 1]
    rule_matcher match;
    std::vector<metric_label_set> labels;
    std::vector<double> buckets;  // histogram: the rule's, or metrics.buckets
    // Where a body source's value is found among the pointers read from that body in one pass
    // (metric_rules::body_read): its slot, or -1 (not a body source).
    int value_slot = -1;
    std::vector<int> label_slots;
};

// One evaluation's outcome for one rule: label indexes and the number, or why not.
struct metric_observation {
    const compiled_metric* metric;
    std::uint64_t key = 0;               // the label indexes packed: one series per key
    std::vector<std::uint16_t> indexes;  // per label (reused storage)
    double value = 1;
    std::optional<metric_skip> skipped;
};

class metric_rules {
  public:
    // `tables[i]`: the route table of listener i (0: the proxy, i: egress[i - 1]). Throws
    // config::config_error when a rule names a route its listener's table does not have, or a
    // `path:` parameter no route it can match has.
    metric_rules(std::shared_ptr<const config::config> cfg,
                 std::vector<std::shared_ptr<const routes::route_table>> tables);

    const std::vector<compiled_metric>& rules() const { return rules_; }
    bool empty() const { return rules_.empty(); }

    // Adds what the rules of `listener` read to its capture plans (one per route id of its
    // table; created when `plans` is empty and a rule reads anything).
    void add_plans(std::size_t listener, std::vector<routes::capture_plan>& plans) const;

    // Calls f(const metric_observation&) for every rule that matches `r`, skipped ones included.
    template <class F>
    void evaluate(const routes::request_record& r, F&& f) const {
        if (r.listener >= listeners_.size()) return;
        const auto& l = listeners_[r.listener];
        const auto route = l.routes.of(r);
        thread_local metric_observation o;
        forget_bodies();
        l.buckets.first(route, [&](std::uint32_t i) {
            const auto& m = rules_[l.rules[i]];
            if (m.match.matches(r, true)) {
                observe(m, r, o);
                f(static_cast<const metric_observation&>(o));
            }
            return false;
        });
    }

    // POST /v1/metrics: a rule by name with label values given as they will be exported, and
    // the increment (counter) or observation (histogram). Fills `o`, or returns what is wrong.
    std::optional<std::string> resolve(std::string_view name, const boost::json::object& labels,
                                       metric_observation& o) const;

  private:
    struct listener_rules {
        route_lookup routes;
        std::vector<std::size_t> rules;  // indexes into rules_
        route_buckets buckets;
    };
    void observe(const compiled_metric& m, const routes::request_record& r,
                 metric_observation& o) const;
    // A value source's text: body sources through body_read, the others through extract().
    std::string read(const config::value_source& s, int slot,
                     const routes::request_record& r) const;
    // The value at `slot` of the request's (0) or response's (1) body. Each body is parsed once
    // per request, for every pointer the rules read from it (not once per pointer).
    const std::string& body_read(int body, int slot, const routes::request_record& r) const;
    int slot_of(const config::value_source& s);
    static void forget_bodies();  // a new request: the bodies read before are not its own

    std::shared_ptr<const config::config> cfg_;
    std::vector<compiled_metric> rules_;
    std::vector<listener_rules> listeners_;
    std::vector<std::string> pointers_[2];     // read from the request's, the response's body
    std::unique_ptr<const jwt_verifier> jwt_;  // null: no key, `jwt:` tokens are only decoded
};

// The number `text` spells (a JSON number, or a numeric string's content); none unless finite
// and within ±max_metric_value (10^15: doubles count exactly to 9·10^15).
inline constexpr double max_metric_value = 1e15;
std::optional<double> parse_number(std::string_view text);

}  // namespace sidelight::rules
