#pragma once
// The audit side of the agent: the store (SQLite), the writer thread that batches events into
// it, the compiled rules that turn finished requests into events, the brute-force detector,
// and the event API's store access. The proxy reaches it only through the observer and the
// strict gate; nothing here blocks a proxy worker.
// Thread-safety: on_request() from every worker thread; the API calls from the admin thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "agent/audit_metrics.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"

namespace sidelight::agent {

class audit_pipeline {
  public:
    // Opens (or creates) the store and starts the writer. Throws audit::store_error with the
    // store path and reason when the store cannot be opened.
    audit_pipeline(const config::config& cfg, prometheus::Registry& registry);
    ~audit_pipeline();

    audit::writer& writer() { return *writer_; }
    // A second connection for reads (event API, queries): the writer's is the writer's alone.
    audit::store& reader() { return *reader_; }
    audit_metrics& metrics() { return *metrics_; }

    bool healthy() const { return writer_->healthy(); }
    std::string last_error() const { return writer_->last_error(); }
    std::int64_t queue_depth() const { return writer_->stats().queue_depth.load(); }

    // SIGTERM: commits everything queued (retrying a failing store until the deadline).
    bool drain(std::chrono::steady_clock::time_point deadline);

  private:
    std::unique_ptr<audit::sqlite_store> store_;
    std::unique_ptr<audit::sqlite_store> reader_;
    std::unique_ptr<audit_metrics> metrics_;
    std::atomic<audit_metrics*> duration_sink_{nullptr};  // set once metrics_ exists
    std::unique_ptr<audit::writer> writer_;
};

}  // namespace sidelight::agent
