#include "inject/inject.hpp"

#include <filesystem>
#include <set>

#include "config/load.hpp"
#include "inject/sidecar.hpp"
#include "inject/stream.hpp"
#include "inject/workload.hpp"
#include "inject/yaml_text.hpp"

namespace sidelight::inject {
namespace {

using namespace detail;

constexpr const char* audit_dir = "/var/lib/sidelight";  // the sidelight-audit volume

YAML::Node child_map(YAML::Node parent, const std::string& key) {
    if (!at(parent, {key.c_str()}).IsMap()) parent[key] = YAML::Node(YAML::NodeType::Map);
    return parent[key];
}

// A store file on the audit volume. A relative path would resolve against the config's directory,
// /etc/sidelight, the read-only ConfigMap mount: it goes under /var/lib/sidelight instead.
void place_file(YAML::Node map, const char* key, const std::string& fallback,
                const std::string& where, const std::string& key_path) {
    const auto node = at(map, {key});
    if (!node.IsDefined()) {
        map[key] = plain_node(fallback);
        return;
    }
    const auto path = node.IsScalar() ? node.Scalar() : "";
    if (path.empty() || path.front() == '/' || path.front() == ':') return;  // ":memory:" stays
    if (path.find("${") != std::string::npos) return;  // the pod's environment decides
    const auto placed = (std::filesystem::path(audit_dir) / path).lexically_normal().string();
    if (!placed.starts_with(std::string(audit_dir) + "/"))
        throw refusal(where + ": " + key_path + ": " + path + " would be outside " + audit_dir +
                          ", the audit volume: name a file there",
                      0, 0);
    map[key] = plain_node(placed);
}

// store.path for sqlite (the default type) only: the loader refuses it beside type postgres,
// whose local file is the spool.
void place_store(YAML::Node store, const std::string& where) {
    const auto type = scalar_at(store, "type");
    if (type.empty() || type == "sqlite")
        place_file(store, "path", std::string(audit_dir) + "/audit.db", where, "audit.store.path");
    if (type == "postgres")
        place_file(child_map(store, "spool"), "path",
                   std::string(audit_dir) + "/sidelight-spool.db", where, "audit.store.spool.path");
}

// --config's text with what the pod decides: the listeners on the container's ports, the
// upstream on the app's port over loopback, config_watch on, the store on the audit volume.
std::string embedded_config(const options& opts, const workload_facts& f) {
    const auto where = opts.config_file.empty() ? std::string("--config") : opts.config_file;
    YAML::Node cfg;
    try {
        cfg = YAML::Load(*opts.config_text);
    } catch (const YAML::Exception& e) {
        throw refusal(where + ": not YAML: " + e.msg, 0, 0);
    }
    if (cfg.IsNull()) cfg = YAML::Node(YAML::NodeType::Map);
    if (!cfg.IsMap()) throw refusal(where + ": not a sidelight config (a mapping)", 0, 0);
    child_map(cfg, "proxy")["listen"] = plain_node("0.0.0.0:" + std::to_string(f.http_port));
    child_map(cfg, "admin")["listen"] = plain_node("0.0.0.0:" + std::to_string(f.admin_port));
    child_map(cfg, "upstream")["address"] = plain_node("127.0.0.1:" + std::to_string(f.app_port));
    cfg["config_watch"] = plain_node("true");
    place_store(child_map(child_map(cfg, "audit"), "store"), where);
    auto text = emit(cfg) + "\n";
    try {
        config::load_string(text, where);
    } catch (const std::exception& e) {
        throw refusal(std::string("the config for ") + f.name + ": " + e.what(), 0, 0);
    }
    return text;
}

// The pods' labels the NetworkPolicy selects on: the selector's, else the template's.
YAML::Node match_labels(const YAML::Node& workload) {
    const auto labels = at(workload, {"spec", "selector", "matchLabels"});
    return labels.IsMap() ? labels : at(workload, {"spec", "template", "metadata", "labels"});
}

std::vector<std::string> workload_comments(const workload_facts& f) {
    if (f.kind == "StatefulSet")
        return {"sidelight added by `sidelight inject` (`sidelight uninject` removes it).",
                "The audit store is on the claim template sidelight-audit, one volume per replica.",
                "volumeClaimTemplates of an existing StatefulSet cannot change: delete it with",
                "--cascade=orphan (the pods keep running), then apply this."};
    return {"sidelight added by `sidelight inject` (`sidelight uninject` removes it).",
            "The audit store is on an emptyDir: it lasts as long as the pod. For a trail that",
            "outlives it, ship it (audit.store.type: postgres) or use a StatefulSet."};
}

std::string service_port(const YAML::Node& port, std::size_t k) {
    const auto name = scalar_at(port, "name");
    const auto target = at(port, {"targetPort"}).IsDefined() ? scalar_at(port, "targetPort")
                                                             : scalar_at(port, "port");
    return "port " + (name.empty() ? std::to_string(k) : name) + " (to " + target + ")";
}

// The stream's Services that select an injected pod and send to its app's port. The targetPort
// becomes sidelight's port number, not its name: before Kubernetes 1.32 the endpoints controller
// did not resolve a name declared by an init container (a native sidecar, kubernetes#127958), so
// a Service aimed at `sidelight-http` got no endpoints.
void aim_services(std::vector<stream_doc>& docs, const options& opts,
                  const std::vector<std::pair<workload_facts, YAML::Node>>& workloads,
                  std::vector<std::string>& notes) {
    for (auto& d : docs)
        for (auto& svc : d.items) {
            if (scalar_at(svc, "kind") != "Service") continue;
            std::string moved;
            for (const auto& [facts, workload] : workloads) {
                if (!facts.known_port || !selects(svc, workload)) continue;
                const auto who = opts.file_name + ": " + describe(svc);
                auto ports = at(svc, {"spec", "ports"});
                for (std::size_t k = 0; ports.IsSequence() && k < ports.size(); ++k) {
                    if (targets(ports[k], facts.http_port, http_port_name)) continue;
                    // sidelight's admin port (a metrics Service): the policy admits it.
                    if (targets(ports[k], facts.admin_port, admin_port_name)) continue;
                    if (!targets(ports[k], facts.app_port, facts.app_port_name)) {
                        // The NetworkPolicy added with the sidecar admits sidelight's ports only.
                        if (opts.service && facts.fresh)
                            notes.push_back(who + " " + service_port(ports[k], k) +
                                            ": the NetworkPolicy " + facts.name +
                                            "-sidelight now blocks it (it admits sidelight's "
                                            "ports only); add it to the policy's ingress if it "
                                            "must stay reachable");
                        continue;
                    }
                    if (!opts.service) {
                        notes.push_back(who +
                                        " still sends to the app's port around sidelight; "
                                        "--service aims it at sidelight's port " +
                                        std::to_string(facts.http_port));
                        continue;
                    }
                    const auto tp = scalar_at(ports[k], "targetPort");
                    moved += (moved.empty() ? "" : ",") + std::to_string(k) + "=" +
                             (tp.empty() ? "-" : tp);
                    ports[k]["targetPort"] = plain_node(std::to_string(facts.http_port));
                }
            }
            if (moved.empty()) continue;
            d.changed = true;
            auto metadata = at(svc, {"metadata"});
            if (!at(metadata, {"annotations"}).IsMap())
                metadata["annotations"] = YAML::Node(YAML::NodeType::Map);
            metadata["annotations"][service_annotation] = string_node(moved);
        }
}

void inject_docs(std::vector<stream_doc>& docs, const options& opts, result& r) {
    std::vector<YAML::Node> services;
    std::set<std::string> present;
    for (const auto& d : docs)
        for (const auto& item : d.items) {
            if (scalar_at(item, "kind") == "Service") services.push_back(item);
            present.insert(object_key(item));
        }
    std::vector<std::pair<workload_facts, YAML::Node>> workloads;
    for (std::size_t i = 0; i < docs.size(); ++i) {
        auto& d = docs[i];
        const int doc = static_cast<int>(i) + 1;
        for (std::size_t j = 0; j < d.items.size(); ++j) {
            auto item = d.items[j];
            const auto kind = scalar_at(item, "kind");
            if (is_refused_pod_kind(kind))
                throw refusal(describe(item) +
                                  ": sidelight inject handles Deployment, "
                                  "StatefulSet and DaemonSet, not " +
                                  kind + " (left out, it would run without sidelight)",
                              doc, line_of(at(item, {"kind"})));
            if (!is_workload(kind)) continue;
            auto facts = inject_workload(item, opts, services, doc, r.notes);
            workloads.emplace_back(facts, item);
            if (!facts.fresh) continue;
            d.changed = true;
            const auto comments = workload_comments(facts);
            d.comments.insert(d.comments.end(), comments.begin(), comments.end());
            const auto who = opts.file_name + ": " + describe(item);
            const auto config_name = facts.name + "-sidelight";
            const auto ns = scalar_at(at(item, {"metadata"}), "namespace");
            if (opts.config_text) {
                if (!present.contains("ConfigMap/" + ns + "/" + config_name))
                    d.before[j].push_back(config_map(config_name, facts.namespace_name,
                                                     embedded_config(opts, facts)));
            } else if (!present.contains("ConfigMap/" + ns + "/" + config_name)) {
                r.notes.push_back(
                    who + ": mounts the ConfigMap " + config_name +
                    ", which is not in this stream: create it (key sidelight.yaml, with "
                    "proxy.listen 0.0.0.0:" +
                    std::to_string(facts.http_port) +
                    ", admin.listen 0.0.0.0:" + std::to_string(facts.admin_port) +
                    ", upstream.address 127.0.0.1:" + std::to_string(facts.app_port) +
                    ", the audit store under /var/lib/sidelight), or pass --config FILE");
            }
            if (opts.service && !present.contains("NetworkPolicy/" + ns + "/" + config_name))
                d.after[j].push_back(network_policy(config_name, facts.namespace_name,
                                                    match_labels(item), facts.http_port,
                                                    facts.admin_port));
            if (facts.kind == "StatefulSet")
                r.notes.push_back(who +
                                  ": volumeClaimTemplates gained sidelight-audit; an "
                                  "existing StatefulSet refuses that change (delete it "
                                  "with --cascade=orphan, then apply)");
        }
    }
    aim_services(docs, opts, workloads, r.notes);
}

}  // namespace

result inject(std::string_view text, const options& opts) {
    return guarded(opts, [&](result& r) {
        auto docs = read_stream(text);
        inject_docs(docs, opts, r);
        return write_stream(docs, true);
    });
}

std::string diff(std::string_view before, std::string_view after, const std::string& name) {
    return line_diff(before, after, name);
}

}  // namespace sidelight::inject
