#include "agent/audit_pipeline.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "audit/checkpoint.hpp"
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
    : cfg_(std::move(cfg)) {
    const auto& store_cfg = cfg_->audit.store;
    auto on_duration = [this](std::string_view op, std::string_view table, double ms) {
        if (auto* m = duration_sink_.load()) m->observe_duration(op, table, ms);
    };
    audit::writer_hooks hooks;
    hooks.on_checkpoint = print_checkpoint;
    hooks.on_duration = on_duration;
    if (store_cfg.type == "postgres") {
        spool_ = audit::open_spool(store_cfg);
        forwarder_ = std::make_unique<audit::forwarder>(*spool_, store_cfg, on_duration);
        hooks.on_checkpoint = [this](const std::string& line) {
            print_checkpoint(line);
            try {
                spool_->record_checkpoint(audit::parse_checkpoint_line(line));
            } catch (const std::exception& e) {
                spdlog::warn("audit: checkpoint not spooled for Postgres: {}", e.what());
            }
        };
        hooks.on_commit = [this] { forwarder_->notify(); };
    } else {
        store_ = audit::open_store(store_cfg, audit::open_mode::create);
    }
    reader_ = audit::open_store(store_cfg, audit::open_mode::existing);
    audit::store& target = spool_ ? static_cast<audit::store&>(*spool_) : *store_;
    const auto head = target.head();
    writer_ = std::make_unique<audit::writer>(target, cfg_->audit, std::move(hooks));
    recorder_ = std::make_unique<rules::audit_recorder>(*writer_, *cfg_);
    metrics_ = std::make_unique<audit_metrics>(writer_->stats(), registry);
    metrics_->set_detector(&recorder_->detector());
    metrics_->set_jwt_stats(&jwt_counts);
    if (forwarder_) metrics_->set_forwarder(forwarder_.get());
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
    if (spool_) {
        spdlog::info("audit: store=postgres dsn=\"{}\" chain={} spool={} head_seq={}",
                     config::redact_dsn(store_cfg.dsn), store_cfg.chain, store_cfg.spool.path,
                     head.seq);
    } else {
        spdlog::info("audit: store={} head_seq={}", store_cfg.path, head.seq);
    }
}

audit_pipeline::~audit_pipeline() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    if (writer_) writer_->drain(deadline);
    if (forwarder_) forwarder_->stop(deadline);
}

// The writer first (every event committed to the store or spool), then the forwarder (what it
// cannot send by the deadline stays in the spool, forwarded at the next start).
bool audit_pipeline::drain(std::chrono::steady_clock::time_point deadline) {
    const bool ok = writer_->drain(deadline);
    if (!ok) spdlog::error("audit: drain deadline passed with events unwritten");
    if (forwarder_ && !forwarder_->stop(deadline)) {
        spdlog::warn("audit: {} events stay in the spool for Postgres (forwarded at next start)",
                     forwarder_->status().lag_events);
    }
    return ok;
}

std::optional<audit::forwarder_status> audit_pipeline::forward_status() const {
    if (!forwarder_) return std::nullopt;
    return forwarder_->status();
}

}  // namespace sidelight::agent
