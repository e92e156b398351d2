#pragma once
// What the proxy needs to label a request: the compiled route table, the capture plan of each
// route id (what the rules of that route need captured or held), and, with
// `routes.unmatched: normalize`, the normalizer for paths no template matches.
//
// Built once per config load, whole: the table first (build_table), then the rules compiled
// against it give the plans (rules/rule_set.hpp), then the routing value; it is immutable after
// that and published to the workers (util/published.hpp); a reload builds a new one.
// Thread-safety: every member may be called concurrently.

#include <memory>
#include <string_view>

#include "config/config.hpp"
#include "routes/capture.hpp"
#include "routes/method.hpp"
#include "routes/route_normalizer.hpp"
#include "routes/route_table.hpp"

namespace sidelight::routes {

class routing {
  public:
    // The route table of `cfg` (its templates and OpenAPI file). Throws config::config_error
    // with the file and line of the offending entry.
    static std::shared_ptr<const route_table> build_table(const config::config& cfg);

    // The routes of egress listener `i` (cfg.egress[i]): its entries, matched as the proxy's
    // (case_sensitive), unmatched paths labelled; and their table.
    static config::routes_config egress_routes(const config::config& cfg, std::size_t i);
    static std::shared_ptr<const route_table> build_egress_table(const config::config& cfg,
                                                                 std::size_t i);

    // `plans`: one per route id of `table` ([0]: unmatched and normalized paths), or empty when
    // no rule asks anything of any route.
    routing(const config::config& cfg, std::shared_ptr<const route_table> table,
            std::vector<capture_plan> plans = {});
    routing(const config::routes_config& routes, std::shared_ptr<const route_table> table,
            std::vector<capture_plan> plans = {});
    // The table of `cfg`, no plans (no audit rules).
    explicit routing(const config::config& cfg) : routing(cfg, build_table(cfg)) {}

    // The route id of a request: a configured route, a normalized template, or unmatched (0).
    route_id resolve(http_method method, std::string_view target,
                     param_list* params = nullptr) const;
    std::string_view label(route_id id) const;
    // True when `id` is one of the configured (or imported) templates.
    bool configured(route_id id) const { return id != unmatched_route && id <= table_->size(); }
    const route_table& table() const { return *table_; }
    const std::shared_ptr<const route_table>& shared_table() const { return table_; }
    // True with `routes.unmatched: normalize`.
    bool normalizes() const { return normalizer_ != nullptr; }

    // What requests on a route must capture for the audit rules. Normalized and unmatched
    // routes share the plan of `unmatched` (id 0).
    const capture_plan& plan(route_id id) const {
        static const capture_plan nothing;
        if (plans_.empty()) return nothing;
        return plans_[id < plans_.size() ? id : unmatched_route];
    }

  private:
    std::shared_ptr<const route_table> table_;
    std::unique_ptr<unmatched_normalizer> normalizer_;  // null unless `unmatched: normalize`
    std::vector<capture_plan> plans_;  // by route id, [0] for unmatched; empty: none asks
};

// `sidelight routes`: describe(table()), followed with `unmatched: normalize` by a line saying
// so; describe_match(table(), ...), except that with `normalize` a path no template matches
// shows the template it is normalized to, e.g. "GET /users/42 -> /users/{id} (normalized)".
// (The normalizer's cap, routes.max_routes, is not applied: it depends on the traffic seen.)
std::string describe(const routing& routes);
std::string describe_match(const routing& routes, http_method method, std::string_view target);

}  // namespace sidelight::routes
