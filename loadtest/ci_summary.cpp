// Writing the CI summary as Markdown (ci_summary.hpp).
#include "loadtest/ci_summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace sidelight::loadtest {
namespace {

std::string format(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

std::string ms(std::uint64_t us) {
    return format("%.2f ms", static_cast<double>(us) / 1000.0);
}

std::string row(const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const auto& c : cells) out += " " + c + " |";
    return out + "\n";
}

const char* mark(bool passed) {
    return passed ? "✅" : "❌";
}

// The measured figure in the assertion's unit.
std::string actual_text(const saved_assertion& a) {
    if (!a.note.empty()) return markdown_cell(a.note);
    if (!a.reference.empty()) return format("%.2f×", a.actual);
    if (a.metric == "rps") return format("%.1f req/s", a.actual);
    if (a.metric == "errors")
        return a.expected.find('%') != std::string::npos ? format("%.2f%%", a.actual)
                                                         : format("%.0f", a.actual);
    return format("%.2f ms", a.actual);
}

std::string assertion_text(const saved_assertion& a) {
    return markdown_cell(a.metric + " " + a.expected) + ": " + actual_text(a) + " " +
           mark(a.passed);
}

std::string utc(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string verdict_line(const saved_run& run) {
    std::size_t total = 0;
    std::vector<std::string> failed;
    for (const auto& s : run.scenarios)
        for (const auto& a : s.assertions) {
            ++total;
            if (!a.passed) failed.push_back("`" + s.name + "` " + assertion_text(a));
        }
    std::string out;
    if (total == 0)
        out = "**Budgets:** none asserted\n";
    else if (failed.empty())
        out = "**Budgets: ✅ all " + std::to_string(total) + " hold**\n";
    else
        out = "**Budgets: ❌ " + std::to_string(failed.size()) + " of " + std::to_string(total) +
              " failed**\n";
    for (const auto& f : failed) out += "- " + f + "\n";
    if (!run.complete)
        out +=
            "\n⚠️ The load test was interrupted: its figures are partial and it counts as "
            "failed.\n";
    return out;
}

std::string endpoint(const saved_scenario& s) {
    if (s.kind == "parallel") {
        std::string names;
        for (const auto& m : s.members) names += (names.empty() ? "" : ", ") + m;
        return markdown_cell("(parallel: " + names + ")");
    }
    std::string out = "`" + markdown_cell(s.method + " " + s.path) + "`";
    if (!s.target.empty()) out += " at " + markdown_cell(s.target);
    return out;
}

std::string target_p95(const saved_scenario& s) {
    for (const auto& a : s.assertions)
        if (a.metric == "p95") return markdown_cell(a.expected);
    return "—";
}

std::string endpoints_table(const saved_run& run) {
    std::string out =
        "### Endpoints\n\n| scenario | endpoint | P50 | P95 | target P95 | |\n"
        "|---|---|---:|---:|---|:-:|\n";
    for (const auto& s : run.scenarios)
        out += row({markdown_cell(s.name), endpoint(s), ms(s.latency.p50), ms(s.latency.p95),
                    target_p95(s), mark(s.passed)});
    return out;
}

std::string load_text(const saved_scenario& s) {
    std::string out = s.kind;
    if (s.rate > 0) out += format(" %g/s", s.rate);
    if (s.kind != "cold_warm") out += ", " + std::to_string(s.connections) + " connections";
    return out + format(", %.2f s", s.elapsed_s);
}

std::string errors_text(const error_counts& e) {
    std::string by_kind;
    const std::pair<const char*, std::uint64_t> kinds[] = {{"connect", e.connect},
                                                           {"timeout", e.timeout},
                                                           {"reset", e.reset},
                                                           {"closed", e.closed},
                                                           {"parse", e.parse}};
    for (const auto& [name, n] : kinds)
        if (n)
            by_kind += (by_kind.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(n);
    for (const auto& [code, n] : e.status)
        if (n)
            by_kind +=
                (by_kind.empty() ? "" : ", ") + std::to_string(code) + ": " + std::to_string(n);
    return std::to_string(e.total()) + (by_kind.empty() ? "" : " (" + by_kind + ")");
}

std::string scenarios_table(const saved_run& run) {
    std::string out =
        "### Scenarios\n\n| scenario | load | req/s | requests | errors | assertions |\n"
        "|---|---|---:|---:|---|---|\n";
    for (const auto& s : run.scenarios) {
        std::string verdicts;
        for (const auto& a : s.assertions)
            verdicts += (verdicts.empty() ? "" : "<br>") + assertion_text(a);
        out += row({markdown_cell(s.name), load_text(s), format("%.1f", s.rps),
                    std::to_string(s.requests()), errors_text(s.errors),
                    verdicts.empty() ? "—" : verdicts});
    }
    return out;
}

std::string cold_warm_table(const saved_run& run) {
    std::string out =
        "### Cold vs warm\n\n| scenario | cold P50 | warm P50 | delta |\n"
        "|---|---:|---:|---:|\n";
    bool any = false;
    for (const auto& s : run.scenarios) {
        if (!s.cold_warm) continue;
        any = true;
        const auto cold = s.cold_warm->cold.p50, warm = s.cold_warm->warm.p50;
        const double delta_ms = (static_cast<double>(cold) - static_cast<double>(warm)) / 1000.0;
        const std::string times =
            warm ? format("%.2f×", static_cast<double>(cold) / static_cast<double>(warm)) : "—";
        out += row(
            {markdown_cell(s.name), ms(cold), ms(warm), times + format(" (%+.2f ms)", delta_ms)});
    }
    return any ? out : "";
}

std::string junit_table(const std::vector<junit_file>& files) {
    std::string out =
        "### Tests\n\n| file | suite | tests | failures | errors | skipped | |\n"
        "|---|---|---:|---:|---:|---:|:-:|\n";
    junit_suite total;
    auto counts = [](const junit_suite& s) {
        return std::vector<std::string>{std::to_string(s.tests), std::to_string(s.failures),
                                        std::to_string(s.errors), std::to_string(s.skipped),
                                        mark(s.failures + s.errors == 0)};
    };
    for (const auto& f : files)
        for (const auto& s : f.suites) {
            std::vector<std::string> cells{markdown_cell(f.name), markdown_cell(s.name)};
            for (auto& c : counts(s)) cells.push_back(std::move(c));
            out += row(cells);
            total.tests += s.tests, total.failures += s.failures;
            total.errors += s.errors, total.skipped += s.skipped;
        }
    std::vector<std::string> cells{"**total**", ""};
    for (auto& c : counts(total)) cells.push_back(std::move(c));
    return out + row(cells);
}

std::string p95_bucket_text(const metrics_row& r) {
    if (!r.p95_known) return "—";
    if (std::isinf(r.p95_up_to_ms)) return format("> %g ms", r.p95_above_ms);
    if (r.p95_above_ms <= 0) return format("≤ %g ms", r.p95_up_to_ms);
    return format("%g", r.p95_above_ms) + format("–%g ms", r.p95_up_to_ms);
}

// The bucket (lower, upper] that holds the 95% rank of cumulative buckets.
void find_p95_bucket(const std::map<double, double>& buckets, metrics_row& r) {
    if (buckets.empty() || buckets.rbegin()->second <= 0) return;
    const double rank = 0.95 * buckets.rbegin()->second;
    double lower = 0;
    for (const auto& [le, count] : buckets) {
        if (count >= rank) {
            r.p95_known = true, r.p95_above_ms = lower, r.p95_up_to_ms = le;
            return;
        }
        lower = le;
    }
}

std::string metrics_table(const std::vector<metrics_row>& rows) {
    std::string out =
        "### sidelight /metrics (since it started)\n\n| route | requests | P95 (bucket) |\n"
        "|---|---:|---:|\n";
    for (const auto& r : rows)
        out += row(
            {"`" + markdown_cell(r.route) + "`", format("%.0f", r.requests), p95_bucket_text(r)});
    if (rows.empty()) out += "| (no route counted a request) | | |\n";
    return out;
}

}  // namespace

std::string markdown_cell(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n' || c == '\r')
            out += ' ';
        else
            out += c;
    }
    return out;
}

std::vector<metrics_row> metrics_rows(const route_figures& figures, std::size_t limit) {
    // The summary shows a route as one line: its series summed over methods.
    std::map<std::string, route_series> by_route;
    for (const auto& [key, series] : figures) {
        auto& sum = by_route[key.route];
        sum.requests += series.requests;
        for (const auto& [le, count] : series.buckets) sum.buckets[le] += count;
    }
    std::vector<metrics_row> rows;
    for (const auto& [route, series] : by_route) {
        if (series.requests <= 0) continue;
        metrics_row r{route, series.requests};
        find_p95_bucket(series.buckets, r);
        rows.push_back(r);
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.requests > b.requests; });
    if (rows.size() > limit) rows.resize(limit);
    return rows;
}

bool budgets_hold(const saved_run& run) {
    if (!run.complete || !run.passed) return false;
    for (const auto& s : run.scenarios)
        for (const auto& a : s.assertions)
            if (!a.passed) return false;
    return true;
}

std::string format_summary(const summary_input& in) {
    std::string out = "## sidelight CI summary\n\n" + utc(in.now) + " · sidelight " + in.version +
                      " · " + markdown_cell(in.loadtest_name) + " · target " +
                      markdown_cell(in.run.target) + "\n\n" + verdict_line(in.run);
    out += "\n" + endpoints_table(in.run) + "\n" + scenarios_table(in.run);
    if (const auto cw = cold_warm_table(in.run); !cw.empty()) out += "\n" + cw;
    if (!in.junit.empty()) out += "\n" + junit_table(in.junit);
    if (in.metrics) out += "\n" + metrics_table(*in.metrics);
    return out;
}

}  // namespace sidelight::loadtest
