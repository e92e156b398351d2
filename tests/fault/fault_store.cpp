// Linked into `sidelight_fault`, the test build of the binary (never into the shipped
// `sidelight`): with SIDELIGHT_FAULT_STORE_FILE set at start, every write to the audit store
// fails while that file exists, for tests of a store outage.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "audit/store_factory.hpp"

namespace sidelight::test {
namespace {

class fault_store final : public audit::store {
  public:
    fault_store(std::unique_ptr<audit::store> inner, std::string trigger)
        : inner_(std::move(inner)), trigger_(std::move(trigger)) {}
    std::vector<audit::stored_event> append(std::span<const audit::event> batch) override {
        if (std::filesystem::exists(trigger_)) throw audit::store_error("injected store fault");
        return inner_->append(batch);
    }
    std::vector<audit::stored_event> query(const audit::query_filter& f) override {
        return inner_->query(f);
    }
    audit::chain_head head() override { return inner_->head(); }

  private:
    std::unique_ptr<audit::store> inner_;
    std::string trigger_;
};

std::unique_ptr<audit::store> wrap(std::unique_ptr<audit::store> s) {
    const char* trigger = std::getenv("SIDELIGHT_FAULT_STORE_FILE");
    if (!trigger) return s;
    spdlog::warn("audit: fault injection on, trigger file {}", trigger);
    return std::make_unique<fault_store>(std::move(s), trigger);
}

const bool installed = [] {
    audit::set_store_wrapper(wrap);
    return true;
}();

}  // namespace
}  // namespace sidelight::test
