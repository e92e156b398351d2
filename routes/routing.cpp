#include "routes/routing.hpp"

namespace sidelight::routes {

// config::load_file has already made the OpenAPI path relative to the config file's directory
// (or absolute): joined with that directory once more, a relative `-c sub/sidelight.yaml` would
// look for sub/sub/api.yaml.
std::shared_ptr<const route_table> routing::build_table(const config::config& cfg) {
    return route_table::build(cfg.routes);
}

config::routes_config routing::egress_routes(const config::config& cfg, std::size_t i) {
    config::routes_config out;
    out.entries = cfg.egress.at(i).routes;
    out.case_sensitive = cfg.routes.case_sensitive;
    return out;
}

std::shared_ptr<const route_table> routing::build_egress_table(const config::config& cfg,
                                                               std::size_t i) {
    return route_table::build(egress_routes(cfg, i));  // no OpenAPI file: its entries only
}

routing::routing(const config::config& cfg, std::shared_ptr<const route_table> table,
                 std::vector<capture_plan> plans)
    : routing(cfg.routes, std::move(table), std::move(plans)) {}

routing::routing(const config::routes_config& routes, std::shared_ptr<const route_table> table,
                 std::vector<capture_plan> plans)
    : table_(std::move(table)), plans_(std::move(plans)) {
    if (routes.unmatched == config::unmatched_mode::normalize) {
        normalizer_ = std::make_unique<unmatched_normalizer>(
            static_cast<route_id>(table_->size() + 1), routes.max_routes);
    }
    if (!plans_.empty()) plans_.resize(table_->size() + 1);
}

route_id routing::resolve(http_method method, std::string_view target, param_list* params) const {
    const route_id id = table_->match(method, target, params);
    if (id != unmatched_route || !normalizer_) return id;
    return normalizer_->normalize(target);
}

std::string_view routing::label(route_id id) const {
    if (id == unmatched_route) return unmatched_label;
    if (id <= table_->size()) return table_->label(id);
    return normalizer_ ? normalizer_->label(id) : unmatched_label;
}

}  // namespace sidelight::routes
