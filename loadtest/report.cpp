// Writing a load test's outcome as a table, JSON and Markdown (report.hpp).
#include "loadtest/report.hpp"

#include <cctype>
#include <cstdio>

#include "loadtest/ci_summary.hpp"
#include "util/json_escape.hpp"

namespace sidelight::loadtest {
namespace {

constexpr double percentiles[] = {50, 90, 95, 99, 99.9};
constexpr const char* percentile_keys[] = {"p50", "p90", "p95", "p99", "p999"};

std::string ms(std::uint64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(us) / 1000.0);
    return buf;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string one_decimal(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    util::append_json_escaped(out, s);
    return out + "\"";
}

const char* kind_name(scenario_kind k) {
    switch (k) {
        case scenario_kind::closed:
            return "closed";
        case scenario_kind::open:
            return "open";
        case scenario_kind::parallel:
            return "parallel";
        case scenario_kind::cold_warm:
            return "cold_warm";
    }
    return "";
}

std::string latency_json(const histogram& h) {
    std::string out = "{\"count\":" + std::to_string(h.count());
    for (int i = 0; i < 5; ++i)
        out += std::string(",\"") + percentile_keys[i] +
               "\":" + std::to_string(h.percentile(percentiles[i]));
    out += ",\"min\":" + std::to_string(h.min()) + ",\"max\":" + std::to_string(h.max()) +
           ",\"mean\":" + number(h.mean()) + "}";
    return out;
}

std::string errors_json(const error_counts& e) {
    std::string out =
        "{\"total\":" + std::to_string(e.total()) + ",\"connect\":" + std::to_string(e.connect) +
        ",\"timeout\":" + std::to_string(e.timeout) + ",\"reset\":" + std::to_string(e.reset) +
        ",\"closed\":" + std::to_string(e.closed) + ",\"parse\":" + std::to_string(e.parse) +
        ",\"status\":{";
    bool first = true;
    for (const auto& [code, n] : e.status) {
        out += (first ? "\"" : ",\"") + std::to_string(code) + "\":" + std::to_string(n);
        first = false;
    }
    return out + "}}";
}

std::string assertions_json(const scenario_outcome& o) {
    std::string out = "[";
    for (std::size_t i = 0; i < o.verdicts.size(); ++i) {
        const auto& [a, v] = o.verdicts[i];
        out += (i ? ",{" : "{") + std::string("\"metric\":") + quoted(metric_name(a.what)) +
               ",\"expected\":" + quoted(a.text) +
               (a.reference.empty() ? "" : ",\"reference\":" + quoted(a.reference)) +
               ",\"bound\":" + number(display_bound(a)) + ",\"actual\":" + number(v.actual) +
               (v.note.empty() ? "" : ",\"note\":" + quoted(v.note)) +
               ",\"passed\":" + (v.passed ? "true" : "false") + "}";
    }
    return out + "]";
}

std::string scenario_json(const plan& p, const scenario_outcome& o) {
    const auto& s = *o.spec;
    const auto& r = o.result;
    std::string out = "{\"name\":" + quoted(s.name) + ",\"kind\":" + quoted(kind_name(s.kind));
    if (s.kind == scenario_kind::parallel) {
        out += ",\"members\":[";
        for (std::size_t i = 0; i < s.members.size(); ++i)
            out += (i ? "," : "") + quoted(p.scenarios[s.members[i]].name);
        out += "]";
    } else {
        out += ",\"method\":" + quoted(s.request.method) + ",\"path\":" + quoted(s.request.path);
        if (s.target) out += ",\"target\":" + quoted(s.target_url);
    }
    std::uint32_t connections = s.connections;  // a parallel scenario: its members' together
    if (s.kind == scenario_kind::parallel) {
        connections = 0;
        for (auto m : s.members) connections += p.scenarios[m].connections;
    }
    out += ",\"connections\":" + std::to_string(connections) +
           ",\"rate\":" + (s.rate > 0 ? number(s.rate) : "null") +
           ",\"elapsed_s\":" + number(r.elapsed_s) +
           ",\"responses\":" + std::to_string(r.responses) + ",\"rps\":" + number(r.rps()) +
           ",\"bytes_read\":" + std::to_string(r.bytes_read) +
           ",\"bytes_written\":" + std::to_string(r.bytes_written) +
           ",\"latency_us\":" + latency_json(r.latency) +
           ",\"uncorrected_latency_us\":" + latency_json(r.uncorrected) +
           ",\"errors\":" + errors_json(r.errors);
    if (s.kind == scenario_kind::cold_warm) {
        const auto delta =
            static_cast<double>(r.cold.percentile(50)) - static_cast<double>(r.warm.percentile(50));
        out += ",\"cold_warm\":{\"cold_latency_us\":" + latency_json(r.cold) +
               ",\"warm_latency_us\":" + latency_json(r.warm) +
               ",\"p50_delta_us\":" + number(delta) + "}";
    }
    return out + ",\"assertions\":" + assertions_json(o) +
           ",\"passed\":" + (o.passed() ? "true" : "false") + "}";
}

// `text` padded with spaces to `width`, on the left (figures) or the right (names). Longer text
// is kept whole and pushes the rest of its row out: a cut one would lose the row's end.
std::string padded(std::string text, std::size_t width, bool align_left = false) {
    if (text.size() >= width) return text;
    const std::string fill(width - text.size(), ' ');
    return align_left ? text + fill : fill + text;
}

std::string table_row(const std::string& name, const std::vector<std::string>& figures,
                      const std::string& verdicts) {
    static constexpr std::size_t widths[] = {9, 9, 9, 9, 9, 9, 10, 8};
    std::string out = padded(name, 16, true);
    for (std::size_t i = 0; i < figures.size(); ++i) out += " " + padded(figures[i], widths[i]);
    return out + " " + verdicts + "\n";
}

std::string target_p95(const scenario_outcome& o) {
    for (const auto& [a, v] : o.verdicts)
        if (a.what == metric::p95) return a.text;
    return "";
}

}  // namespace

bool scenario_outcome::passed() const {
    for (const auto& [a, v] : verdicts)
        if (!v.passed) return false;
    return true;
}

observed observe(const run_result& r) {
    observed o;
    for (int i = 0; i < 5; ++i) o.latency_us[i] = r.latency.percentile(percentiles[i]);
    o.latency_us[5] = r.latency.max();
    o.responses = r.latency.count();
    o.errors = r.errors.total();
    o.attempts = r.attempts();
    o.rps = r.rps();
    return o;
}

void judge(scenario_outcome& o, const std::vector<scenario_outcome>& all) {
    const observed seen = observe(o.result);
    o.verdicts.clear();
    for (const auto& a : o.spec->assertions) {
        if (a.reference.empty()) {
            o.verdicts.emplace_back(a, check(a, seen));
            continue;
        }
        verdict v;  // failed unless the reference ran
        for (const auto& other : all)
            if (other.spec->name == a.reference) v = check_ratio(a, seen, observe(other.result));
        o.verdicts.emplace_back(a, v);
    }
}

std::string format_table(const std::vector<scenario_outcome>& outcomes) {
    std::string out = table_row(
        "scenario",
        {"req/s", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms", "responses", "errors"},
        "assertions");
    for (const auto& o : outcomes) {
        const auto& r = o.result;
        std::string verdicts;
        for (const auto& [a, v] : o.verdicts) {
            // "p95<500ms ok", "errors=0 ok": a bare number reads as an equality
            const bool bare =
                !a.text.empty() && (std::isdigit(static_cast<unsigned char>(a.text[0])) != 0);
            verdicts += std::string(metric_name(a.what)) + (bare ? "=" : "") + a.text +
                        (v.passed ? " ok " : " FAILED ") +
                        (v.note.empty() ? "" : "(" + v.note + ") ");
        }
        out += table_row(
            o.spec->name,
            {one_decimal(r.rps()), ms(r.latency.percentile(50)), ms(r.latency.percentile(90)),
             ms(r.latency.percentile(95)), ms(r.latency.percentile(99)), ms(r.latency.max()),
             std::to_string(r.responses), std::to_string(r.errors.total())},
            verdicts);
        const auto& e = r.errors;
        if (e.total() > 0) {
            out += "  errors: connect " + std::to_string(e.connect) + ", timeout " +
                   std::to_string(e.timeout) + ", reset/closed " +
                   std::to_string(e.reset + e.closed) + ", parse " + std::to_string(e.parse);
            for (const auto& [code, n] : e.status)
                out += ", status " + std::to_string(code) + ": " + std::to_string(n);
            out += "\n";
        }
        if (o.spec->kind == scenario_kind::cold_warm)
            out += "  cold p50 " + ms(r.cold.percentile(50)) + " ms, warm p50 " +
                   ms(r.warm.percentile(50)) + " ms\n";
    }
    return out;
}

std::string format_json(const plan& p, const std::vector<scenario_outcome>& outcomes,
                        bool complete) {
    bool passed = complete;
    std::string scenarios;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        passed = passed && outcomes[i].passed();
        scenarios += (i ? "," : "") + scenario_json(p, outcomes[i]);
    }
    return "{\"schema\":\"sidelight.loadtest/1\",\"target\":" + quoted(p.target_url) +
           ",\"complete\":" + (complete ? "true" : "false") +
           ",\"passed\":" + (passed ? "true" : "false") + ",\"scenarios\":[" + scenarios + "]}\n";
}

std::string format_markdown(const plan& p, const std::vector<scenario_outcome>& outcomes) {
    std::string out =
        "| scenario | endpoint | P50 | P95 | target P95 | | req/s | errors |\n"
        "|---|---|---:|---:|---:|:-:|---:|---:|\n";
    for (const auto& o : outcomes) {
        const auto& s = *o.spec;
        const auto& r = o.result;
        std::string endpoint = s.kind == scenario_kind::parallel
                                   ? "(parallel)"
                                   : s.request.method + " " + s.request.path;
        const std::string target = target_p95(o);
        out += "| " + markdown_cell(s.name) + " | `" + markdown_cell(endpoint) + "` | " +
               ms(r.latency.percentile(50)) + " ms | " + ms(r.latency.percentile(95)) + " ms | " +
               (target.empty() ? "–" : markdown_cell(target)) + " | " + (o.passed() ? "✅" : "❌") +
               " | " + one_decimal(r.rps()) + " | " + std::to_string(r.errors.total()) + " |\n";
    }
    for (const auto& o : outcomes) {
        if (o.spec->kind != scenario_kind::cold_warm) continue;
        const auto& r = o.result;
        const double delta = (static_cast<double>(r.cold.percentile(50)) -
                              static_cast<double>(r.warm.percentile(50))) /
                             1000.0;
        out += "\n**" + o.spec->name + "** cold vs warm: cold P50 " + ms(r.cold.percentile(50)) +
               " ms, warm P50 " + ms(r.warm.percentile(50)) + " ms, delta " + number(delta) +
               " ms\n";
    }
    return out;
}

}  // namespace sidelight::loadtest
