#include "agent/preflight.hpp"

#include "audit/checkpoint.hpp"
#include "audit/store.hpp"
#include "config/load.hpp"
#include "dbproxy/database_link.hpp"
#include "routes/route_template.hpp"

namespace sidelight::agent {
namespace {

// The listener's own loader: a ca_file that cannot be read fails check as it would fail run.
void check_database_ca(const config::database_config& db, const std::string& key) {
    const std::string where = key + ".upstream.ca_file";
    try {
        (void)dbproxy::make_db_tls_context(db, where);
    } catch (const std::runtime_error& e) {
        // The error names `where` already; the position and key come from config_error.
        std::string_view what = e.what();
        if (what.starts_with(where + ": ")) what.remove_prefix(where.size() + 2);
        throw config::config_error(db.upstream.ca_file_mark, where, std::string(what));
    }
}

// The writer's own loader, so that check reports what run would, at the key's position.
void check_checkpoint_key(const config::config& cfg) {
    (void)audit::make_checkpoint_signer(cfg.audit.checkpoint);
}

std::string methods_of(const routes::route_entry& e) {
    if (e.methods.empty()) return "any method";
    std::string out;
    for (std::size_t i = 0; i < routes::standard_method_count; ++i) {
        const auto m = static_cast<routes::http_method>(i);
        if (e.methods.contains(m)) out += (out.empty() ? "" : ",") + std::string(method_label(m));
    }
    return out;
}

// An SLO's route is a template of the proxy's table, with its method: the label values the
// SLI's series carry. Anything else would give rules that select nothing, and alert never.
void check_slo_route(const routes::route_table& table, const config::slo_spec& slo,
                     const std::string& key) {
    const auto label = routes::parse_template(slo.path_template, slo.route_mark, key).label;
    const auto method = routes::parse_method(slo.method);
    std::string other_methods;
    for (const auto& e : table.entries()) {
        if (e.label != label) continue;
        if (e.request_methods().contains(method)) return;
        other_methods += (other_methods.empty() ? "" : ", ") + methods_of(e);
    }
    const auto route = slo.method + " " + slo.path_template;
    if (!other_methods.empty())
        throw config::config_error(
            slo.route_mark, key,
            route + " is not a configured route: " + label + " is configured for " + other_methods);
    throw config::config_error(slo.route_mark, key,
                               "no configured route has the template " + label +
                                   " (`sidelight routes` lists the route table)");
}

}  // namespace

preflight_result preflight(const std::string& config_path, rules::jwt_stats* jwt_counts) {
    preflight_result r;
    r.cfg = config::load_file(config_path);
    const auto& cfg = *r.cfg;
    // Per listener (0: the proxy, i: egress[i - 1]): its table, then its rules.
    std::vector<std::shared_ptr<const routes::route_table>> tables{
        routes::routing::build_table(cfg)};  // templates, the OpenAPI file
    for (std::size_t i = 0; i < cfg.egress.size(); ++i)
        tables.push_back(routes::routing::build_egress_table(cfg, i));
    for (std::size_t i = 0; i < cfg.slos.size(); ++i)
        check_slo_route(*tables[0], cfg.slos[i], "slos[" + std::to_string(i) + "].route");
    auto rules = std::make_shared<rules::rule_set>(r.cfg, tables[0], jwt_counts);  // JWT key too
    std::vector<std::shared_ptr<const rules::rule_set>> egress_rules;
    for (std::size_t i = 0; i < cfg.egress.size(); ++i)
        egress_rules.push_back(
            std::make_shared<const rules::rule_set>(r.cfg, tables[i + 1], jwt_counts, i + 1));
    r.metric_rules = std::make_shared<const rules::metric_rules>(r.cfg, tables);
    auto plans = rules->plans();
    r.metric_rules->add_plans(0, plans);
    r.routes = std::make_shared<const routes::routing>(cfg, tables[0], std::move(plans));
    for (std::size_t i = 0; i < cfg.egress.size(); ++i) {
        auto egress_plans = egress_rules[i]->plans();
        r.metric_rules->add_plans(i + 1, egress_plans);
        r.egress_routes.push_back(std::make_shared<const routes::routing>(
            routes::routing::egress_routes(cfg, i), tables[i + 1], std::move(egress_plans)));
    }
    rules->attach_egress(std::move(egress_rules));
    r.rules = std::move(rules);
    check_checkpoint_key(cfg);
    if (!audit::store_type_available(cfg.audit.store.type)) {
        throw config::config_error(
            cfg.audit.store.type_mark, "audit.store.type",
            cfg.audit.store.type + " is not available in this build (sqlite and postgres are)");
    }
    // (A listener's address is an IP address: the loader checks it, at its position.)
    for (std::size_t i = 0; i < cfg.databases.size(); ++i)
        check_database_ca(cfg.databases[i], "databases[" + std::to_string(i) + "]");
    return r;
}

}  // namespace sidelight::agent
