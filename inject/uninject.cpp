#include <map>

#include "inject/inject.hpp"
#include "inject/sidecar.hpp"
#include "inject/stream.hpp"
#include "inject/workload.hpp"
#include "inject/yaml_text.hpp"

namespace sidelight::inject {
namespace detail {
namespace {

// map[key] without the items named in `names`; the key goes when inject created it and nothing
// else is left.
void remove_named(YAML::Node& map, const std::string& key, std::initializer_list<const char*> names,
                  bool created) {
    const auto list = at(map, {key.c_str()});
    if (!list.IsSequence()) return;
    YAML::Node kept(YAML::NodeType::Sequence);
    kept.SetStyle(list.Style());
    for (const auto& item : list) {
        bool ours = false;
        for (const char* n : names)
            ours = ours || scalar_at(item, "name") == n ||
                   scalar_at(at(item, {"metadata"}), "name") == n;
        if (!ours) kept.push_back(item);
    }
    if (created && kept.size() == 0) {
        map = without(map, key);
    } else {
        map[key] = kept;
    }
}

void remove_annotation(YAML::Node metadata, const char* key) {
    auto annotations = at(metadata, {"annotations"});
    if (!annotations.IsMap()) return;
    annotations = without(annotations, key);
    if (annotations.size() == 0) metadata = without(metadata, "annotations");
}

void restore_app(YAML::Node& spec, const std::map<std::string, std::string>& state) {
    const auto name = state.find("container");
    const auto containers = at(spec, {"containers"});
    if (name == state.end() || !containers.IsSequence()) return;
    for (const auto& item : containers) {
        YAML::Node app = item;
        if (scalar_at(app, "name") != name->second) continue;
        if (state.contains("lifecycle")) {
            app = without(app, "lifecycle");
        } else if (state.contains("preStop") && at(app, {"lifecycle"}).IsMap()) {
            auto lifecycle = at(app, {"lifecycle"});
            lifecycle = without(lifecycle, "preStop");
        }
    }
}

void restore_pod(YAML::Node& spec, const std::map<std::string, std::string>& state) {
    if (const auto grace = state.find("grace"); grace != state.end()) {
        if (grace->second == "none") {
            spec = without(spec, "terminationGracePeriodSeconds");
        } else {
            spec["terminationGracePeriodSeconds"] = plain_node(grace->second);
        }
    }
    if (state.contains("securityContext")) {
        spec = without(spec, "securityContext");
    } else if (at(spec, {"securityContext"}).IsMap()) {
        // One rebuilt mapping, assigned once: yaml-cpp's assignment rebinds the tree's node only
        // through the handle that still points into the tree, so a second without() on the
        // result of the first edited a detached copy and left fsGroupChangePolicy behind.
        const auto sc = at(spec, {"securityContext"});
        YAML::Node kept(YAML::NodeType::Map);
        kept.SetStyle(sc.Style());
        for (const auto& kv : sc) {
            const auto& key = kv.first.Scalar();
            if ((key == "fsGroup" || key == "fsGroupChangePolicy") && state.contains(key)) continue;
            kept[kv.first] = kv.second;
        }
        spec["securityContext"] = kept;
    }
}

}  // namespace

bool uninject_workload(YAML::Node workload, int doc, std::vector<std::string>& notes) {
    auto template_ = at(workload, {"spec", "template"});
    auto spec = at(template_, {"spec"});
    if (!spec.IsMap()) return false;
    bool found = false;
    const auto init = at(spec, {"initContainers"});
    if (init.IsSequence())
        for (const auto& c : init) found = found || scalar_at(c, "name") == container_name;
    if (!found) return false;
    const auto state_text = scalar_at(at(template_, {"metadata", "annotations"}), state_annotation);
    const auto state = parse_state(state_text);
    if (state_text.empty())
        notes.push_back(describe(workload) + " (document " + std::to_string(doc) + "): no " +
                        state_annotation +
                        " annotation: the app's preStop and terminationGracePeriodSeconds are "
                        "left as they are");
    remove_named(spec, "initContainers", {container_name}, state.contains("initContainers"));
    remove_named(spec, "volumes", {config_volume, audit_volume, tmp_volume},
                 state.contains("volumes"));
    restore_app(spec, state);
    restore_pod(spec, state);
    template_["spec"] = spec;
    auto workload_spec = at(workload, {"spec"});
    remove_named(workload_spec, "volumeClaimTemplates", {audit_volume},
                 state.contains("volumeClaimTemplates"));
    if (at(template_, {"metadata"}).IsMap())
        remove_annotation(at(template_, {"metadata"}), state_annotation);
    return true;
}

}  // namespace detail

namespace {

using namespace detail;

bool restore_service(YAML::Node svc) {
    const auto moved = scalar_at(at(svc, {"metadata", "annotations"}), service_annotation);
    if (moved.empty()) return false;
    auto ports = at(svc, {"spec", "ports"});
    for (std::string_view rest = moved; !rest.empty();) {
        const auto item = rest.substr(0, rest.find(','));
        rest = item.size() == rest.size() ? "" : rest.substr(item.size() + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        const auto k = static_cast<std::size_t>(std::stoul(std::string(item.substr(0, eq))));
        const auto original = std::string(item.substr(eq + 1));
        if (!ports.IsSequence() || k >= ports.size()) continue;
        auto port = ports[k];
        if (original == "-") {
            port = without(port, "targetPort");
        } else {
            port["targetPort"] = plain_node(original);
        }
    }
    remove_annotation(at(svc, {"metadata"}), service_annotation);
    return true;
}

}  // namespace

result uninject(std::string_view text, const options& opts) {
    return guarded(opts, [&](result& r) {
        auto docs = read_stream(text);
        for (std::size_t i = 0; i < docs.size(); ++i) {
            auto& d = docs[i];
            for (std::size_t j = 0; j < d.items.size(); ++j) {
                auto item = d.items[j];
                const auto kind = scalar_at(item, "kind");
                if (scalar_at(at(item, {"metadata", "labels"}), managed_label) == managed_value) {
                    d.dropped[j] = d.changed = true;
                } else if (is_workload(kind)) {
                    if (uninject_workload(item, static_cast<int>(i) + 1, r.notes)) d.changed = true;
                } else if (kind == "Service" && restore_service(item)) {
                    d.changed = true;
                }
            }
        }
        return write_stream(docs, false);
    });
}

}  // namespace sidelight::inject
