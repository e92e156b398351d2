#include "inject/workload.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "inject/sidecar.hpp"
#include "inject/yaml_text.hpp"

namespace sidelight::inject::detail {
namespace {

// The pod's place in the workload, and the document for messages.
struct pod_ref {
    YAML::Node workload, template_, spec;
    std::string path;  // "spec.template.spec"
    int doc;

    [[noreturn]] void refuse(const std::string& message, const YAML::Node& at) const {
        throw refusal(describe(workload) + ": " + message, doc, line_of(at));
    }
};

// A plain scalar that is a whole decimal number.
std::optional<long long> integer(const YAML::Node& n) {
    if (!n.IsDefined() || !n.IsScalar() || n.Tag() == "!") return std::nullopt;
    long long value = 0;
    const auto& s = n.Scalar();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return value;
}

std::optional<std::uint16_t> port_number(const YAML::Node& n) {
    const auto value = integer(n);
    if (!value || *value < 1 || *value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(*value);
}

// Every container a map with a name, every declared port a number.
void check_containers(const pod_ref& pod, const std::string& key, std::vector<int>& used) {
    const auto list = at(pod.spec, {key.c_str()});
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence()) pod.refuse(pod.path + "." + key + ": not a list", list);
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto c = list[i];
        const auto where = pod.path + "." + key + "[" + std::to_string(i) + "]";
        if (!c.IsMap() || scalar_at(c, "name").empty())
            pod.refuse(where + ": a container needs a name", c);
        const auto ports = at(c, {"ports"});
        if (!ports.IsDefined() || ports.IsNull()) continue;
        if (!ports.IsSequence()) pod.refuse(where + ".ports: not a list", ports);
        for (std::size_t j = 0; j < ports.size(); ++j) {
            const auto n = at(ports[j], {"containerPort"});
            const auto number = port_number(n);
            if (!number)
                pod.refuse(where + ".ports[" + std::to_string(j) +
                               "].containerPort: not a port number (an integer 1-65535)",
                           n.IsDefined() ? n : ports[j]);
            used.push_back(*number);
        }
    }
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

YAML::Node find_named(const YAML::Node& list, const std::string& name) {
    if (list.IsSequence())
        for (const auto& item : list)
            if (scalar_at(item, "name") == name) return item;
    return YAML::Node(YAML::NodeType::Undefined);
}

// The app's container: --container, else kubectl's default-container annotation, else the only
// one.
YAML::Node app_container(const pod_ref& pod, const options& opts) {
    const auto containers = at(pod.spec, {"containers"});
    std::vector<std::string> names;
    for (const auto& c : containers) names.push_back(scalar_at(c, "name"));
    const auto annotations = at(pod.template_, {"metadata", "annotations"});
    const auto annotated = scalar_at(annotations, "kubectl.kubernetes.io/default-container");
    const auto& wanted = !opts.container.empty() ? opts.container : annotated;
    if (!wanted.empty()) {
        auto c = find_named(containers, wanted);
        if (!c.IsDefined())
            pod.refuse("no container named " + wanted + " (" +
                           (opts.container.empty() ? "kubectl.kubernetes.io/default-container"
                                                   : "--container") +
                           "); the containers are " + join(names),
                       containers);
        return c;
    }
    if (names.size() == 1) return containers[0];
    pod.refuse("which container is the app? " + std::to_string(names.size()) + " containers (" +
                   join(names) +
                   "): say --container NAME, or annotate the pod template with "
                   "kubectl.kubernetes.io/default-container",
               containers);
}

using declared_port = std::pair<std::uint16_t, std::string>;

std::string port_list(const std::vector<declared_port>& ports) {
    std::vector<std::string> out;
    for (const auto& [number, name] : ports)
        out.push_back(name.empty() ? std::to_string(number) : name + " " + std::to_string(number));
    return join(out);
}

// Among several ports, the one whose name says it serves the app's HTTP: `http`, else the only
// one starting with `http`, else the only one starting with `web`. A metrics or admin port taken
// for the upstream would put sidelight in front of the wrong listener, so no other guess is made.
std::optional<declared_port> http_named(const std::vector<declared_port>& ports) {
    const auto tier = [&](auto&& fits) {
        std::vector<declared_port> found;
        for (const auto& p : ports)
            if (fits(p.second)) found.push_back(p);
        return found;
    };
    for (const auto& found : {tier([](const std::string& n) { return n == "http"; }),
                              tier([](const std::string& n) { return n.starts_with("http"); }),
                              tier([](const std::string& n) { return n.starts_with("web"); })})
        if (!found.empty()) return found.size() == 1 ? std::optional(found[0]) : std::nullopt;
    return std::nullopt;
}

// The upstream port: --port, else the declared port the stream's Services send to, else the
// declared one; among several, the one named for HTTP, else a refusal asking for --port.
void app_port(const pod_ref& pod, const YAML::Node& app, const options& opts,
              const std::vector<YAML::Node>& services, workload_facts& facts) {
    const auto ports = at(app, {"ports"});
    std::vector<declared_port> declared;
    if (ports.IsSequence())
        for (const auto& p : ports)
            declared.emplace_back(*port_number(at(p, {"containerPort"})), scalar_at(p, "name"));
    if (opts.port) {
        facts.app_port = *opts.port;
        for (const auto& [number, name] : declared)
            if (number == *opts.port) facts.app_port_name = name;
        return;
    }
    if (declared.empty())
        pod.refuse("container " + scalar_at(app, "name") +
                       " declares no containerPort, and the upstream cannot be guessed: say "
                       "which port the app listens on with --port",
                   app);
    std::vector<declared_port> targeted;
    for (const auto& d : declared) {
        bool hit = false;
        for (const auto& svc : services)
            if (selects(svc, pod.workload))
                for (const auto& p : at(svc, {"spec", "ports"}))
                    hit = hit || targets(p, d.first, d.second);
        if (hit) targeted.push_back(d);
    }
    const auto& candidates = targeted.empty() ? declared : targeted;
    auto chosen = candidates.size() == 1 ? std::optional(candidates[0]) : http_named(candidates);
    if (!chosen)
        pod.refuse("which port is the app's? container " + scalar_at(app, "name") +
                       (targeted.empty() ? " declares " : "'s ports the Services send to are ") +
                       port_list(candidates) +
                       ", and none is named http (nor alone starts with http or web): say the "
                       "upstream with --port",
                   app);
    facts.app_port = chosen->first;
    facts.app_port_name = chosen->second;
}

std::uint16_t free_port(std::initializer_list<std::uint16_t> candidates,
                        const std::vector<int>& used) {
    for (auto p : candidates)
        if (std::find(used.begin(), used.end(), p) == used.end()) return p;
    return 0;
}

void add_pre_stop(YAML::Node app, std::vector<std::string>& state, const std::string& who,
                  std::vector<std::string>& notes) {
    auto lifecycle = at(app, {"lifecycle"});
    if (!lifecycle.IsDefined() || lifecycle.IsNull()) {
        YAML::Node l(YAML::NodeType::Map);
        l["preStop"] = pre_stop();
        app["lifecycle"] = l;
        state.push_back("lifecycle=added");
    } else if (lifecycle.IsMap() && !at(lifecycle, {"preStop"}).IsDefined()) {
        lifecycle["preStop"] = pre_stop();
        state.push_back("preStop=added");
    } else {
        notes.push_back(who +
                        ": the app keeps its own preStop; it should cover sidelight's "
                        "drain (20 s in base/)");
    }
}

void raise_grace(YAML::Node& spec, std::vector<std::string>& state) {
    const auto grace = at(spec, {"terminationGracePeriodSeconds"});
    const auto value = integer(grace);
    if (!grace.IsDefined()) {
        spec = insert_before(spec, "terminationGracePeriodSeconds",
                             plain_node(std::to_string(grace_seconds)), "containers");
        state.push_back("grace=none");
    } else if (value && *value < grace_seconds) {
        state.push_back("grace=" + grace.Scalar());
        spec["terminationGracePeriodSeconds"] = plain_node(std::to_string(grace_seconds));
    }
}

// A fresh PersistentVolume is often root-owned: the claim needs an fsGroup sidelight is in.
// Whether one was added.
bool add_fs_group(YAML::Node& spec, std::vector<std::string>& state) {
    auto sc = at(spec, {"securityContext"});
    if (!sc.IsDefined() || sc.IsNull()) {
        YAML::Node added = YAML::Load("{fsGroup: 10001, fsGroupChangePolicy: OnRootMismatch}");
        added.SetStyle(YAML::EmitterStyle::Block);
        spec = insert_before(spec, "securityContext", added, "containers");
        state.push_back("securityContext=added");
        return true;
    }
    if (!sc.IsMap() || at(sc, {"fsGroup"}).IsDefined()) return false;
    sc["fsGroup"] = plain_node("10001");
    state.push_back("fsGroup=added");
    if (!at(sc, {"fsGroupChangePolicy"}).IsDefined()) {
        sc["fsGroupChangePolicy"] = plain_node("OnRootMismatch");
        state.push_back("fsGroupChangePolicy=added");
    }
    return true;
}

// The pod's fsGroup is not sidelight's alone: the kubelet gives the files of every volume that
// supports it, the app's claims included, to that group.
void note_other_claims(const pod_ref& pod, const options& opts, std::vector<std::string>& notes) {
    std::vector<std::string> claims;
    for (const auto& c : at(pod.workload, {"spec", "volumeClaimTemplates"}))
        claims.push_back(scalar_at(at(c, {"metadata"}), "name"));
    for (const auto& v : at(pod.spec, {"volumes"}))
        if (at(v, {"persistentVolumeClaim"}).IsDefined()) claims.push_back(scalar_at(v, "name"));
    if (claims.empty()) return;
    notes.push_back(opts.file_name + ": " + describe(pod.workload) +
                    ": the fsGroup 10001 added for sidelight's claim applies to the app's "
                    "claims too (" +
                    join(claims) +
                    "): the kubelet makes their files group 10001 when it mounts them; set the "
                    "pod's own fsGroup first if that is not wanted");
}

// Appends `items` to the list at map[key], created (and recorded in `state`) when absent.
void append(YAML::Node& map, const std::string& key, const YAML::Node& items,
            std::vector<std::string>& state, bool front = false, const std::string& before = "") {
    const auto list = map[key];
    YAML::Node out(YAML::NodeType::Sequence);
    if (front)
        for (const auto& i : items) out.push_back(i);
    if (list.IsSequence())
        for (const auto& i : list) out.push_back(i);
    if (!front)
        for (const auto& i : items) out.push_back(i);
    if (list.IsDefined()) {
        map[key] = out;
    } else {
        map = insert_before(map, key, out, before);
        state.push_back(key + "=added");
    }
}

void annotate(YAML::Node template_, const std::string& value) {
    if (!at(template_, {"metadata"}).IsMap())
        template_["metadata"] = YAML::Node(YAML::NodeType::Map);
    if (!at(template_, {"metadata", "annotations"}).IsMap())
        template_["metadata"]["annotations"] = YAML::Node(YAML::NodeType::Map);
    template_["metadata"]["annotations"][state_annotation] = string_node(value);
}

}  // namespace

bool is_workload(const std::string& kind) {
    return kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet";
}

bool is_refused_pod_kind(const std::string& kind) {
    return kind == "Pod" || kind == "Job" || kind == "CronJob" || kind == "ReplicaSet" ||
           kind == "ReplicationController" || kind == "PodTemplate";
}

std::string describe(const YAML::Node& object) {
    return scalar_at(object, "kind") + " " + scalar_at(at(object, {"metadata"}), "name");
}

bool selects(const YAML::Node& service, const YAML::Node& workload) {
    const auto selector = at(service, {"spec", "selector"});
    if (!selector.IsMap() || selector.size() == 0) return false;
    // Helm and kustomize output often leaves the namespace to `kubectl -n`: one without it is in
    // whichever namespace the other is applied to, so only two set namespaces can differ.
    const auto service_ns = scalar_at(at(service, {"metadata"}), "namespace");
    const auto workload_ns = scalar_at(at(workload, {"metadata"}), "namespace");
    if (!service_ns.empty() && !workload_ns.empty() && service_ns != workload_ns) return false;
    const auto labels = at(workload, {"spec", "template", "metadata", "labels"});
    for (const auto& kv : selector)
        if (scalar_at(labels, kv.first.Scalar()) != kv.second.Scalar() ||
            kv.second.Scalar().empty())
            return false;
    return true;
}

bool targets(const YAML::Node& service_port, std::uint16_t port, const std::string& port_name) {
    if (!service_port.IsMap()) return false;
    const auto tp = at(service_port, {"targetPort"});
    const auto target = tp.IsDefined() ? tp : at(service_port, {"port"});
    if (!target.IsDefined() || !target.IsScalar()) return false;
    return target.Scalar() == std::to_string(port) ||
           (!port_name.empty() && target.Scalar() == port_name);
}

std::map<std::string, std::string> parse_state(std::string_view text) {
    std::map<std::string, std::string> out;
    while (!text.empty()) {
        const auto item = text.substr(0, text.find(','));
        text = item.size() == text.size() ? "" : text.substr(item.size() + 1);
        const auto eq = item.find('=');
        if (eq != std::string_view::npos)
            out.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
    return out;
}

namespace {

// The pod of `workload`, refused when inject cannot add to it; `used`: its declared ports.
pod_ref checked_pod(const YAML::Node& workload, int doc, std::vector<int>& used) {
    pod_ref pod{workload, at(workload, {"spec", "template"}), {}, "spec.template.spec", doc};
    if (scalar_at(at(workload, {"metadata"}), "name").empty())
        pod.refuse("metadata.name: missing", workload);
    if (!at(pod.template_, {"spec"}).IsMap())
        pod.refuse("spec.template.spec: missing (no pod to add sidelight to)",
                   at(workload, {"spec"}));
    pod.spec = at(pod.template_, {"spec"});
    if (scalar_at(pod.spec, "hostNetwork") == "true")
        pod.refuse(
            "hostNetwork: true: sidelight's ports would be the node's and the app's port "
            "reachable from everything that reaches the node; no NetworkPolicy can keep "
            "traffic off it",
            at(pod.spec, {"hostNetwork"}));
    const auto containers = at(pod.spec, {"containers"});
    if (!containers.IsSequence() || containers.size() == 0)
        pod.refuse("spec.template.spec.containers: missing or empty (a pod needs a container)",
                   pod.spec);
    check_containers(pod, "containers", used);
    check_containers(pod, "initContainers", used);
    if (const auto old = find_named(containers, container_name); old.IsDefined())
        pod.refuse(
            "a container named sidelight in containers (the shape before native "
            "sidecars): run `sidelight uninject` first, then inject",
            old);
    return pod;
}

// Whether sidelight is there already (then `facts` gets the app's port from the annotation).
bool already_injected(const pod_ref& pod, workload_facts& facts) {
    const auto existing = find_named(at(pod.spec, {"initContainers"}), container_name);
    if (!existing.IsDefined()) return false;
    if (scalar_at(existing, "restartPolicy") != "Always")
        pod.refuse(
            "an init container named sidelight without restartPolicy: Always: run "
            "`sidelight uninject` first, then inject",
            existing);
    const auto state =
        parse_state(scalar_at(at(pod.template_, {"metadata", "annotations"}), state_annotation));
    if (const auto port = state.find("port"); port != state.end()) {
        const auto number = port_number(plain_node(port->second));
        facts.app_port = number.value_or(0);
        facts.known_port = number.has_value();
    }
    if (const auto name = state.find("portName"); name != state.end())
        facts.app_port_name = name->second;
    // The Services of the stream are aimed at sidelight's port by number: the one it has.
    const auto ports = at(existing, {"ports"});
    if (const auto http = find_named(ports, http_port_name); http.IsDefined())
        facts.http_port = port_number(at(http, {"containerPort"})).value_or(facts.http_port);
    if (const auto admin = find_named(ports, admin_port_name); admin.IsDefined())
        facts.admin_port = port_number(at(admin, {"containerPort"})).value_or(facts.admin_port);
    return true;
}

// The additions to the pod (and a StatefulSet's claims); what else changed goes in `state`.
void add_sidelight(const pod_ref& pod, YAML::Node app, const workload_facts& facts,
                   const options& opts, std::vector<std::string>& state,
                   std::vector<std::string>& notes) {
    add_pre_stop(app, state, opts.file_name + ": " + describe(pod.workload), notes);
    auto spec = pod.spec;
    raise_grace(spec, state);
    const bool stateful = facts.kind == "StatefulSet";
    if (stateful && add_fs_group(spec, state)) note_other_claims(pod, opts, notes);
    YAML::Node sidecar(YAML::NodeType::Sequence);
    sidecar.push_back(
        sidecar_container({facts.name, opts.image, facts.http_port, facts.admin_port}));
    append(spec, "initContainers", sidecar, state, true, "containers");
    append(spec, "volumes", sidecar_volumes(facts.name + "-sidelight", stateful), state);
    if (stateful) {
        YAML::Node claims(YAML::NodeType::Sequence);
        claims.push_back(audit_claim_template());
        auto workload_spec = at(pod.workload, {"spec"});
        append(workload_spec, "volumeClaimTemplates", claims, state);
    }
    auto template_ = pod.template_;
    template_["spec"] = spec;
}

}  // namespace

workload_facts inject_workload(YAML::Node workload, const options& opts,
                               const std::vector<YAML::Node>& services, int doc,
                               std::vector<std::string>& notes) {
    workload_facts facts;
    facts.kind = scalar_at(workload, "kind");
    facts.name = scalar_at(at(workload, {"metadata"}), "name");
    facts.namespace_name = at(workload, {"metadata", "namespace"});
    std::vector<int> used;
    const auto pod = checked_pod(workload, doc, used);
    if (already_injected(pod, facts)) return facts;

    auto app = app_container(pod, opts);
    app_port(pod, app, opts, services, facts);
    used.push_back(facts.app_port);
    facts.http_port = free_port({8080, 18080, 28080}, used);
    facts.admin_port = free_port({9901, 19901, 29901}, used);
    if (facts.http_port != 8080 || facts.admin_port != 9901)
        notes.push_back(opts.file_name + ": " + describe(workload) +
                        ": the pod uses port 8080 or 9901 already: sidelight listens on " +
                        std::to_string(facts.http_port) + " (sidelight-http) and " +
                        std::to_string(facts.admin_port) + " (sidelight-admin)");
    facts.fresh = facts.known_port = true;

    std::vector<std::string> state{"container=" + scalar_at(app, "name"),
                                   "port=" + std::to_string(facts.app_port)};
    if (!facts.app_port_name.empty()) state.push_back("portName=" + facts.app_port_name);
    add_sidelight(pod, app, facts, opts, state, notes);
    std::string value;
    for (const auto& s : state) value += (value.empty() ? "" : ",") + s;
    annotate(pod.template_, value);
    return facts;
}

}  // namespace sidelight::inject::detail
