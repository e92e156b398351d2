#include "agent/metrics.hpp"

#include <prometheus/text_serializer.h>

#include "agent/access_log.hpp"

namespace sidelight::agent {

metrics::metrics(const config::config& cfg)
    : registry_(std::make_shared<prometheus::Registry>()), access_log_(cfg.access_log) {
    auto& conns = prometheus::BuildGauge()
                      .Name("active_connections")
                      .Help("Open connections by type (client, upstream, websocket).")
                      .Register(*registry_);
    for (auto t : {proxy::connection_type::client, proxy::connection_type::upstream,
                   proxy::connection_type::websocket}) {
        connections_[static_cast<std::size_t>(t)] =
            &conns.Add({{"type", std::string(proxy::connection_label(t))}});
    }
    prometheus::BuildGauge()
        .Name("sidelight_build_info")
        .Help("Build information; the value is always 1.")
        .Register(*registry_)
        .Add({{"version", SIDELIGHT_VERSION}})
        .Set(1);
}

void metrics::on_request(const proxy::request_record& record) {
    if (access_log_) write_access_line(record);
}

void metrics::on_connection(proxy::connection_type type, int delta) {
    connections_[static_cast<std::size_t>(type)]->Increment(delta);
}

std::string metrics::render() const {
    auto families = registry_->Collect();
    auto process = process_.Collect();
    families.insert(families.end(), std::make_move_iterator(process.begin()),
                    std::make_move_iterator(process.end()));
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace sidelight::agent
