#include "audit/store_factory.hpp"

#include "audit/pg_store.hpp"

namespace sidelight::audit {
namespace {

store_wrapper wrapper_ = nullptr;

}  // namespace

void set_store_wrapper(store_wrapper wrapper) {
    wrapper_ = wrapper;
}

std::unique_ptr<store> open_store(const config::store_config& cfg, open_mode mode) {
    if (!store_type_available(cfg.type)) {
        throw store_error("audit.store.type " + cfg.type +
                          " is not available in this build (sqlite and postgres are)");
    }
    if (cfg.type == "postgres") {
        if (mode == open_mode::create)
            throw store_error("the postgres store is written through its spool");
        return std::make_unique<pg_reader>(cfg.dsn, cfg.chain);
    }
    std::unique_ptr<store> s = std::make_unique<sqlite_store>(cfg, mode);
    if (wrapper_ && mode == open_mode::create) s = wrapper_(std::move(s));
    return s;
}

std::unique_ptr<sqlite_store> open_spool(const config::store_config& cfg) {
    config::store_config spool = cfg;
    spool.path = cfg.spool.path;
    return std::make_unique<sqlite_store>(spool, open_mode::create,
                                          spool_options{cfg.spool.max_bytes});
}

}  // namespace sidelight::audit
