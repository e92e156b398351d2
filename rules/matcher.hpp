#pragma once
// What the rules of every kind share: which requests a rule matches (its routes, methods and
// statuses), what reading a value source asks the proxy to capture, and which route id of a
// rule set's own table a finished request has. The audit and security rules (rule_set.hpp)
// and the metric rules (metric_rules.hpp) compile their `match` and read their sources through
// these, so that one rule language means one thing everywhere.
// Immutable after construction; thread-safe.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "routes/capture.hpp"
#include "routes/method.hpp"
#include "routes/request_record.hpp"
#include "routes/route_table.hpp"

namespace sidelight::rules {

bool in_ranges(int status, const std::vector<config::status_range>& ranges);

// A rule's `match`, compiled against a route table.
struct rule_matcher {
    std::vector<std::string> routes;  // labels; empty: any route
    routes::method_set methods;       // every method when the rule names none
    std::vector<config::status_range> status;

    // Throws config::config_error at `mark` (key path `key`.match.routes[i]) when a route is
    // not in `table`.
    static rule_matcher compile(const config::rule_match& m, const routes::route_table& table,
                                const config::source_mark& mark, const std::string& key);
    bool matches(const routes::request_record& r, bool status_known) const;
};

// What reading `s` asks of the requests with `methods` on a route.
// `unique`: a request carrying the header twice is refused (audit rules); else the first value
// is read (metric rules: a metric must never change what the app gets).
void want(routes::capture_plan& plan, const config::value_source& s, routes::method_set methods,
          bool unique = true);

// A `path:<name>` source of a rule that can match no route having that parameter: refused at
// load time, at the source's position (config_error), instead of reading "" forever.
void refuse_unknown_path_param(const config::value_source& s, const routes::route_table& table,
                               const rule_matcher& m, const std::string& key);

// The route id a finished request has in one table. A record labelled by this table carries the
// table's own label string (the same address); one labelled by another table (a request in
// flight across a reload) is looked up by label. Normalized and unmatched paths are id 0.
class route_lookup {
  public:
    route_lookup() = default;
    // `by_label`: whether records of another table may need the label lookup (false when no
    // rule names a route: every request is then id 0 or looked up by pointer only).
    route_lookup(std::shared_ptr<const routes::route_table> table, bool by_label);
    routes::route_id of(const routes::request_record& r) const;
    const routes::route_table& table() const { return *table_; }

  private:
    std::shared_ptr<const routes::route_table> table_;
    std::unordered_map<std::string_view, routes::route_id> ids_by_label_;
};

}  // namespace sidelight::rules
