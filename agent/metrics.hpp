#pragma once
// The metric registry (prometheus-cpp core) and the proxy observer that feeds it.
//
// Families are built once at startup and handles resolved once, so recording a request touches
// only pre-resolved series. The text exposition (format 0.0.4) is rendered by prometheus-cpp's
// TextSerializer and served by our own admin server.
// Thread-safety: on_request/on_connection are called from every worker thread concurrently;
// render() from the admin thread.

#include <array>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "agent/process_metrics.hpp"
#include "config/config.hpp"
#include "proxy/request_record.hpp"

namespace sidelight::agent {

class metrics : public proxy::observer {
  public:
    explicit metrics(const config::config& cfg);

    void on_request(const proxy::request_record& record) override;
    void on_connection(proxy::connection_type type, int delta) override;

    // The whole exposition: registry families plus process_* metrics.
    std::string render() const;
    prometheus::Registry& registry() { return *registry_; }

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    process_metrics process_;
    std::array<prometheus::Gauge*, 3> connections_{};
    bool access_log_ = false;
};

}  // namespace sidelight::agent
