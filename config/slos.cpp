// `slos`: service level objectives over the traffic metrics, one per route and method
// (docs/SLO.md). What needs the route table (the route is a configured one) is checked by the
// preflight; everything the YAML alone decides is checked here.
#include <charconv>
#include <cmath>
#include <map>

#include "config/yaml_walk.hpp"

namespace sidelight::config::detail {
namespace {

// The window the burn-rate alerts are sized for: their longest look-back is 3 days, and past a
// quarter the 1x ticket says little.
constexpr unsigned min_window_days = 7;
constexpr unsigned max_window_days = 90;

std::string format_number(double value) {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, end);
}

// A label value, an alert anchor and a group name: kept to a plain word.
bool is_slo_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    return true;
}

// "GET /api/products": one method, one space, the template.
void parse_route(const node_ref& n, slo_spec& out) {
    const std::string text = to_nonempty_string(n);
    const auto space = text.find(' ');
    const auto refuse = [&] {
        n.fail("expected one method and a route template like \"GET /api/products\", got \"" +
               text + "\"");
    };
    if (space == std::string::npos || space == 0) refuse();
    out.method = text.substr(0, space);
    out.path_template = text.substr(text.find_first_not_of(' ', space));
    if (!is_http_token(out.method) || out.path_template.front() != '/' ||
        out.path_template.find_first_of(" \t") != std::string::npos)
        refuse();
    for (char c : out.method)
        if (std::islower(static_cast<unsigned char>(c)))
            n.fail("methods are upper case, as in routes: got \"" + out.method + "\"");
    out.route_mark = n.mark;
}

double parse_objective(const node_ref& n) {
    const std::string text = n.scalar();
    if (text.size() < 2 || text.back() != '%')
        n.fail("expected a percentage like 99.9%, got \"" + text + "\"");
    double value = 0;
    const char* last = text.data() + text.size() - 1;
    auto [end, ec] = std::from_chars(text.data(), last, value);
    if (ec != std::errc{} || end != last || !std::isfinite(value))
        n.fail("expected a percentage like 99.9%, got \"" + text + "\"");
    if (value <= 0 || value >= 100)
        n.fail("must be between 0% and 100% (both excluded: 100% leaves no error budget), got " +
               text);
    return value;
}

duration parse_latency(const node_ref& n, const metrics_config& metrics) {
    const duration value = to_duration(n, false);
    for (double bound : metrics.buckets)
        if (bound == static_cast<double>(value.count())) return value;
    std::string bounds;
    for (double bound : metrics.buckets)
        bounds += (bounds.empty() ? "" : ", ") + format_number(bound);
    n.fail(format_number(static_cast<double>(value.count())) + "ms is not a bucket bound of " +
           metrics.prefix + "api_latency_ms (metrics.buckets: " + bounds +
           " ms); the SLI counts the requests in the bucket at the threshold");
}

unsigned parse_window(const node_ref& n) {
    const std::string text = n.scalar();
    unsigned count = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    const bool unit = end + 1 == text.data() + text.size() && (*end == 'd' || *end == 'w');
    const auto range =
        std::to_string(min_window_days) + "d to " + std::to_string(max_window_days) + "d";
    if (ec != std::errc{} || !unit)
        n.fail("expected a window of whole days or weeks like 28d or 4w (" + range + "), got \"" +
               text + "\"");
    const std::uint64_t days = *end == 'w' ? std::uint64_t{count} * 7 : count;
    if (days < min_window_days || days > max_window_days)
        n.fail("out of range: " + text + " (" + range + ")");
    return static_cast<unsigned>(days);
}

// `name_at`: where the name is written, for the duplicate check.
slo_spec parse_one(const node_ref& n, const metrics_config& metrics, node_ref& name_at) {
    map_reader m(n, {"name", "route", "objective", "latency", "window"});
    slo_spec out;
    out.mark = n.mark;
    const node_ref name = name_at = m.require("name");
    out.name = to_nonempty_string(name);
    if (!is_slo_name(out.name))
        name.fail("expected a name of letters, digits, - and _ (at most 64), got \"" + out.name +
                  "\"");
    parse_route(m.require("route"), out);
    out.objective = parse_objective(m.require("objective"));
    if (auto v = m.get("latency")) out.latency = parse_latency(*v, metrics);
    if (auto v = m.get("window")) out.window_days = parse_window(*v);
    return out;
}

}  // namespace

std::vector<slo_spec> parse_slos(const node_ref& n, const metrics_config& metrics) {
    std::vector<slo_spec> out;
    std::map<std::string, int> lines;  // name -> the line it was first given at
    const auto items = list_items(n);
    if (!items.empty() && !metrics.traffic)
        n.fail(
            "needs metrics.traffic: true (the SLIs are read from api_requests_total and "
            "api_latency_ms)");
    for (const auto& item : items) {
        node_ref name;
        out.push_back(parse_one(item, metrics, name));
        const auto [first, added] = lines.emplace(out.back().name, name.mark.line);
        if (!added)
            name.fail("duplicate SLO name \"" + out.back().name + "\" (first at line " +
                      std::to_string(first->second) + ")");
    }
    return out;
}

}  // namespace sidelight::config::detail
