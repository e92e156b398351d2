#pragma once
// Everything `sidelight run` checks before it binds a socket, done once for `run`, `check` and
// `routes` so that a file `check` passes is one `run` starts with:
//
//   - the file loads (YAML, every key and value; config/load.hpp);
//   - the route table builds, the OpenAPI file included (routes/routing.hpp);
//   - each SLO's route is a template of that table with the SLO's method;
//   - the audit and security rules compile against that table, and the `audit.jwt` key
//     (file or environment variable) is usable (rules/rule_set.hpp);
//   - so do the metric rules (rules/metric_rules.hpp);
//   - the routing value is built with the rules' capture plans: what run serves with;
//   - the same for each egress listener: its table, rules and routing;
//   - the checkpoint signing key (`audit.checkpoint.key_file`) is an Ed25519 private key;
//   - the audit store type is one this build has (sqlite);
//   - `proxy.listen`, `admin.listen` and every `egress[].listen` are IP addresses, as the
//     listeners need.
//
// What it does not do, because it depends on the machine and the moment rather than the file
// (run still does it, and fails with exit 2): bind the ports (one may be taken), resolve the
// upstream's name (DNS answers differ between a CI runner and the pod; an IP address needs no
// resolving), open or create the audit store file (it is created on the first run, on a volume
// that may not be mounted where check runs).
//
// The result is what `run` starts with and what a reload swaps in: one build per load.
// Thread-safety: none needed; called from main, and from the reload on the main thread.

#include <memory>
#include <string>

#include "config/config.hpp"
#include "routes/routing.hpp"
#include "rules/metric_rules.hpp"
#include "rules/rule_set.hpp"

namespace sidelight::agent {

struct preflight_result {
    std::shared_ptr<const config::config> cfg;
    // The proxy's audit and security rules, compiled against the routing's table; they hand
    // the records of egress listeners to those listeners' rule sets (rule_set::attach_egress).
    std::shared_ptr<const rules::rule_set> rules;
    std::shared_ptr<const routes::routing> routes;  // with the rules' capture plans
    std::vector<std::shared_ptr<const routes::routing>> egress_routes;  // [i]: cfg.egress[i]
    std::shared_ptr<const rules::metric_rules> metric_rules;            // every listener's
};

// Throws config::config_error with "<file>[:line:col]: <key.path>: <message>" (what main prints
// before exiting 2). `jwt_counts` (optional) counts the JWT refusals of the rules' verifier and
// must outlive them.
preflight_result preflight(const std::string& config_path, rules::jwt_stats* jwt_counts = nullptr);

}  // namespace sidelight::agent
