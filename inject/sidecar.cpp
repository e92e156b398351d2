#include "inject/sidecar.hpp"

#include "inject/yaml_text.hpp"

namespace sidelight::inject::detail {
namespace {

// Fills {name}-style holes of a YAML template; the values are names and numbers that need no
// quoting.
std::string fill_hole(std::string text, const std::string& hole, const std::string& value) {
    for (auto at = text.find(hole); at != std::string::npos; at = text.find(hole, at))
        text.replace(at, hole.size(), value), at += value.size();
    return text;
}

// The shape of deploy/kubernetes/base/deployment.yaml's sidelight container (its comments say
// why each field is what it is).
constexpr const char* container_yaml = R"(
name: sidelight
image: {image}
restartPolicy: Always
args: ["run", "--config", "/etc/sidelight/sidelight.yaml"]
env:
  - name: SIDELIGHT_ADMIN_TOKEN
    valueFrom:
      secretKeyRef: {name: {workload}-sidelight, key: admin-token, optional: true}
  - name: SIDELIGHT_LOG_FORMAT
    value: json
ports:
  - {name: sidelight-http, containerPort: {http}, protocol: TCP}
  - {name: sidelight-admin, containerPort: {admin}, protocol: TCP}
startupProbe:
  httpGet: {path: /livez, port: sidelight-admin}
  periodSeconds: 1
  failureThreshold: 30
readinessProbe:
  httpGet: {path: /readyz, port: sidelight-admin}
  periodSeconds: 2
  failureThreshold: 1
livenessProbe:
  httpGet: {path: /livez, port: sidelight-admin}
  periodSeconds: 10
  failureThreshold: 3
resources:
  requests: {cpu: 100m, memory: 64Mi}
  limits: {cpu: "1", memory: 256Mi}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  capabilities: {drop: [ALL]}
  seccompProfile: {type: RuntimeDefault}
volumeMounts:
  - {name: sidelight-config, mountPath: /etc/sidelight, readOnly: true}
  - {name: sidelight-audit, mountPath: /var/lib/sidelight}
  - {name: sidelight-tmp, mountPath: /tmp}
)";

constexpr const char* volumes_yaml = R"(
- name: sidelight-config
  configMap: {name: {config}}
- name: sidelight-audit
  emptyDir: {sizeLimit: 1Gi}
- name: sidelight-tmp
  emptyDir: {sizeLimit: 64Mi}
)";

constexpr const char* claim_yaml = R"(
metadata:
  name: sidelight-audit
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}
)";

constexpr const char* policy_yaml = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  labels: {app.kubernetes.io/managed-by: sidelight-inject}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - ports:
        - {protocol: TCP, port: {http}}
    - from:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: monitoring}
      ports:
        - {protocol: TCP, port: {admin}}
)";

constexpr const char* config_map_yaml = R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels: {app.kubernetes.io/managed-by: sidelight-inject}
data: {}
)";

void set_namespace(YAML::Node& object, const YAML::Node& namespace_name) {
    if (namespace_name.IsDefined() && namespace_name.IsScalar())
        object["metadata"] =
            insert_before(object["metadata"], "namespace", namespace_name, "labels");
}

}  // namespace

YAML::Node sidecar_container(const sidecar_params& p) {
    auto text = fill_hole(container_yaml, "{image}", p.image);
    text = fill_hole(text, "{workload}", p.workload);
    text = fill_hole(text, "{http}", std::to_string(p.http_port));
    return YAML::Load(fill_hole(text, "{admin}", std::to_string(p.admin_port)));
}

YAML::Node sidecar_volumes(const std::string& config_map, bool audit_on_claim) {
    auto volumes = YAML::Load(fill_hole(volumes_yaml, "{config}", config_map));
    if (!audit_on_claim) return volumes;
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& v : volumes)
        if (v["name"].Scalar() != audit_volume) out.push_back(v);
    return out;
}

YAML::Node audit_claim_template() {
    return YAML::Load(claim_yaml);
}

YAML::Node pre_stop() {
    return YAML::Load("sleep: {seconds: " + std::to_string(pre_stop_seconds) + "}");
}

YAML::Node network_policy(const std::string& name, const YAML::Node& namespace_name,
                          const YAML::Node& match_labels, std::uint16_t http_port,
                          std::uint16_t admin_port) {
    auto text = fill_hole(policy_yaml, "{name}", name);
    text = fill_hole(text, "{http}", std::to_string(http_port));
    auto policy = YAML::Load(fill_hole(text, "{admin}", std::to_string(admin_port)));
    set_namespace(policy, namespace_name);
    YAML::Node selector(YAML::NodeType::Map);
    selector["matchLabels"] = YAML::Clone(match_labels);
    policy["spec"]["podSelector"] = selector;
    return policy;
}

YAML::Node config_map(const std::string& name, const YAML::Node& namespace_name,
                      const std::string& config_text) {
    auto map = YAML::Load(fill_hole(config_map_yaml, "{name}", name));
    set_namespace(map, namespace_name);
    YAML::Node data(YAML::NodeType::Map);
    data["sidelight.yaml"] = string_node(config_text);
    map["data"] = data;
    return map;
}

}  // namespace sidelight::inject::detail
