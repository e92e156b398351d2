#pragma once
// The OpenMetrics 1.0 text exposition (`Accept: application/openmetrics-text`), with exemplars:
// the classic text format stays the default (metrics.hpp). Differences a reader sees:
//   - a counter family named `x_total` is declared `# TYPE x counter` and its samples keep
//     their name `x_total`; a counter whose name does not end in `_total` (a user's metric rule
//     may name one so) is declared `unknown`, so that no sample changes its name between the
//     two formats;
//   - a histogram bucket may carry an exemplar: `... # {trace_id="<hex>"} <value> <unix time>`;
//   - the exposition ends with `# EOF`.
// Pure function; thread-safe.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "util/trace_context.hpp"

namespace sidelight::agent {

struct exemplar {
    util::trace_id trace{};  // written as 32 hex digits
    double value = 0;        // the observation
    double timestamp = 0;    // Unix seconds
};

// The exemplars of one histogram series, by bucket (the +Inf bucket last); empty when none.
using exemplar_lookup = std::function<std::vector<std::optional<exemplar>>(
    const prometheus::MetricFamily& family, const prometheus::ClientMetric& metric)>;

std::string serialize_openmetrics(const std::vector<prometheus::MetricFamily>& families,
                                  const exemplar_lookup& exemplars);

inline constexpr const char* openmetrics_content_type =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

}  // namespace sidelight::agent
