// `metrics.rules`: business metrics read from the traffic, each label over a closed set.
#include <set>

#include "config/yaml_walk.hpp"

namespace sidelight::config::detail {
namespace {

// Our own families and the prefixes of those to come: a rule never shadows one.
bool reserved_metric(std::string_view name) {
    for (std::string_view prefix :
         {"api_", "sidelight_", "process_", "db_", "active_connections", "http_"})
        if (name.starts_with(prefix)) return true;
    return false;
}

// What one rule may multiply out to: beyond it, a rule is a cardinality problem waiting.
constexpr std::size_t max_series_per_rule = 10'000;
constexpr std::size_t max_values_per_label = 1'000;

std::string to_label_value(const node_ref& n) {
    std::string v = n.scalar();
    if (v.empty()) n.fail("a label value must not be empty");
    if (v.size() > 128) n.fail("a label value is at most 128 bytes");
    return v;
}

metric_label parse_label(const map_entry& entry) {
    const node_ref& n = entry.value;
    if (!is_label_name(entry.key))
        throw config_error(entry.key_mark, n.path, "not a valid Prometheus label name");
    if (entry.key == "le" || entry.key == "listener")
        throw config_error(entry.key_mark, n.path,
                           "\"" + entry.key + "\" is a label sidelight sets itself");
    map_reader m(n, {"from", "values", "other", "map"});
    metric_label out;
    out.name = entry.key;
    out.mark = entry.key_mark;
    out.from = parse_source(m.require("from"), true);
    if (auto v = m.get("values")) {
        std::set<std::string> seen;
        for (const auto& item : list_items(*v)) {
            out.values.push_back(to_label_value(item));
            if (!seen.insert(out.values.back()).second)
                item.fail("\"" + out.values.back() + "\" is listed twice");
        }
        if (out.values.empty()) v->fail("must list at least one value");
        if (out.values.size() > max_values_per_label)
            v->fail("lists more than " + std::to_string(max_values_per_label) + " values");
    }
    if (auto v = m.get("map")) {
        for (const auto& e : map_entries(*v)) out.map.emplace_back(e.key, to_label_value(e.value));
        if (out.map.empty()) v->fail("must map at least one value");
        if (out.map.size() > max_values_per_label)
            v->fail("maps more than " + std::to_string(max_values_per_label) + " values");
    }
    if (auto v = m.get("other")) out.other = to_label_value(*v);
    if (out.values.empty() && out.map.empty())
        n.fail(
            "needs a closed set of values: `values: [...]` with `other: <label value>`, or "
            "`map: {read: label value}` (so that no label can grow the series without bound)");
    if (!out.values.empty() && !out.map.empty()) n.fail("takes `values` or `map`, not both");
    if (!out.values.empty() && !out.other)
        n.fail("`values` needs `other`: the label value of everything not listed");
    return out;
}

std::size_t series_bound(const metric_rule& r) {
    std::size_t n = 1;
    for (const auto& l : r.labels) {
        std::set<std::string> out;
        for (const auto& v : l.values) out.insert(v);
        for (const auto& [from, to] : l.map) out.insert(to);
        if (l.other) out.insert(*l.other);
        n *= out.size();
        if (n > max_series_per_rule) return n;
    }
    return n;
}

metric_rule parse_metric_rule(const node_ref& n) {
    map_reader m(n, {"name", "type", "help", "buckets", "listener", "match", "value", "labels"});
    metric_rule out;
    out.mark = n.mark;
    const node_ref name = m.require("name");
    out.name = to_nonempty_string(name);
    if (!is_metric_name(out.name))
        name.fail("expected a Prometheus metric name (letters, digits, _ and :), got \"" +
                  out.name + "\"");
    if (reserved_metric(out.name))
        name.fail("\"" + out.name +
                  "\" is in a namespace sidelight exports itself (api_, db_, http_, process_, "
                  "sidelight_, active_connections)");
    out.type = to_choice(m.require("type"), {"counter", "histogram"}) == "counter"
                   ? metric_rule::kind::counter
                   : metric_rule::kind::histogram;
    // Prometheus' naming rules, which `promtool check metrics` enforces.
    const bool total = out.name.ends_with("_total");
    if (out.type == metric_rule::kind::counter && !total)
        name.fail("a counter's name ends in _total (" + out.name + "_total)");
    if (out.type == metric_rule::kind::histogram && total)
        name.fail("a histogram's name does not end in _total (that suffix is a counter's)");
    out.help = "Business metric " + out.name + " (sidelight metric rule)";
    if (auto v = m.get("help")) {
        out.help = to_nonempty_string(*v);
        // The text format writes HELP as it is, where a line break ends it and a backslash
        // starts an escape: either would make the whole scrape unreadable.
        if (out.help.find_first_of("\\\n\r") != std::string::npos)
            v->fail("a help text is one line without backslashes");
    }
    if (auto v = m.get("buckets")) {
        if (out.type != metric_rule::kind::histogram) v->fail("applies to type histogram only");
        out.buckets = parse_buckets(*v);
    }
    if (auto v = m.get("listener")) parse_listener(*v, out.match);
    if (auto v = m.get("match")) {
        const auto listener = out.match.listener;
        const auto listener_mark = out.match.listener_mark;
        out.match = parse_match(*v);
        out.match.listener = listener;
        out.match.listener_mark = listener_mark;
    }
    if (auto v = m.get("value")) out.value = parse_source(*v, true);
    if (out.type == metric_rule::kind::histogram && out.value.from == value_source::kind::none)
        n.fail("a histogram needs `value`: where the number it observes is read");
    if (auto v = m.get("labels")) {
        for (const auto& entry : map_entries(*v)) out.labels.push_back(parse_label(entry));
        const auto bound = series_bound(out);
        if (bound > max_series_per_rule)
            v->fail("its label sets multiply to more than " + std::to_string(max_series_per_rule) +
                    " series");
    }
    return out;
}

}  // namespace

std::vector<metric_rule> parse_metric_rules(const node_ref& n) {
    std::vector<metric_rule> out;
    std::set<std::string> names;
    for (const auto& item : list_items(n)) {
        out.push_back(parse_metric_rule(item));
        if (!names.insert(out.back().name).second)
            item.fail("duplicate metric rule name \"" + out.back().name +
                      "\" (one rule per metric; a second would share its series)");
    }
    return out;
}

}  // namespace sidelight::config::detail
