#include "rules/metric_rules.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "audit/json_text.hpp"
#include "audit/redact.hpp"
#include "config/load.hpp"
#include "rules/value_source.hpp"

namespace sidelight::rules {
namespace {

using source_kind = config::value_source::kind;

metric_label_set compile_label(const config::metric_label& l) {
    metric_label_set out;
    out.name = l.name;
    const auto add = [&](const std::string& value) {
        for (std::size_t i = 0; i < out.values.size(); ++i)
            if (out.values[i] == value) return static_cast<std::uint16_t>(i);
        out.values.push_back(value);
        return static_cast<std::uint16_t>(out.values.size() - 1);
    };
    for (const auto& v : l.values) out.index.emplace(v, add(v));
    for (const auto& [from, to] : l.map) out.index.emplace(from, add(to));
    if (l.other) out.other = add(*l.other);
    return out;
}

// The bodies of the request being evaluated, parsed once each on this thread.
struct body_cache {
    bool parsed[2] = {false, false};
    std::vector<std::string> values[2];
};
thread_local body_cache bodies;

int body_index(const config::value_source& s) {
    if (s.from == source_kind::request_body) return 0;
    if (s.from == source_kind::response_body) return 1;
    return -1;
}

// Whether `s` reads a body that was cut at the capture cap: its value may be past the cut.
bool truncated_body(const config::value_source& s, const routes::request_record& r) {
    return (s.from == source_kind::request_body && r.request_body_truncated) ||
           (s.from == source_kind::response_body && r.response_body_truncated);
}

}  // namespace

std::string_view skip_label(metric_skip s) {
    switch (s) {
        case metric_skip::missing_value:
            return "missing_value";
        case metric_skip::not_numeric:
            return "not_numeric";
        case metric_skip::negative_value:
            return "negative_value";
        case metric_skip::unmapped_label:
            return "unmapped_label";
        case metric_skip::body_truncated:
            return "body_truncated";
    }
    return "";
}

std::optional<double> parse_number(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    if (text.empty() || text.size() > 64) return std::nullopt;
    if (text.front() == '+') text.remove_prefix(1);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value))
        return std::nullopt;
    // Beyond it a counter or a histogram's sum would lose every increment after it (and two
    // near DBL_MAX would make it Inf for good): no business value is that large.
    if (std::abs(value) > max_metric_value) return std::nullopt;
    return value;
}

metric_rules::metric_rules(std::shared_ptr<const config::config> cfg,
                           std::vector<std::shared_ptr<const routes::route_table>> tables)
    : cfg_(std::move(cfg)) {
    if (cfg_->audit.jwt.verifies())
        jwt_ = std::make_unique<const jwt_verifier>(cfg_->audit.jwt, nullptr);
    const auto& rules = cfg_->metrics.rules;
    rules_.reserve(rules.size());
    listeners_.resize(tables.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const auto& rule = rules[i];
        std::size_t listener = 0;
        for (std::size_t e = 0; e < cfg_->egress.size(); ++e)
            if (cfg_->egress[e].name == rule.match.listener) listener = e + 1;
        if (listener >= tables.size()) continue;  // a table not given: not served here
        const std::string key = "metrics.rules[" + std::to_string(i) + "]";
        compiled_metric m{&rule,
                          listener,
                          rule_matcher::compile(rule.match, *tables[listener], rule.mark, key),
                          {},
                          rule.buckets.empty() ? cfg_->metrics.buckets : rule.buckets,
                          -1,
                          {}};
        refuse_unknown_path_param(rule.value, *tables[listener], m.match, key + ".value");
        m.value_slot = slot_of(rule.value);
        for (const auto& l : rule.labels) {
            refuse_unknown_path_param(l.from, *tables[listener], m.match,
                                      key + ".labels." + l.name + ".from");
            m.labels.push_back(compile_label(l));
            m.label_slots.push_back(slot_of(l.from));
        }
        rules_.push_back(std::move(m));
        listeners_[listener].rules.push_back(rules_.size() - 1);
    }
    for (std::size_t l = 0; l < listeners_.size(); ++l) {
        auto& lr = listeners_[l];
        std::vector<const std::vector<std::string>*> named;
        bool names_a_route = false;
        for (const auto i : lr.rules) {
            named.push_back(&rules_[i].match.routes);
            names_a_route = names_a_route || !rules_[i].match.routes.empty();
        }
        lr.buckets = route_buckets(*tables[l], named);
        lr.routes = route_lookup(tables[l], names_a_route);
    }
}

// A body pointer's slot among the pointers of its body (shared by every rule that reads it).
int metric_rules::slot_of(const config::value_source& s) {
    const int body = body_index(s);
    if (body < 0) return -1;
    auto& list = pointers_[body];
    const auto it = std::find(list.begin(), list.end(), s.key);
    if (it != list.end()) return static_cast<int>(it - list.begin());
    list.push_back(s.key);
    return static_cast<int>(list.size() - 1);
}

void metric_rules::forget_bodies() {
    bodies.parsed[0] = bodies.parsed[1] = false;
}

// As value_source.cpp reads a pointer (the stored-JSON rules of audit/json_text.hpp: a body
// with a duplicate key or an overflowing number reads as missing; a pointer through a redacted
// key reads "[REDACTED]"), for all of a body's pointers in one pass.
const std::string& metric_rules::body_read(int body, int slot,
                                           const routes::request_record& r) const {
    auto& values = bodies.values[body];
    if (!bodies.parsed[body]) {
        bodies.parsed[body] = true;
        const auto& keys = cfg_->audit.redact_keys;
        const auto& pointers = pointers_[body];
        std::vector<audit::json_tokens> wanted;
        values.assign(pointers.size(), "");
        for (std::size_t i = 0; i < pointers.size(); ++i) {
            wanted.push_back(audit::pointer_tokens(pointers[i]));
            for (const auto& token : wanted.back())
                if (audit::is_redacted_key(token, keys)) values[i] = audit::redacted;
        }
        std::vector<std::size_t> order;  // the pointer of each span, in document order
        const auto doc = audit::canonical_json(body == 0 ? r.request_body : r.response_body, keys,
                                               [&](const audit::json_tokens& t) {
                                                   for (std::size_t i = 0; i < wanted.size(); ++i) {
                                                       if (t == wanted[i] && values[i].empty()) {
                                                           order.push_back(i);
                                                           return true;
                                                       }
                                                   }
                                                   return false;
                                               });
        if (doc.ok()) {
            for (std::size_t k = 0; k < doc.spans.size() && k < order.size(); ++k) {
                const auto text = doc.text_of(doc.spans[k]);
                auto& v = values[order[k]];
                if (text.starts_with('"'))
                    v = audit::unquote(text);
                else if (text != "null")
                    v = std::string(text);
            }
        }
    }
    return values[static_cast<std::size_t>(slot)];
}

std::string metric_rules::read(const config::value_source& s, int slot,
                               const routes::request_record& r) const {
    if (slot >= 0) return body_read(body_index(s), slot, r);
    return extract(s, r, cfg_->audit.redact_keys, {jwt_.get(), false});
}

void metric_rules::add_plans(std::size_t listener, std::vector<routes::capture_plan>& plans) const {
    if (listener >= listeners_.size() || listeners_[listener].rules.empty()) return;
    const auto& l = listeners_[listener];
    const auto& entries = l.routes.table().entries();
    const bool created = plans.empty();
    if (created) {
        plans.resize(entries.size() + 1);
        for (auto& p : plans) p.max_body_bytes = cfg_->audit.max_body_bytes;
    }
    for (std::size_t id = 0; id < plans.size(); ++id) {
        const auto route_methods =
            id == 0 ? routes::method_set::all() : entries[id - 1].request_methods();
        l.buckets.first(static_cast<routes::route_id>(id), [&](std::uint32_t i) {
            const auto& m = rules_[l.rules[i]];
            const auto methods = m.match.methods & route_methods;
            if (methods.empty()) return false;
            want(plans[id], m.rule->value, methods, false);
            for (const auto& label : m.rule->labels) want(plans[id], label.from, methods, false);
            return false;
        });
    }
    if (created && std::all_of(plans.begin(), plans.end(), [](const auto& p) { return p.empty(); }))
        plans.clear();
}

void metric_rules::observe(const compiled_metric& m, const routes::request_record& r,
                           metric_observation& o) const {
    o.metric = &m;
    o.key = 0;
    o.indexes.clear();
    o.value = 1;
    o.skipped.reset();
    const auto& value = m.rule->value;
    if (value.from != source_kind::none) {
        const auto text = read(value, m.value_slot, r);
        if (text.empty()) {
            o.skipped =
                truncated_body(value, r) ? metric_skip::body_truncated : metric_skip::missing_value;
            return;
        }
        const auto number = parse_number(text);
        if (!number) {
            o.skipped = metric_skip::not_numeric;
            return;
        }
        // A counter only goes up; a histogram's bounds are all > 0 and its _sum must not go
        // down (rate() would read a reset).
        if (*number < 0) {
            o.skipped = metric_skip::negative_value;
            return;
        }
        o.value = *number;
    }
    for (std::size_t i = 0; i < m.labels.size(); ++i) {
        const auto& set = m.labels[i];
        const auto& from = m.rule->labels[i].from;
        const auto text = read(from, m.label_slots[i], r);
        std::uint16_t index;
        if (const auto it = set.index.find(text); it != set.index.end()) {
            index = it->second;
        } else if (text.empty() && truncated_body(from, r)) {
            o.skipped = metric_skip::body_truncated;
            return;
        } else if (set.other) {
            index = *set.other;
        } else {
            o.skipped = metric_skip::unmapped_label;
            return;
        }
        o.indexes.push_back(index);
        o.key = o.key * set.values.size() + index;
    }
}

std::optional<std::string> metric_rules::resolve(std::string_view name,
                                                 const boost::json::object& labels,
                                                 metric_observation& o) const {
    const compiled_metric* m = nullptr;
    for (const auto& c : rules_)
        if (c.rule->name == name) m = &c;
    if (!m) return "no metric rule is named \"" + std::string(name) + "\" in the config";
    o.metric = m;
    o.key = 0;
    o.indexes.clear();
    o.skipped.reset();
    for (const auto& [key, value] : labels) {
        const bool known = std::any_of(m->labels.begin(), m->labels.end(),
                                       [&](const auto& l) { return l.name == key; });
        if (!known) return "metric " + m->rule->name + " has no label \"" + std::string(key) + "\"";
    }
    for (const auto& set : m->labels) {
        const auto* v = labels.if_contains(set.name);
        if (!v) return "label \"" + set.name + "\" is missing";
        const auto* s = v->if_string();
        if (!s) return "label \"" + set.name + "\" must be a string";
        const auto it = std::find(set.values.begin(), set.values.end(), std::string_view(*s));
        if (it == set.values.end()) {
            std::string allowed;
            for (const auto& a : set.values) allowed += (allowed.empty() ? "" : ", ") + a;
            return "label \"" + set.name + "\" cannot be \"" + std::string(*s) +
                   "\" (its values: " + allowed + ")";
        }
        const auto index = static_cast<std::uint16_t>(it - set.values.begin());
        o.indexes.push_back(index);
        o.key = o.key * set.values.size() + index;
    }
    return std::nullopt;
}

}  // namespace sidelight::rules
