#include "agent/preflight.hpp"

#include <boost/asio/ip/address.hpp>

#include "audit/checkpoint.hpp"
#include "audit/store.hpp"
#include "config/load.hpp"

namespace sidelight::agent {
namespace {

// For settings the loader keeps no position of: the file, and the key path.
config::config_error error_at(const config::config& cfg, const std::string& key_path,
                              const std::string& message) {
    return config::config_error(config::source_mark{cfg.file, 0, 0}, key_path, message);
}

// The listeners take an IP address (admin_server, proxy::server): a name is refused there.
void check_listen(const config::config& cfg, const std::string& key_path,
                  const config::address& listen) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(listen.host, ec);
    if (ec) {
        throw error_at(cfg, key_path,
                       "\"" + listen.host +
                           "\" is not an IP address; a listener needs one "
                           "(0.0.0.0, 127.0.0.1, [::], [::1], ...)");
    }
}

// The writer's own loader, so that check reports what run would, at the key's position.
void check_checkpoint_key(const config::config& cfg) {
    (void)audit::make_checkpoint_signer(cfg.audit.checkpoint);
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
        throw error_at(
            cfg, "audit.store.type",
            cfg.audit.store.type + " is not available in this build (sqlite and postgres are)");
    }
    check_listen(cfg, "proxy.listen", cfg.proxy.listen);
    check_listen(cfg, "admin.listen", cfg.admin.listen);
    for (std::size_t i = 0; i < cfg.egress.size(); ++i)
        check_listen(cfg, "egress[" + std::to_string(i) + "].listen", cfg.egress[i].listen);
    return r;
}

}  // namespace sidelight::agent
