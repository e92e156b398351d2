#pragma once
// Which HTTP listener a proxy::server serves: the proxy itself (ingress, from `proxy` and
// `upstream`) or one of the egress listeners (`egress[i]`: the app's calls to an outside API).
// The server reads its address, workers, connection cap and upstream from the spec, never from
// the config's sections directly, so one server class serves both kinds; `egress` switches the
// header rewrite to transparent (no forwarding fields, the upstream's own Host).
// Plain data and pure functions; thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.hpp"

namespace sidelight::proxy {

struct listener_spec {
    std::uint8_t index = 0;  // request_record::listener: 0 ingress, i egress[i - 1]
    std::string name = "ingress";
    config::address listen;
    unsigned workers = 0;  // 0: the cgroup CPU limit (ingress only; egress has its own default)
    std::size_t max_connections = 10000;
    config::upstream_config upstream;
    bool egress = false;
};

// The proxy listener: proxy.listen, proxy.workers, proxy.max_connections and `upstream`.
listener_spec ingress_listener(const config::config& cfg);
// egress[i]: its listen, workers and upstream; the connection cap of proxy.max_connections.
listener_spec egress_listener(const config::config& cfg, std::size_t i);

// What error messages call the listener after its address: "" for ingress (its messages stay
// as they were), " (egress mail)" for an egress listener.
std::string listener_label(const listener_spec& spec);

// The upstream's authority, the Host an egress listener sends: the TLS name (`tls.sni`) when
// set, else the address's host, with ":port" unless the port is the scheme's default (443
// with TLS, 80 without).
std::string upstream_authority(const config::upstream_config& upstream);

}  // namespace sidelight::proxy
