#pragma once
// Private to inject/: one workload injected or uninjected in place, and the facts the stream
// level needs about it (its app's port for the Services, its name for the ConfigMap and the
// NetworkPolicy). Throws detail::refusal. Not thread-safe; used by one call at a time.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inject/inject.hpp"

namespace sidelight::inject::detail {

// The kinds inject adds sidelight to, and the pod-bearing kinds it refuses.
bool is_workload(const std::string& kind);
bool is_refused_pod_kind(const std::string& kind);

// A Service of the stream: which pods it selects, which ports it sends to.
bool selects(const YAML::Node& service, const YAML::Node& workload);
bool targets(const YAML::Node& service_port, std::uint16_t port, const std::string& port_name);

struct workload_facts {
    std::string kind, name;
    YAML::Node namespace_name;  // undefined when the workload has none
    bool fresh = false;         // injected by this call (false: it already was)
    bool known_port = false;    // already injected without the annotation: no port known
    std::uint16_t app_port = 0;
    std::string app_port_name;
    std::uint16_t http_port = 8080, admin_port = 9901;
};

// Adds sidelight to `workload` (a Deployment, StatefulSet or DaemonSet) unless it is there
// already. `services`: the stream's Services, which tell the app's port among several.
workload_facts inject_workload(YAML::Node workload, const options& opts,
                               const std::vector<YAML::Node>& services, int doc,
                               std::vector<std::string>& notes);

// Removes what inject added; false when there was no sidelight.
bool uninject_workload(YAML::Node workload, int doc, std::vector<std::string>& notes);

// The sidelight/injected annotation's "key=value,..." as a map.
std::map<std::string, std::string> parse_state(std::string_view text);

// The workload's "Kind name" for messages.
std::string describe(const YAML::Node& object);

}  // namespace sidelight::inject::detail
