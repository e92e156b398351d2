// The listener specs (listener.hpp): plain copies out of the config's sections.

#include "proxy/listener.hpp"

namespace sidelight::proxy {

listener_spec ingress_listener(const config::config& cfg) {
    listener_spec spec;
    spec.listen = cfg.proxy.listen;
    spec.workers = cfg.proxy.workers;
    spec.max_connections = cfg.proxy.max_connections;
    spec.upstream = cfg.upstream;
    return spec;
}

listener_spec egress_listener(const config::config& cfg, std::size_t i) {
    const auto& e = cfg.egress.at(i);
    listener_spec spec;
    spec.index = static_cast<std::uint8_t>(i + 1);
    spec.name = e.name;
    spec.listen = e.listen;
    spec.workers = e.workers;
    spec.max_connections = cfg.proxy.max_connections;
    spec.upstream = e.upstream;
    spec.egress = true;
    return spec;
}

std::string listener_label(const listener_spec& spec) {
    return spec.egress ? " (egress " + spec.name + ")" : std::string();
}

std::string upstream_authority(const config::upstream_config& upstream) {
    const auto& host = upstream.tls.sni.empty() ? upstream.address.host : upstream.tls.sni;
    std::string out = host.find(':') == std::string::npos ? host : "[" + host + "]";
    const std::uint16_t default_port = upstream.tls.enabled ? 443 : 80;
    if (upstream.address.port != default_port) out += ":" + std::to_string(upstream.address.port);
    return out;
}

}  // namespace sidelight::proxy
