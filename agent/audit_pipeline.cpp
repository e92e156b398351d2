#include "agent/audit_pipeline.hpp"

#include <unistd.h>
#include <cstdio>

#include <spdlog/spdlog.h>

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

audit_pipeline::audit_pipeline(const config::config& cfg, prometheus::Registry& registry) {
    if (cfg.audit.store.type != "sqlite") {
        throw audit::store_error("audit.store.type " + cfg.audit.store.type +
                                 " is not available yet (sqlite is)");
    }
    store_ = std::make_unique<audit::sqlite_store>(cfg.audit.store);
    reader_ = std::make_unique<audit::sqlite_store>(cfg.audit.store, audit::open_mode::existing);
    const auto head = store_->head();
    audit::writer_hooks hooks;
    hooks.on_checkpoint = print_checkpoint;
    hooks.on_duration = [this](std::string_view op, std::string_view table, double ms) {
        if (auto* m = duration_sink_.load()) m->observe_duration(op, table, ms);
    };
    writer_ = std::make_unique<audit::writer>(*store_, cfg.audit, std::move(hooks));
    metrics_ = std::make_unique<audit_metrics>(writer_->stats(), registry, cfg.metrics.prefix);
    duration_sink_.store(metrics_.get());
    spdlog::info("audit: store={} head_seq={}", store_->path(), head.seq);
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
