#pragma once
// The CI summary `sidelight report` writes (Markdown, for a job's step summary): the verdict on
// the load test's budgets, per endpoint P50/P95 against the P95 target, per scenario req/s,
// requests, errors by kind and every assertion, cold against warm, the test counts per suite of
// each JUnit file and, with --metrics, sidelight's own per-route count and P95. Everything it
// shows comes from its input, the timestamp included, so a fixed input gives fixed bytes (the
// golden test in tests/data/report/). Pure functions; thread-safe.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "loadtest/junit.hpp"
#include "loadtest/metrics_compare.hpp"
#include "loadtest/saved_run.hpp"

namespace sidelight::loadtest {

// A Markdown table cell: `|` escaped (it would end the cell, in a code span too) and line breaks
// as spaces (they would end the row). Also for report.cpp's --markdown table.
std::string markdown_cell(const std::string& text);

struct junit_file {
    std::string name;  // as shown: the file's base name
    std::vector<junit_suite> suites;
};

// sidelight's buckets are coarse (10, 50, 100 ms ... by default): the P95 is shown as the
// bucket that holds it, not interpolated inside it (which would read 9.5 ms for 0.3 ms requests).
struct metrics_row {
    std::string route;
    double requests = 0;
    bool p95_known = false;   // a bucket counted the requests
    double p95_above_ms = 0;  // the P95 lies in (above, up_to]
    double p95_up_to_ms = 0;  // infinity: past the last bound
};

struct summary_input {
    std::string loadtest_name;  // the JSON file's base name
    saved_run run;
    std::vector<junit_file> junit;
    std::optional<std::vector<metrics_row>> metrics;  // with --metrics
    std::time_t now = 0;
    std::string version;
};

// Per route with requests since sidelight started: the count and the bucket of its P95, the
// busiest first (at most `limit` rows).
std::vector<metrics_row> metrics_rows(const route_figures& figures, std::size_t limit = 20);
// Every assertion of every scenario holds, and the run was complete.
bool budgets_hold(const saved_run& run);
std::string format_summary(const summary_input& in);

}  // namespace sidelight::loadtest
