#include "agent/audit_pipeline.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "audit/store_factory.hpp"

namespace sidelight::agent {
namespace {

// Checkpoints go to stdout as one JSON line each, to be shipped off the pod with the logs.
void print_checkpoint(const std::string& line) {
    const std::string out = line + "\n";
    if (::write(STDOUT_FILENO, out.data(), out.size()) < 0) {
        spdlog::warn("audit: could not write a checkpoint line to stdout");
    }
}

}  // namespace

audit_pipeline::audit_pipeline(std::shared_ptr<const config::config> cfg,
                               prometheus::Registry& registry, const rules::jwt_stats& jwt_counts)
    : cfg_(std::move(cfg)),
      store_(audit::open_store(cfg_->audit.store, audit::open_mode::create)),
      reader_(audit::open_store(cfg_->audit.store, audit::open_mode::existing)) {
    const auto head = store_->head();
    audit::writer_hooks hooks;
    hooks.on_checkpoint = print_checkpoint;
    hooks.on_duration = [this](std::string_view op, std::string_view table, double ms) {
        if (auto* m = duration_sink_.load()) m->observe_duration(op, table, ms);
    };
    writer_ = std::make_unique<audit::writer>(*store_, cfg_->audit, std::move(hooks));
    recorder_ = std::make_unique<rules::audit_recorder>(*writer_, *cfg_);
    metrics_ = std::make_unique<audit_metrics>(writer_->stats(), registry, cfg_->metrics.prefix);
    metrics_->set_detector(&recorder_->detector());
    metrics_->set_jwt_stats(&jwt_counts);
    duration_sink_.store(metrics_.get());
    // The event API redacts with the keys of the rules in force, as rule-captured events are.
    auto keys = [this]() -> const std::vector<std::string>& {
        const auto& rules = recorder_->current();
        return rules ? rules->redact_keys() : cfg_->audit.redact_keys;
    };
    auto on_read = [this](std::string_view op, std::string_view table, double ms) {
        metrics_->observe_duration(op, table, ms);
    };
    api_ = std::make_unique<audit::event_endpoint>(cfg_->audit, cfg_->admin.token, *writer_,
                                                   *reader_, std::move(keys), std::move(on_read));
    spdlog::info("audit: store={} head_seq={}", cfg_->audit.store.path, head.seq);
}

audit_pipeline::~audit_pipeline() {
    if (writer_) writer_->drain(std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

bool audit_pipeline::drain(std::chrono::steady_clock::time_point deadline) {
    const bool ok = writer_->drain(deadline);
    if (!ok) spdlog::error("audit: drain deadline passed with events unwritten");
    return ok;
}

}  // namespace sidelight::agent
