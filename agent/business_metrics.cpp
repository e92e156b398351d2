#include "agent/business_metrics.hpp"

#include <charconv>
#include <cmath>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace sidelight::agent {
namespace {

using rules::compiled_metric;

admin_response json(int status, const boost::json::object& o) {
    return {status, "application/json", boost::json::serialize(o) + "\n"};
}

admin_response json_error(int status, const std::string& message) {
    return json(status, {{"error", message}});
}

bool is_counter(const compiled_metric& m) {
    return m.rule->type == config::metric_rule::kind::counter;
}

}  // namespace

business_metrics::business_metrics()
    : current_(std::make_shared<const installed>()),
      skipped_registry_(std::make_shared<prometheus::Registry>()),
      skipped_(&prometheus::BuildCounter()
                    .Name("sidelight_metric_rule_skipped_total")
                    .Help("Requests a metric rule matched but did not record, by rule and reason "
                          "(missing_value, not_numeric, negative_value, unmapped_label, "
                          "body_truncated).")
                    .Register(*skipped_registry_)) {}

std::string business_metrics::identity(const compiled_metric& m) {
    std::string id = m.rule->name;
    id.append("\n").append(is_counter(m) ? "counter" : "histogram");
    id.append("\n").append(m.rule->help).append("\n");
    if (!is_counter(m))
        for (double b : m.buckets) {  // shortest text that reads back as b (to_string: 6 decimals)
            char text[32];
            const auto end = std::to_chars(text, text + sizeof text, b).ptr;
            id.append(text, end).append(",");
        }
    for (const auto& l : m.labels) {
        id.append("\n").append(l.name).append("=");
        for (const auto& v : l.values) id.append(v).append("\x1f");
    }
    return id;
}

std::shared_ptr<business_metrics::family> business_metrics::make_family(const compiled_metric& m) {
    auto f = std::make_shared<family>();
    f->identity = identity(m);
    f->registry = std::make_shared<prometheus::Registry>();
    if (is_counter(m)) {
        f->counters = &prometheus::BuildCounter()
                           .Name(m.rule->name)
                           .Help(m.rule->help)
                           .Register(*f->registry);
    } else {
        f->histograms = &prometheus::BuildHistogram()
                             .Name(m.rule->name)
                             .Help(m.rule->help)
                             .Register(*f->registry);
        f->buckets = m.buckets;
    }
    return f;
}

void business_metrics::install(std::shared_ptr<const rules::metric_rules> rules) {
    std::lock_guard lock(install_mutex_);
    const auto previous = current_.get();
    auto next = std::make_shared<installed>();
    next->rules = std::move(rules);
    if (next->rules) {
        for (const auto& m : next->rules->rules()) {
            std::shared_ptr<family> kept;
            const auto id = identity(m);
            for (const auto& f : previous->families)
                if (f->identity == id) kept = f;
            next->families.push_back(kept ? kept : make_family(m));
        }
    }
    // The skipped counts of rules that are gone go with them.
    {
        std::lock_guard skipped_lock(skipped_mutex_);
        for (auto it = skipped_series_.begin(); it != skipped_series_.end();) {
            const bool present =
                next->rules &&
                std::any_of(next->rules->rules().begin(), next->rules->rules().end(),
                            [&](const auto& m) { return m.rule->name == it->first.first; });
            if (present) {
                ++it;
                continue;
            }
            skipped_->Remove(it->second);
            it = skipped_series_.erase(it);
        }
    }
    current_.publish(std::move(next));
}

void business_metrics::count_skip(const std::string& rule, rules::metric_skip reason) {
    std::lock_guard lock(skipped_mutex_);
    auto& c = skipped_series_[{rule, reason}];
    if (!c)
        c = &skipped_->Add({{"rule", rule}, {"reason", std::string(rules::skip_label(reason))}});
    c->Increment();
}

void business_metrics::record(const installed& current, const rules::metric_observation& o) {
    const auto index = static_cast<std::size_t>(o.metric - current.rules->rules().data());
    family& f = *current.families[index];
    void* series = nullptr;
    {
        std::shared_lock lock(f.mutex);
        if (const auto it = f.series.find(o.key); it != f.series.end()) series = it->second;
    }
    if (!series) {
        std::unique_lock lock(f.mutex);
        auto& slot = f.series[o.key];
        if (!slot) {
            prometheus::Labels labels;
            for (std::size_t i = 0; i < o.metric->labels.size(); ++i)
                labels.emplace(o.metric->labels[i].name, o.metric->labels[i].values[o.indexes[i]]);
            if (f.counters)
                slot = &f.counters->Add(labels);
            else
                slot =
                    &f.histograms->Add(labels, prometheus::Histogram::BucketBoundaries(f.buckets));
        }
        series = slot;
    }
    if (f.counters)
        static_cast<prometheus::Counter*>(series)->Increment(o.value);
    else
        static_cast<prometheus::Histogram*>(series)->Observe(o.value);
}

void business_metrics::on_request(const routes::request_record& r) {
    thread_local std::shared_ptr<const installed> current;
    thread_local std::uint64_t generation = 0;
    current_.refresh(current, generation);
    if (!current->rules || current->rules->empty()) return;
    current->rules->evaluate(r, [&](const rules::metric_observation& o) {
        if (o.skipped)
            count_skip(o.metric->rule->name, *o.skipped);
        else
            record(*current, o);
    });
}

admin_response business_metrics::handle_api(const admin_request& req) {
    if (req.method != "POST") {
        auto res = json_error(405, "use POST");
        res.headers.emplace_back("Allow", "POST");
        return res;
    }
    boost::json::error_code ec;
    const auto doc = boost::json::parse(req.body, ec);
    if (ec) return json_error(400, "the body is not JSON: " + ec.message());
    std::vector<const boost::json::value*> items;
    if (const auto* a = doc.if_array()) {
        for (const auto& v : *a) items.push_back(&v);
        if (items.empty()) return json_error(400, "an empty array records nothing");
        if (items.size() > 10'000) return json_error(400, "at most 10000 observations per request");
    } else {
        items.push_back(&doc);
    }
    const auto current = current_.get();
    std::vector<rules::metric_observation> resolved;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto where = items.size() > 1 ? "[" + std::to_string(i) + "]: " : std::string();
        const auto* o = items[i]->if_object();
        if (!o) return json_error(400, where + "expected an object {name, labels, inc|observe}");
        for (const auto& [key, value] : *o) {
            if (key != "name" && key != "labels" && key != "inc" && key != "observe")
                return json_error(400, where + "unknown key \"" + std::string(key) +
                                           "\" (expected name, labels, inc or observe)");
        }
        const auto* name = o->if_contains("name");
        if (!name || !name->is_string())
            return json_error(400, where + "\"name\" must be a string");
        static const boost::json::object no_labels;
        const auto* labels = o->if_contains("labels");
        if (labels && !labels->is_object())
            return json_error(400, where + "\"labels\" must be an object");
        if (!current->rules) return json_error(400, where + "no metric rules are configured");
        rules::metric_observation obs;
        if (auto error = current->rules->resolve(name->as_string(),
                                                 labels ? labels->as_object() : no_labels, obs))
            return json_error(400, where + *error);
        const auto* inc = o->if_contains("inc");
        const auto* observe = o->if_contains("observe");
        const bool counter = is_counter(*obs.metric);
        if (inc && observe) return json_error(400, where + "give \"inc\" or \"observe\", not both");
        if (counter && observe)
            return json_error(400, where + obs.metric->rule->name + " is a counter: use \"inc\"");
        if (!counter && inc)
            return json_error(400,
                              where + obs.metric->rule->name + " is a histogram: use \"observe\"");
        if (!counter && !observe) return json_error(400, where + "\"observe\" is missing");
        const auto* number = counter ? inc : observe;
        obs.value = 1;
        if (number) {
            if (!number->is_number()) return json_error(400, where + "the value must be a number");
            obs.value = number->to_number<double>();
            // The bounds a value read from the traffic has (rules/metric_rules.hpp): beyond
            // 10^15 a double no longer counts by one, and +Inf would stay until a restart.
            if (!std::isfinite(obs.value) || std::abs(obs.value) > rules::max_metric_value)
                return json_error(400, where + "the value must be a number within ±1e15");
            if (obs.value < 0)
                return json_error(400,
                                  where + (counter ? "a counter only goes up: \"inc\" must be >= 0"
                                                   : "\"observe\" must be >= 0"));
        }
        resolved.push_back(std::move(obs));
    }
    for (const auto& obs : resolved) record(*current, obs);
    return json(200, {{"recorded", resolved.size()}});
}

std::vector<prometheus::MetricFamily> business_metrics::Collect() const {
    const auto current = current_.get();
    std::vector<prometheus::MetricFamily> out;
    for (const auto& f : current->families) {
        auto families = f->registry->Collect();
        out.insert(out.end(), std::make_move_iterator(families.begin()),
                   std::make_move_iterator(families.end()));
    }
    auto skipped = skipped_registry_->Collect();
    out.insert(out.end(), std::make_move_iterator(skipped.begin()),
               std::make_move_iterator(skipped.end()));
    return out;
}

}  // namespace sidelight::agent
