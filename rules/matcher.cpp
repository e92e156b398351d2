#include "rules/matcher.hpp"

#include <algorithm>

#include "config/load.hpp"
#include "routes/route_template.hpp"

namespace sidelight::rules {
namespace {

using source_kind = config::value_source::kind;

routes::method_set method_set_of(const std::vector<routes::http_method>& methods) {
    if (methods.empty()) return routes::method_set::all();
    routes::method_set out;
    for (const auto m : methods) out.add(m);
    return out;
}

}  // namespace

bool in_ranges(int status, const std::vector<config::status_range>& ranges) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const auto& s) { return status >= s.low && status <= s.high; });
}

rule_matcher rule_matcher::compile(const config::rule_match& m, const routes::route_table& table,
                                   const config::source_mark& mark, const std::string& key) {
    rule_matcher out;
    const auto& entries = table.entries();
    for (std::size_t i = 0; i < m.routes.size(); ++i) {
        const auto path = key + ".match.routes[" + std::to_string(i) + "]";
        const auto label = routes::parse_template(m.routes[i], mark, path).label;
        const bool known = std::any_of(entries.begin(), entries.end(),
                                       [&](const auto& e) { return e.label == label; });
        if (!known) {
            throw config::config_error(
                mark, path,
                "route '" + m.routes[i] + "' is not in the route table" +
                    (m.listener.empty() ? "" : " of egress listener " + m.listener));
        }
        out.routes.push_back(label);
    }
    std::vector<routes::http_method> methods;
    for (const auto& method : m.methods) methods.push_back(routes::parse_method(method));
    out.methods = method_set_of(methods);
    out.status = m.status;
    return out;
}

bool rule_matcher::matches(const routes::request_record& r, bool status_known) const {
    if (!methods.contains(r.method_id)) return false;
    if (status.empty()) return true;
    return status_known && in_ranges(r.outcome_status(), status);
}

void want(routes::capture_plan& plan, const config::value_source& s, routes::method_set methods,
          bool unique) {
    switch (s.from) {
        case source_kind::request_body:
            plan.request_body |= methods;
            break;
        case source_kind::response_body:
            plan.response_body |= methods;
            break;
        case source_kind::header:
        case source_kind::jwt_claim: {
            std::string name = s.from == source_kind::header ? s.key : "authorization";
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            const auto known = std::find_if(plan.headers.begin(), plan.headers.end(),
                                            [&](const auto& h) { return h.name == name; });
            const routes::method_set refused = unique ? methods : routes::method_set{};
            if (known != plan.headers.end()) {
                known->methods |= methods;
                known->unique |= refused;
            } else {
                plan.headers.push_back({std::move(name), methods, refused});
            }
            break;
        }
        default:
            break;
    }
}

void refuse_unknown_path_param(const config::value_source& s, const routes::route_table& table,
                               const rule_matcher& m, const std::string& key) {
    if (s.from != source_kind::path_param) return;
    const auto& labels = m.routes;
    std::vector<std::string_view> candidates;  // the first three, for the message
    std::size_t count = 0;
    for (const auto& e : table.entries()) {
        if (!labels.empty() && std::find(labels.begin(), labels.end(), e.label) == labels.end())
            continue;
        const bool method_overlap = !(e.request_methods() & m.methods).empty();
        if (!method_overlap) continue;
        const auto& names = table.param_names(e.id);
        if (std::find(names.begin(), names.end(), s.key) != names.end()) return;
        if (!candidates.empty() && candidates.back() == e.label) continue;  // GET and PUT entries
        if (++count <= 3) candidates.push_back(e.label);
    }
    std::string message = "no route this rule can match has a parameter \"" + s.key + "\"";
    if (candidates.empty()) message += " (it matches no configured route)";
    for (std::size_t i = 0; i < candidates.size(); ++i)
        message.append(i == 0 ? " (it matches " : ", ").append(candidates[i]);
    if (!candidates.empty()) message += count > 3 ? ", ...)" : ")";
    throw config::config_error(s.mark, key, message);
}

route_lookup::route_lookup(std::shared_ptr<const routes::route_table> table, bool by_label)
    : table_(std::move(table)) {
    if (!by_label) return;
    for (const auto& e : table_->entries()) ids_by_label_.emplace(e.label, e.id);
}

routes::route_id route_lookup::of(const routes::request_record& r) const {
    if (!r.route_configured || r.route == routes::unmatched_route) return routes::unmatched_route;
    if (r.route <= table_->size() && table_->label(r.route).data() == r.route_label.data())
        return r.route;
    const auto it = ids_by_label_.find(r.route_label);
    return it == ids_by_label_.end() ? routes::unmatched_route : it->second;
}

}  // namespace sidelight::rules
