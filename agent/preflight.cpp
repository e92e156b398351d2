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
    auto table = routes::routing::build_table(cfg);  // templates, the OpenAPI file
    r.rules = std::make_shared<const rules::rule_set>(r.cfg, table, jwt_counts);  // JWT key too
    r.routes = std::make_shared<const routes::routing>(cfg, std::move(table), r.rules->plans());
    check_checkpoint_key(cfg);
    if (!audit::store_type_available(cfg.audit.store.type)) {
        throw error_at(
            cfg, "audit.store.type",
            cfg.audit.store.type + " is not available in this build (sqlite and postgres are)");
    }
    check_listen(cfg, "proxy.listen", cfg.proxy.listen);
    check_listen(cfg, "admin.listen", cfg.admin.listen);
    return r;
}

}  // namespace sidelight::agent
