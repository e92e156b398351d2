#pragma once
// Private to inject/: the objects `sidelight inject` adds, one function each. The container is
// the one deploy/kubernetes/base/deployment.yaml holds (tests/unit/inject compares them field by
// field): a native sidecar (an init container with restartPolicy: Always), its probes on the
// named admin port, resources sized from docs/BENCHMARKS.md, a restricted securityContext of
// its own, the config, audit and /tmp volumes. Pure functions; thread-safe.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

namespace sidelight::inject::detail {

// The names inject gives what it adds; uninject removes exactly these.
inline constexpr const char* container_name = "sidelight";
inline constexpr const char* config_volume = "sidelight-config";
inline constexpr const char* audit_volume = "sidelight-audit";
inline constexpr const char* tmp_volume = "sidelight-tmp";
inline constexpr const char* http_port_name = "sidelight-http";
inline constexpr const char* admin_port_name = "sidelight-admin";
// The pod template annotation that records what inject changed besides adding (so that
// uninject can put it back), and the one on a Service whose targetPorts it moved.
inline constexpr const char* state_annotation = "sidelight/injected";
inline constexpr const char* service_annotation = "sidelight/original-target-ports";
inline constexpr const char* managed_label = "app.kubernetes.io/managed-by";
inline constexpr const char* managed_value = "sidelight-inject";
// The app's preStop sleep, and the grace period that covers it, sidelight's shutdown.delay (2 s)
// and shutdown.grace (20 s) and some of the app's own shutdown (as in base/).
inline constexpr int pre_stop_seconds = 20;
inline constexpr int grace_seconds = 60;

struct sidecar_params {
    std::string workload;  // <workload>-sidelight names the Secret holding the admin token
    std::string image;
    std::uint16_t http_port = 8080;
    std::uint16_t admin_port = 9901;
};

YAML::Node sidecar_container(const sidecar_params& p);
// The pod volumes (config, audit on emptyDir unless `audit_on_claim`, tmp).
YAML::Node sidecar_volumes(const std::string& config_map, bool audit_on_claim);
// The StatefulSet's claim template for the audit store.
YAML::Node audit_claim_template();
// The app's preStop.
YAML::Node pre_stop();
// Ingress to sidelight's ports only (by number: before Kubernetes 1.32 and in older Calico a
// port name declared by an init container was not resolved): the app's port is reachable from
// inside the pod alone.
YAML::Node network_policy(const std::string& name, const YAML::Node& namespace_name,
                          const YAML::Node& match_labels, std::uint16_t http_port,
                          std::uint16_t admin_port);
// The ConfigMap holding sidelight.yaml.
YAML::Node config_map(const std::string& name, const YAML::Node& namespace_name,
                      const std::string& config_text);

}  // namespace sidelight::inject::detail
