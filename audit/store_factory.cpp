#include "audit/store_factory.hpp"

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
                          " is not available in this build (sqlite is)");
    }
    std::unique_ptr<store> s = std::make_unique<sqlite_store>(cfg, mode);
    if (wrapper_ && mode == open_mode::create) s = wrapper_(std::move(s));
    return s;
}

}  // namespace sidelight::audit
