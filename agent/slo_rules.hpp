#pragma once
// `sidelight slo rules`: the Prometheus rules of the config's `slos` (docs/SLO.md).
//
// Per SLO, one rule group `sidelight-slo-<name>` holding
//   - recording rules `slo:sli_error:ratio_rate<w>` for w in 5m 30m 1h 2h 6h 1d 3d and the SLO's
//     window: the fraction of the route's requests that were bad (a 5xx for an availability SLO;
//     above the latency bucket for a latency SLO), summed over every instance;
//   - `slo:error_budget:remaining`: the share of the window's budget left;
//   - the four multi-window, multi-burn-rate alerts of the Google SRE workbook (burn_alerts()),
//     but those that can never fire: an alert whose threshold burn_rate x (1 - objective) is 1
//     or more (a 90% SLO's 14.4x page would need 144% bad requests) is left out, said in a
//     comment at the top of the file and by slo_rules_warnings().
// The series they read are the config's own: metrics.prefix on the names, metrics.const_labels
// and (with egress listeners) listener="ingress" in every selector, so that the rules of one
// service never read another's.
//
// Pure functions of the config, thread-safe. The config must have passed the preflight (the
// routes are then configured templates).

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sidelight::agent {

struct slo_rules_options {
    bool crd = false;  // wrap the groups in a monitoring.coreos.com/v1 PrometheusRule
    std::string runbook_base = "docs/SLO.md";  // runbook_url: <base>#<alert name, lower case>
};

// One alert kind: the error ratio above burn_rate x (1 - objective) over both windows.
struct burn_alert {
    std::string_view name;  // "SLOErrorBudgetBurn1h"
    double burn_rate;
    std::string_view long_window;
    std::string_view short_window;
    std::string_view severity;  // page | ticket
};
const std::array<burn_alert, 4>& burn_alerts();

// The rule file (`groups: ...`, what `promtool check rules` reads), or the PrometheusRule
// object with the same groups under `spec`.
std::string slo_rules(const config::config& cfg, const slo_rules_options& options = {});
// One line per alert left out because it can never fire, naming the SLO and the arithmetic.
std::vector<std::string> slo_rules_warnings(const config::config& cfg);

}  // namespace sidelight::agent
