#pragma once
// A scenario's pass/fail conditions (`assert:` in loadtest.yaml) and their evaluation against
// the measured figures:
//   p50 p90 p95 p99 p999 max   "<500ms", "<=1s"       (latency; durations as in the config)
//                              "<=1.5x direct"        (a ratio: at most 1.5 times the same
//                                                      percentile of scenario `direct`)
//   errors                     0, "<5", "<=5", "<1%"  (a count, or a share of all requests)
//   rps                        ">=100", ">100"
// Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sidelight::loadtest {

enum class metric { p50, p90, p95, p99, p999, max, errors, rps };
enum class comparison { less, less_equal, greater, greater_equal };

struct assertion {
    metric what = metric::p95;
    comparison op = comparison::less;
    double bound = 0;  // µs for latencies, a factor for ratios, a count or a share (0..1), req/s
    bool percent = false;   // errors as a share of all requests
    std::string reference;  // a latency ratio: the scenario whose figure the bound multiplies
    std::string text;       // as written, for the report
};

// The figures an assertion is checked against.
struct observed {
    std::uint64_t latency_us[6] = {};  // p50 p90 p95 p99 p999 max
    std::uint64_t errors = 0;
    std::uint64_t attempts = 0;   // responses + transport errors
    std::uint64_t responses = 0;  // the latencies' count: with none, every latency reads 0
    double rps = 0;
};

struct verdict {
    double actual = 0;  // in the assertion's unit (ms for latencies, % for error shares)
    bool passed = false;
    std::string note;  // why it failed when `actual` cannot say ("no responses")
};

// `key` is the YAML key (p95, errors, ...); the error text says what form was expected.
std::optional<assertion> parse_assertion(std::string_view key, std::string_view value,
                                         std::string& error);
// A latency assertion over no responses fails (note "no responses"): an empty histogram reads
// 0 µs, which would pass any bound while the target refused every connection.
verdict check(const assertion& a, const observed& o);
// A ratio assertion: `o`'s percentile over `reference`'s (actual: the ratio). Either side without
// responses fails with actual 0 and a note saying which.
verdict check_ratio(const assertion& a, const observed& o, const observed& reference);
std::string_view metric_name(metric m);
// The bound in the assertion's display unit ("<500ms" keeps the ms; errors "<1%" keeps %; a
// ratio its factor).
double display_bound(const assertion& a);

}  // namespace sidelight::loadtest
