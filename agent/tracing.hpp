#pragma once
// Span export (`tracing.otlp`): the proxy observer that turns each sampled request into its two
// spans (otlp.hpp) and a background thread that sends them to an OpenTelemetry collector with
// OTLP/HTTP, in batches of `batch_max` or every `batch_interval`.
//
// Never blocks a request: on_request() copies the span data into a bounded queue under a
// mutex held for a push; a full queue drops the span pair and counts it. An export that fails
// (no connection, a timeout, an answer other than 2xx) drops its batch, counted by reason, and
// logs a warning at most once a minute; there is no retry (the next batch tries again).
//
// Metrics (registered in the registry given):
//   sidelight_tracing_spans_exported_total            spans the collector accepted
//   sidelight_tracing_spans_dropped_total{reason}     queue_full | export_failed
//   sidelight_tracing_export_requests_total{result}   ok | error
// Thread-safety: on_request() from any worker thread; stop() once, from the owner.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "agent/otlp.hpp"
#include "config/config.hpp"
#include "routes/request_record.hpp"

namespace sidelight::agent {

class span_exporter {
  public:
    span_exporter(const config::tracing_config& cfg, prometheus::Registry& registry);
    ~span_exporter();
    span_exporter(const span_exporter&) = delete;
    span_exporter& operator=(const span_exporter&) = delete;

    // A finished request: queued when its trace is sampled.
    void on_request(const routes::request_record& r);
    // Sends what is queued within one otlp.timeout (what is left then, or after a failed
    // send, is dropped and counted), then ends the thread.
    void stop();

  private:
    void run();
    // One POST, given up at otlp.timeout or `until`, whichever comes first.
    bool send(const std::string& body, std::chrono::steady_clock::time_point until,
              std::string& error, std::string& answer);
    void close_connection();

    config::tracing_config cfg_;
    otlp_resource resource_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<span_pair> queue_;
    bool stopping_ = false;                                // under mutex_
    std::chrono::steady_clock::time_point drain_until_{};  // under mutex_, once stopping_
    int fd_ = -1;  // the kept-alive connection to the collector, or -1
    std::chrono::steady_clock::time_point last_warning_{};
    prometheus::Counter* exported_;
    prometheus::Counter* dropped_full_;
    prometheus::Counter* dropped_failed_;
    prometheus::Counter* dropped_rejected_;
    std::chrono::steady_clock::time_point last_rejection_warning_{};
    prometheus::Counter* requests_ok_;
    prometheus::Counter* requests_error_;
    std::thread thread_;
};

// The span pair of one request (its trace must be active).
span_pair spans_of(const routes::request_record& r);

// The head of one export request to the collector (POST, Host, Content-Type, Content-Length).
std::string export_head(const config::otlp_config& otlp, std::size_t body_size);

}  // namespace sidelight::agent
