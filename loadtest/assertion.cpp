// Parsing `assert:` values and checking them against a scenario's figures (assertion.hpp).
#include "loadtest/assertion.hpp"

#include <charconv>
#include <cmath>

#include "config/load.hpp"

namespace sidelight::loadtest {
namespace {

struct metric_key {
    std::string_view name;
    metric what;
};

constexpr metric_key metric_keys[] = {
    {"p50", metric::p50},   {"p90", metric::p90}, {"p95", metric::p95},       {"p99", metric::p99},
    {"p999", metric::p999}, {"max", metric::max}, {"errors", metric::errors}, {"rps", metric::rps},
};

bool is_latency(metric m) {
    return m != metric::errors && m != metric::rps;
}

// Strips a leading operator: "<=", "<", ">=", ">" (and the spaces after it).
std::optional<comparison> take_operator(std::string_view& text) {
    std::optional<comparison> op;
    if (text.starts_with("<="))
        op = comparison::less_equal;
    else if (text.starts_with(">="))
        op = comparison::greater_equal;
    else if (text.starts_with("<"))
        op = comparison::less;
    else if (text.starts_with(">"))
        op = comparison::greater;
    if (!op) return std::nullopt;
    text.remove_prefix(*op == comparison::less || *op == comparison::greater ? 1 : 2);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    return op;
}

std::optional<double> to_number(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0)
        return std::nullopt;
    return value;
}

// "1.5x direct" after the operator: the factor and the reference scenario's name.
bool parse_ratio(std::string_view text, assertion& a) {
    const auto space = text.find(' ');
    if (space == std::string_view::npos || space < 2 || text[space - 1] != 'x') return false;
    auto factor = to_number(text.substr(0, space - 1));
    std::string_view name = text.substr(space);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!factor || !(*factor > 0) || name.empty()) return false;
    a.bound = *factor;
    a.reference = std::string(name);
    return true;
}

bool parse_latency(std::string_view text, assertion& a, std::string& error) {
    auto op = take_operator(text);
    if (op && (*op == comparison::less || *op == comparison::less_equal) && parse_ratio(text, a)) {
        a.op = *op;
        return true;
    }
    auto ms = op ? config::parse_duration(text) : std::nullopt;
    if (!op || (*op != comparison::less && *op != comparison::less_equal) || !ms) {
        error =
            "expected \"<DURATION\" or \"<=DURATION\" like \"<500ms\", or a ratio to another "
            "scenario like \"<=1.5x direct\"";
        return false;
    }
    a.op = *op;
    a.bound = static_cast<double>(ms->count()) * 1000.0;
    return true;
}

bool parse_errors(std::string_view text, assertion& a, std::string& error) {
    auto op = take_operator(text);
    a.op = op.value_or(comparison::less_equal);
    a.percent = text.ends_with('%');
    if (a.percent) text.remove_suffix(1);
    auto n = to_number(text);
    const bool whole = n && (a.percent || std::floor(*n) == *n);
    if ((op && *op != comparison::less && *op != comparison::less_equal) || !whole ||
        (a.percent && *n > 100)) {
        error = "expected a count like 0 or \"<=5\", or a share like \"<1%\"";
        return false;
    }
    a.bound = a.percent ? *n / 100.0 : *n;
    return true;
}

bool parse_rps(std::string_view text, assertion& a, std::string& error) {
    auto op = take_operator(text);
    auto n = op ? to_number(text) : std::nullopt;
    if (!n || *op == comparison::less || *op == comparison::less_equal) {
        error = "expected \">=N\" or \">N\" requests per second, like \">=100\"";
        return false;
    }
    a.op = *op;
    a.bound = *n;
    return true;
}

bool holds(double actual, comparison op, double bound) {
    switch (op) {
        case comparison::less:
            return actual < bound;
        case comparison::less_equal:
            return actual <= bound;
        case comparison::greater:
            return actual > bound;
        case comparison::greater_equal:
            return actual >= bound;
    }
    return false;
}

}  // namespace

std::optional<assertion> parse_assertion(std::string_view key, std::string_view value,
                                         std::string& error) {
    assertion a;
    a.text = std::string(value);
    const metric_key* found = nullptr;
    for (const auto& k : metric_keys)
        if (k.name == key) found = &k;
    if (!found) {
        error = "unknown assertion (expected p50, p90, p95, p99, p999, max, errors or rps)";
        return std::nullopt;
    }
    a.what = found->what;
    bool ok = is_latency(a.what)      ? parse_latency(value, a, error)
              : a.what == metric::rps ? parse_rps(value, a, error)
                                      : parse_errors(value, a, error);
    if (!ok) return std::nullopt;
    return a;
}

verdict check(const assertion& a, const observed& o) {
    verdict v;
    if (is_latency(a.what) && o.responses == 0) {
        v.note = "no responses";
    } else if (is_latency(a.what)) {
        const auto us = static_cast<double>(o.latency_us[static_cast<int>(a.what)]);
        v.passed = holds(us, a.op, a.bound);
        v.actual = us / 1000.0;
    } else if (a.what == metric::rps) {
        v.actual = o.rps;
        v.passed = holds(o.rps, a.op, a.bound);
    } else if (a.percent) {
        const double share =
            o.attempts ? static_cast<double>(o.errors) / static_cast<double>(o.attempts) : 0.0;
        v.actual = share * 100.0;
        v.passed = holds(share, a.op, a.bound);
    } else {
        v.actual = static_cast<double>(o.errors);
        v.passed = holds(v.actual, a.op, a.bound);
    }
    return v;
}

verdict check_ratio(const assertion& a, const observed& o, const observed& reference) {
    const auto i = static_cast<int>(a.what);
    verdict v;
    if (!is_latency(a.what)) return v;
    if (o.responses == 0 || reference.responses == 0) {
        v.note = o.responses == 0 ? "no responses" : "no responses in " + a.reference;
        return v;
    }
    if (reference.latency_us[i] == 0) return v;  // under a microsecond: no ratio to take
    v.actual = static_cast<double>(o.latency_us[i]) / static_cast<double>(reference.latency_us[i]);
    v.passed = holds(v.actual, a.op, a.bound);
    return v;
}

std::string_view metric_name(metric m) {
    return metric_keys[static_cast<int>(m)].name;
}

double display_bound(const assertion& a) {
    if (!a.reference.empty()) return a.bound;
    if (is_latency(a.what)) return a.bound / 1000.0;
    return a.percent ? a.bound * 100.0 : a.bound;
}

}  // namespace sidelight::loadtest
