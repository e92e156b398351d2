#pragma once
// `sidelight inject` and `sidelight uninject`: a stream of Kubernetes manifests in, the same
// stream out with sidelight added to (or removed from) every Deployment, StatefulSet and
// DaemonSet, as `linkerd inject` does. Pure functions of text: no file, no cluster.
//
// What inject adds (deploy/kubernetes/README.md, "sidelight inject"): the container of
// deploy/kubernetes/base as a native sidecar placed first in initContainers, its volumes (the
// config from the ConfigMap <workload>-sidelight, the audit store on an emptyDir, or on a
// volumeClaimTemplate in a StatefulSet, /tmp), a preStop sleep on the app's container, a
// terminationGracePeriodSeconds that covers it, an fsGroup for a StatefulSet's claim; with
// `service`, Services selecting the pod aim at sidelight-http (by number) and a NetworkPolicy
// admits only sidelight's ports; with `config_text`, the ConfigMap itself. What it changed besides
// adding is recorded in the pod template's annotation sidelight/injected, which uninject reads to
// put it back. Documents that carry no pod pass through unchanged (byte for byte), in order; a List
// (or a typed list, DeploymentList...) has its items processed. A workload already injected is left
// as it is.
//
// Refused, with nothing written: YAML that does not parse or repeats a key, a document that is
// not an object, a pod-bearing kind other than the three (CronJob, Job, Pod, ReplicaSet...),
// hostNetwork, an app container that cannot be told, no port for the upstream, a sidelight in
// the regular containers.
//
// Thread-safety: none shared; each call works on its own data.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidelight::inject {

struct options {
    std::string file_name = "-";             // for messages
    std::string container;                   // --container: the app's container
    std::optional<std::uint16_t> port;       // --port: the app's port (the upstream)
    bool service = false;                    // --service
    std::string image = "sidelight:0.1.0";   // --image
    std::optional<std::string> config_text;  // --config FILE's text: emit the ConfigMap
    std::string config_file;                 // its name, for messages
};

struct result {
    bool ok = false;
    std::string output;              // the manifests (empty when refused)
    std::string error;               // FILE: document N (Kind/name), line L: why
    std::vector<std::string> notes;  // what stderr should say even on success
};

result inject(std::string_view text, const options& opts);
result uninject(std::string_view text, const options& opts);

// `before` against `after` as a unified line diff ("" when equal): what --dry-run prints.
std::string diff(std::string_view before, std::string_view after, const std::string& name);

}  // namespace sidelight::inject
