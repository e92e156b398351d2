// sidelight inject / uninject over the corpus of tests/data/inject (its README is the spec, row by
// row), and the container it adds against deploy/kubernetes/base's.
#include "inject/inject.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sidelight::inject {
namespace {

const std::string corpus = SIDELIGHT_SOURCE_DIR "/tests/data/inject/";

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

options opts_for(const std::string& file) {
    options o;
    o.file_name = file;
    o.image = "registry.example/sidelight:0.1.0";
    if (file.starts_with("02-")) o.container = "orders";
    if (file.starts_with("14-")) o.port = 5000;
    return o;
}

result inject_file(const std::string& file, options o) {
    return inject(read_text(corpus + file), o);
}
result inject_file(const std::string& file) {
    return inject_file(file, opts_for(file));
}

std::vector<YAML::Node> docs(const std::string& text) {
    return YAML::LoadAll(text);
}

// Semantic equality: same types, same scalars (as text), same keys, in any map order.
bool same(const YAML::Node& a, const YAML::Node& b) {
    if (a.Type() != b.Type()) return false;
    if (a.IsScalar()) return a.Scalar() == b.Scalar();
    if (a.IsSequence()) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!same(a[i], b[i])) return false;
        return true;
    }
    if (a.IsMap()) {
        if (a.size() != b.size()) return false;
        for (const auto& kv : a) {
            const YAML::Node& bc = b;
            const auto other = bc[kv.first.Scalar()];
            if (!other.IsDefined() || !same(kv.second, other)) return false;
        }
        return true;
    }
    return true;
}

bool same_stream(const std::string& a, const std::string& b) {
    const auto da = docs(a), db = docs(b);
    if (da.size() != db.size()) return false;
    for (std::size_t i = 0; i < da.size(); ++i)
        if (!same(da[i], db[i])) return false;
    return true;
}

YAML::Node pod_of(const YAML::Node& workload) {
    return workload["spec"]["template"]["spec"];
}

std::vector<std::string> names(const YAML::Node& list) {
    std::vector<std::string> out;
    for (const auto& item : list) out.push_back(item["name"].as<std::string>());
    return out;
}

YAML::Node named(const YAML::Node& list, const std::string& name) {
    for (const auto& item : list)
        if (item["name"].as<std::string>() == name) return item;
    return YAML::Node(YAML::NodeType::Undefined);
}

const std::vector<std::string> injectable = {"01-deployment-plain.yaml",
                                             "02-two-containers-no-annotation.yaml",
                                             "03-two-containers-annotated.yaml",
                                             "04-existing-init-containers.yaml",
                                             "05-statefulset.yaml",
                                             "06-daemonset.yaml",
                                             "08-stream-service-configmap-deployment.yaml",
                                             "09-already-injected.yaml",
                                             "10-app-runs-as-root.yaml",
                                             "11-service-targets-named-port.yaml",
                                             "13-list.yaml",
                                             "14-no-declared-port.yaml"};

TEST(Inject, PlainDeploymentGetsTheNativeSidecarAndTheAppOnlyAPreStop) {
    const auto r = inject_file("01-deployment-plain.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto out = docs(r.output);
    ASSERT_EQ(out.size(), 1u);
    const auto source = YAML::Load(read_text(corpus + "01-deployment-plain.yaml"));
    const auto pod = pod_of(out[0]);
    EXPECT_EQ(names(pod["initContainers"]), std::vector<std::string>{"sidelight"});
    EXPECT_EQ(pod["initContainers"][0]["restartPolicy"].as<std::string>(), "Always");
    EXPECT_EQ(pod["terminationGracePeriodSeconds"].as<int>(), 60);
    EXPECT_EQ(names(pod["volumes"]),
              (std::vector<std::string>{"sidelight-config", "sidelight-audit", "sidelight-tmp"}));
    EXPECT_EQ(pod["volumes"][0]["configMap"]["name"].as<std::string>(), "catalog-sidelight");
    // The app: as it was, plus the preStop sleep.
    auto app = YAML::Clone(pod["containers"][0]);
    EXPECT_EQ(app["lifecycle"]["preStop"]["sleep"]["seconds"].as<int>(), 20);
    app.remove("lifecycle");
    EXPECT_TRUE(same(app, pod_of(source)["containers"][0]));
    EXPECT_EQ(out[0]["spec"]["replicas"].as<int>(), 3);
    // "1" stays a string: the CPU limit is a quantity, not a number, for a strict reader.
    EXPECT_NE(r.output.find("limits: {cpu: \"1\", memory: 256Mi}"), std::string::npos);
    // The leading comment survives; yaml-cpp would have dropped it.
    EXPECT_TRUE(r.output.starts_with("# The common case"));
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_NE(r.notes[0].find("ConfigMap catalog-sidelight"), std::string::npos) << r.notes[0];
}

// The single source: the container inject adds is base/deployment.yaml's, field by field.
TEST(Inject, TheSidecarIsBaseDeploymentsContainer) {
    const auto base =
        YAML::Load(read_text(SIDELIGHT_SOURCE_DIR "/deploy/kubernetes/base/deployment.yaml"));
    const auto expected = named(pod_of(base)["initContainers"], "sidelight");
    ASSERT_TRUE(expected.IsDefined());
    const auto r = inject_file("01-deployment-plain.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto actual = pod_of(docs(r.output)[0])["initContainers"][0];
    for (const char* field : {"image", "restartPolicy", "args", "ports", "startupProbe",
                              "readinessProbe", "livenessProbe", "resources", "securityContext"})
        EXPECT_TRUE(same(actual[field], expected[field])) << field;
    // The Secret is named after the workload (shop there, catalog here).
    auto env = YAML::Clone(expected["env"]);
    env[0]["valueFrom"]["secretKeyRef"]["name"] = "catalog-sidelight";
    EXPECT_TRUE(same(actual["env"], env));
    // Mounted at the same places; inject prefixes its volume names (sidelight-audit, not audit)
    // so that they cannot clash with the app's.
    ASSERT_EQ(actual["volumeMounts"].size(), expected["volumeMounts"].size());
    for (std::size_t i = 0; i < actual["volumeMounts"].size(); ++i) {
        EXPECT_EQ(actual["volumeMounts"][i]["mountPath"].as<std::string>(),
                  expected["volumeMounts"][i]["mountPath"].as<std::string>());
        EXPECT_EQ(actual["volumeMounts"][i]["name"].as<std::string>().starts_with("sidelight-"),
                  true);
    }
    EXPECT_EQ(actual.size(), expected.size());
}

TEST(Inject, TwoContainersWithoutAnAnnotationAreRefusedUnlessContainerNamesTheApp) {
    auto o = opts_for("02-two-containers-no-annotation.yaml");
    o.container.clear();
    const auto refused = inject_file("02-two-containers-no-annotation.yaml", o);
    EXPECT_FALSE(refused.ok);
    EXPECT_EQ(refused.output, "");
    for (const char* part : {"02-two-containers-no-annotation.yaml: document 1, line 14",
                             "orders, fluent-bit", "--container"})
        EXPECT_NE(refused.error.find(part), std::string::npos) << refused.error;

    const auto r = inject_file("02-two-containers-no-annotation.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto source = YAML::Load(read_text(corpus + "02-two-containers-no-annotation.yaml"));
    const auto pod = pod_of(docs(r.output)[0]);
    EXPECT_TRUE(same(pod["containers"][1], pod_of(source)["containers"][1]));  // fluent-bit
    EXPECT_TRUE(pod["containers"][0]["lifecycle"].IsDefined());
}

TEST(Inject, TheDefaultContainerAnnotationNamesTheAppAndContainerWins) {
    auto r = inject_file("03-two-containers-annotated.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    auto pod = pod_of(docs(r.output)[0]);
    EXPECT_TRUE(named(pod["containers"], "orders")["lifecycle"].IsDefined());
    EXPECT_FALSE(named(pod["containers"], "fluent-bit")["lifecycle"].IsDefined());
    auto o = opts_for("03-two-containers-annotated.yaml");
    o.container = "fluent-bit";
    r = inject_file("03-two-containers-annotated.yaml", o);
    ASSERT_TRUE(r.ok) << r.error;
    pod = pod_of(docs(r.output)[0]);
    EXPECT_TRUE(named(pod["containers"], "fluent-bit")["lifecycle"].IsDefined());
    EXPECT_FALSE(named(pod["containers"], "orders")["lifecycle"].IsDefined());
}

TEST(Inject, SidelightGoesFirstBeforeExistingInitContainersWhichStayAsTheyWere) {
    const auto r = inject_file("04-existing-init-containers.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto source = YAML::Load(read_text(corpus + "04-existing-init-containers.yaml"));
    const auto pod = pod_of(docs(r.output)[0]);
    EXPECT_EQ(names(pod["initContainers"]),
              (std::vector<std::string>{"sidelight", "migrate", "fix-perms"}));
    EXPECT_TRUE(same(pod["initContainers"][2], pod_of(source)["initContainers"][1]));
    // The app listens on 8080: sidelight takes 18080 for its proxy port, and says so.
    EXPECT_EQ(pod["initContainers"][0]["ports"][0]["containerPort"].as<int>(), 18080);
    EXPECT_EQ(pod["initContainers"][0]["ports"][1]["containerPort"].as<int>(), 9901);
    EXPECT_NE(r.notes.at(0).find("18080"), std::string::npos);
}

TEST(Inject, StatefulSetGetsAClaimTemplateAndAnFsGroupAndItsServicePassesThrough) {
    const auto text = read_text(corpus + "05-statefulset.yaml");
    const auto r = inject_file("05-statefulset.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    // The Service, the first document, is written back as it was, comment included.
    EXPECT_EQ(r.output.substr(0, text.find("---\n") + 4), text.substr(0, text.find("---\n") + 4));
    const auto out = docs(r.output);
    ASSERT_EQ(out.size(), 2u);
    const auto& sts = out[1];
    std::vector<std::string> claims;
    for (const auto& c : sts["spec"]["volumeClaimTemplates"])
        claims.push_back(c["metadata"]["name"].as<std::string>());
    EXPECT_EQ(claims, (std::vector<std::string>{"data", "sidelight-audit"}));
    EXPECT_EQ(pod_of(sts)["securityContext"]["fsGroup"].as<int>(), 10001);
    EXPECT_FALSE(named(pod_of(sts)["volumes"], "sidelight-audit").IsDefined());
    bool warned = false;
    for (const auto& n : r.notes)
        warned = warned || n.find("--cascade=orphan") != std::string::npos;
    EXPECT_TRUE(warned);
}

TEST(Inject, TheFsGroupAddedForSidelightsClaimIsNotedWhenTheAppHasClaimsToo) {
    const auto has_note = [](const result& r) {
        for (const auto& n : r.notes)
            if (n.find("applies to the app's claims too (data, scratch)") != std::string::npos)
                return true;
        return false;
    };
    auto manifest = read_text(corpus + "05-statefulset.yaml");
    manifest.replace(manifest.find("      containers:"), 0,
                     "      volumes: [{name: scratch, persistentVolumeClaim: {claimName: s}}]\n");
    auto r = inject(manifest, options{});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(has_note(r));
    // The pod's own fsGroup is kept, and nothing is added to note.
    manifest.replace(manifest.find("      containers:"), 0,
                     "      securityContext: {fsGroup: 2000}\n");
    r = inject(manifest, options{});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(has_note(r));
}

TEST(Inject, DaemonSetKeepsTheStoreOnAnEmptyDir) {
    const auto r = inject_file("06-daemonset.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto pod = pod_of(docs(r.output)[0]);
    EXPECT_EQ(names(pod["volumes"]),
              (std::vector<std::string>{"cache", "sidelight-config", "sidelight-audit",
                                        "sidelight-tmp"}));
    EXPECT_TRUE(named(pod["volumes"], "sidelight-audit")["emptyDir"].IsDefined());
    EXPECT_NE(r.output.find("emptyDir: it lasts as long as the pod"), std::string::npos);
}

TEST(Inject, RefusalsNameTheFileTheDocumentAndTheLineAndWriteNothing) {
    struct row {
        std::string file, where, why;
        options o;
    };
    options plain;
    const std::vector<row> rows = {
        {"07-host-network.yaml", "document 1, line 13", "hostNetwork", plain},
        {"12-cronjob.yaml", "document 1, line 3",
         "Deployment, StatefulSet and DaemonSet, not CronJob", plain},
        {"14-no-declared-port.yaml", "document 1, line 14", "--port", plain},
        {"invalid/duplicate-key.yaml", "document 1, line 9", "duplicate key \"selector\"", plain},
        {"invalid/missing-containers.yaml", "document 1, line 12", "containers", plain},
        {"invalid/not-an-object.yaml", "document 1, line 2", "not a Kubernetes object", plain},
        {"invalid/not-yaml.yaml", "document 1, line 7", "not YAML", plain},
        {"invalid/port-as-string.yaml", "document 1, line 16", "containerPort", plain},
    };
    for (auto row : rows) {
        row.o.file_name = row.file;
        const auto r = inject_file(row.file, row.o);
        EXPECT_FALSE(r.ok) << row.file;
        EXPECT_EQ(r.output, "") << row.file;
        EXPECT_NE(r.error.find(row.file + ": " + row.where), std::string::npos) << r.error;
        EXPECT_NE(r.error.find(row.why), std::string::npos) << r.error;
    }
}

TEST(Inject, AStreamKeepsItsOtherDocumentsByteForByteAndServiceMovesTheTargetPort) {
    const auto file = "08-stream-service-configmap-deployment.yaml";
    const auto text = read_text(corpus + file);
    const auto head = text.substr(0, text.rfind("---\n") + 4);  // the Service and the ConfigMap
    auto r = inject_file(file);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output.substr(0, head.size()), head);
    bool warned = false;
    for (const auto& n : r.notes)
        warned = warned || n.find("Service search still sends") != std::string::npos;
    EXPECT_TRUE(warned);

    auto o = opts_for(file);
    o.service = true;
    r = inject_file(file, o);
    ASSERT_TRUE(r.ok) << r.error;
    const auto out = docs(r.output);
    ASSERT_EQ(out.size(), 4u);
    // Numbers, not sidelight's port names: before Kubernetes 1.32 a Service aimed at a name an
    // init container declares got no endpoints.
    EXPECT_EQ(out[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "8080");
    EXPECT_EQ(out[1]["kind"].as<std::string>(), "ConfigMap");
    EXPECT_EQ(out[2]["kind"].as<std::string>(), "Deployment");
    EXPECT_EQ(out[3]["kind"].as<std::string>(), "NetworkPolicy");
    EXPECT_EQ(out[3]["spec"]["podSelector"]["matchLabels"]["app"].as<std::string>(), "search");
    EXPECT_EQ(out[3]["spec"]["ingress"][0]["ports"][0]["port"].as<std::string>(), "8080");
    EXPECT_EQ(out[3]["spec"]["ingress"][1]["ports"][0]["port"].as<std::string>(), "9901");
    // The upstream is the unnamed 9200.
    EXPECT_NE(out[2]["spec"]["template"]["metadata"]["annotations"]["sidelight/injected"]
                  .as<std::string>()
                  .find("port=9200"),
              std::string::npos);
}

TEST(Inject, AlreadyInjectedIsUnchangedAndTheOldShapeIsRefused) {
    const auto text = read_text(corpus + "09-already-injected.yaml");
    const auto r = inject(text, opts_for("09-already-injected.yaml"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, text);
    // sidelight as a regular container beside the app: the shape before native sidecars.
    auto old_shape = text;
    old_shape.erase(old_shape.find("      containers:\n"), 18);
    old_shape.replace(old_shape.find("      initContainers:\n"), 22, "      containers:\n");
    const auto refused = inject(old_shape, opts_for("09-already-injected.yaml"));
    EXPECT_FALSE(refused.ok);
    EXPECT_NE(refused.error.find("uninject"), std::string::npos) << refused.error;
}

TEST(Inject, AnAppRunningAsRootKeepsItsPodSecurityContext) {
    const auto r = inject_file("10-app-runs-as-root.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto pod = pod_of(docs(r.output)[0]);
    EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), 0);
    EXPECT_EQ(pod["securityContext"].size(), 2u);
    EXPECT_EQ(pod["initContainers"][0]["securityContext"]["runAsUser"].as<int>(), 10001);
    EXPECT_FALSE(pod["containers"][0]["securityContext"].IsDefined());
}

TEST(Inject, TheServicesNamedTargetPortPicksTheAppPort) {
    const auto file = "11-service-targets-named-port.yaml";
    auto r = inject_file(file);
    ASSERT_TRUE(r.ok) << r.error;
    auto out = docs(r.output);
    EXPECT_EQ(out[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "http");
    EXPECT_NE(out[1]["spec"]["template"]["metadata"]["annotations"]["sidelight/injected"]
                  .as<std::string>()
                  .find("port=8080,portName=http"),
              std::string::npos);
    auto o = opts_for(file);
    o.service = true;
    r = inject_file(file, o);
    ASSERT_TRUE(r.ok) << r.error;
    out = docs(r.output);
    // The app has 8080: sidelight's proxy port, and the Service's targetPort, is 18080.
    EXPECT_EQ(out[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "18080");
    EXPECT_EQ(out[2]["spec"]["ingress"][0]["ports"][0]["port"].as<std::string>(), "18080");
}

TEST(Inject, AServiceMetLaterIsAimedAtThePortTheEarlierInjectionChose) {
    const auto text = read_text(corpus + "11-service-targets-named-port.yaml");
    const auto service = text.substr(0, text.find("---\n") + 4);
    auto o = opts_for("11-service-targets-named-port.yaml");
    const auto deployment = inject(text.substr(service.size()), o);
    ASSERT_TRUE(deployment.ok) << deployment.error;
    o.service = true;
    const auto r = inject(service + deployment.output, o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(docs(r.output)[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "18080");
}

// An app port and a metrics port, each behind a port of one Service.
const std::string service_two_ports = R"(apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: metrics, port: 9090, targetPort: metrics}
---
)";

std::string deployment_with_ports(const std::string& ports) {
    return R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: api:1
          ports: )" +
           ports + "\n";
}

std::string injected_state(const std::string& output) {
    for (const auto& d : docs(output))
        if (d["kind"].as<std::string>() == "Deployment")
            return d["spec"]["template"]["metadata"]["annotations"]["sidelight/injected"]
                .as<std::string>();
    return "";
}

TEST(Inject, AmongSeveralTargetedPortsThePortNamedHttpIsTheUpstream) {
    const auto deployment = deployment_with_ports(
        "[{name: http, containerPort: 8000}, {name: metrics, containerPort: 9090}]");
    options o;
    o.service = true;
    const auto r = inject(service_two_ports + deployment, o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(injected_state(r.output).find("port=8000,portName=http"), std::string::npos)
        << r.output;
    const auto service = docs(r.output)[0];
    EXPECT_EQ(service["spec"]["ports"][0]["targetPort"].as<std::string>(), "8080");
    EXPECT_EQ(service["spec"]["ports"][1]["targetPort"].as<std::string>(), "metrics");
    // The metrics port is still aimed at the pod, where the NetworkPolicy now turns it away.
    std::vector<std::string> blocked;
    for (const auto& n : r.notes)
        if (n.find("NetworkPolicy api-sidelight now blocks") != std::string::npos)
            blocked.push_back(n);
    ASSERT_EQ(blocked.size(), 1u);
    EXPECT_NE(blocked[0].find("Service api port metrics (to metrics)"), std::string::npos)
        << blocked[0];
}

TEST(Inject, WithoutAServiceTheHttpNamedPortWinsOverTheFirstDeclared) {
    const auto r = inject(deployment_with_ports("[{name: metrics, containerPort: 9090}, "
                                                "{name: http-api, containerPort: 8000}]"),
                          options{});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(injected_state(r.output).find("port=8000,portName=http-api"), std::string::npos)
        << r.output;
}

TEST(Inject, SeveralPortsAndNoneNamedForHttpAreRefusedUnlessPortSaysWhich) {
    const auto deployment = deployment_with_ports(
        "[{name: metrics, containerPort: 9090}, {name: admin, containerPort: 9100}]");
    auto r = inject(deployment, options{});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.output, "");
    for (const char* part : {"metrics 9090, admin 9100", "--port"})
        EXPECT_NE(r.error.find(part), std::string::npos) << r.error;
    options o;
    o.port = 9100;
    r = inject(deployment, o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(injected_state(r.output).find("port=9100,portName=admin"), std::string::npos);
}

TEST(Inject, AServiceWithoutANamespaceIsAimedAtADeploymentWithOne) {
    auto deployment = deployment_with_ports("[{name: http, containerPort: 8000}]");
    deployment.replace(deployment.find("{name: api}"), 11, "{name: api, namespace: shop}");
    options o;
    o.service = true;
    auto r = inject(service_two_ports + deployment, o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(docs(r.output)[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "8080");
    // Two namespaces that differ: not the same pods.
    auto elsewhere = service_two_ports;
    elsewhere.replace(elsewhere.find("{name: api}"), 11, "{name: api, namespace: other}");
    r = inject(elsewhere + deployment, o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(docs(r.output)[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "http");
}

std::string crlf(const std::string& text) {
    std::string out;
    for (const char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
}

TEST(Inject, ACrlfStreamKeepsItsUnchangedDocumentsByteForByte) {
    const auto text = crlf(read_text(corpus + "11-service-targets-named-port.yaml"));
    const auto service = text.substr(0, text.find("---\r\n"));
    ASSERT_TRUE(service.starts_with("# The Service reaches the app"));
    const auto r = inject(text, opts_for("11-service-targets-named-port.yaml"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output.substr(0, service.size()), service) << r.output;
    const auto out = docs(r.output);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(pod_of(out[1])["initContainers"][0]["name"].as<std::string>(), "sidelight");
}

TEST(Inject, AListHasItsItemsProcessed) {
    const auto r = inject_file("13-list.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    const auto out = docs(r.output);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]["kind"].as<std::string>(), "List");
    ASSERT_EQ(out[0]["items"].size(), 2u);
    EXPECT_EQ(pod_of(out[0]["items"][0])["initContainers"][0]["name"].as<std::string>(),
              "sidelight");
    const auto source = YAML::Load(read_text(corpus + "13-list.yaml"));
    EXPECT_TRUE(same(out[0]["items"][1], source["items"][1]));
}

TEST(Inject, ATypedListHasItsItemsProcessedToo) {
    // kubectl's List with its kind renamed, as a client of the API gets it.
    auto text = read_text(corpus + "13-list.yaml");
    text.replace(text.find("kind: List"), 10, "kind: DeploymentList");
    auto r = inject(text, options{});
    ASSERT_TRUE(r.ok) << r.error;
    auto out = docs(r.output);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]["kind"].as<std::string>(), "DeploymentList");
    EXPECT_EQ(pod_of(out[0]["items"][0])["initContainers"][0]["name"].as<std::string>(),
              "sidelight");
    // The API leaves the items' kind and apiVersion out: they are the list's.
    const std::string api = R"(apiVersion: apps/v1
kind: DeploymentList
items:
  - metadata: {name: api}
    spec:
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec:
          containers: [{name: api, image: api:1, ports: [{containerPort: 8000}]}]
)";
    r = inject(api, options{});
    ASSERT_TRUE(r.ok) << r.error;
    out = docs(r.output);
    EXPECT_EQ(out[0]["items"][0]["kind"].as<std::string>(), "Deployment");
    EXPECT_EQ(pod_of(out[0]["items"][0])["initContainers"][0]["name"].as<std::string>(),
              "sidelight");
}

TEST(Inject, PortGivesTheUpstreamWhenNoneIsDeclared) {
    const auto r = inject_file("14-no-declared-port.yaml");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("sidelight/injected: container=quotes,port=5000,"), std::string::npos);
}

TEST(Inject, TwiceChangesNothingAndUninjectGivesTheOriginalBack) {
    for (const bool service : {false, true})
        for (const auto& file : injectable) {
            auto o = opts_for(file);
            o.service = service;
            const auto once = inject_file(file, o);
            ASSERT_TRUE(once.ok) << file << ": " << once.error;
            const auto twice = inject(once.output, o);
            ASSERT_TRUE(twice.ok) << file << ": " << twice.error;
            EXPECT_EQ(twice.output, once.output) << file;
            const auto back = uninject(once.output, o);
            ASSERT_TRUE(back.ok) << file << ": " << back.error;
            if (file.starts_with("09-")) continue;  // injected by hand: no annotation to undo by
            EXPECT_TRUE(same_stream(back.output, read_text(corpus + file))) << file << "\n"
                                                                            << back.output;
        }
}

TEST(Inject, ConfigBecomesAConfigMapAimedAtTheAppPort) {
    auto o = opts_for("01-deployment-plain.yaml");
    o.config_text = "upstream: {address: 127.0.0.1:1}\nproxy: {listen: 127.0.0.1:1}\n";
    o.config_file = "my.yaml";
    const auto r = inject_file("01-deployment-plain.yaml", o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.notes.empty());
    const auto out = docs(r.output);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0]["kind"].as<std::string>(), "ConfigMap");
    EXPECT_EQ(out[0]["metadata"]["name"].as<std::string>(), "catalog-sidelight");
    EXPECT_EQ(out[0]["metadata"]["namespace"].as<std::string>(), "shop");
    const auto cfg = YAML::Load(out[0]["data"]["sidelight.yaml"].as<std::string>());
    EXPECT_EQ(cfg["upstream"]["address"].as<std::string>(), "127.0.0.1:3000");
    EXPECT_EQ(cfg["proxy"]["listen"].as<std::string>(), "0.0.0.0:8080");
    EXPECT_EQ(cfg["admin"]["listen"].as<std::string>(), "0.0.0.0:9901");
    EXPECT_EQ(cfg["config_watch"].as<bool>(), true);
    EXPECT_EQ(cfg["audit"]["store"]["path"].as<std::string>(), "/var/lib/sidelight/audit.db");
    // uninject drops the ConfigMap it added.
    const auto back = uninject(r.output, o);
    EXPECT_EQ(docs(back.output).size(), 1u);

    o.config_text = "proxy: {listne: x}\n";
    const auto refused = inject_file("01-deployment-plain.yaml", o);
    EXPECT_FALSE(refused.ok);
    EXPECT_NE(refused.error.find("listne"), std::string::npos) << refused.error;
    EXPECT_EQ(refused.output, "");
}

// The sidelight.yaml of the ConfigMap inject writes for 01 with `config`.
YAML::Node embedded(const std::string& config, std::string* error = nullptr) {
    auto o = opts_for("01-deployment-plain.yaml");
    o.config_text = config;
    o.config_file = "my.yaml";
    const auto r = inject_file("01-deployment-plain.yaml", o);
    if (error) *error = r.error;
    if (!r.ok) return YAML::Node(YAML::NodeType::Undefined);
    return YAML::Load(docs(r.output)[0]["data"]["sidelight.yaml"].as<std::string>());
}

TEST(Inject, APostgresStoreGetsItsSpoolOnTheAuditVolumeAndNoPath) {
    std::string error;
    const auto cfg = embedded(
        "audit: {store: {type: postgres, dsn: \"postgresql://sidelight@db/audit\"}}\n", &error);
    ASSERT_TRUE(cfg.IsDefined()) << error;
    EXPECT_FALSE(cfg["audit"]["store"]["path"].IsDefined());
    EXPECT_EQ(cfg["audit"]["store"]["spool"]["path"].as<std::string>(),
              "/var/lib/sidelight/sidelight-spool.db");
}

TEST(Inject, RelativeStorePathsGoOnTheAuditVolumeNotTheConfigMount) {
    std::string error;
    auto cfg = embedded("audit: {store: {path: trail.db}}\n", &error);
    ASSERT_TRUE(cfg.IsDefined()) << error;
    EXPECT_EQ(cfg["audit"]["store"]["path"].as<std::string>(), "/var/lib/sidelight/trail.db");
    cfg = embedded(
        "audit: {store: {type: postgres, dsn: \"postgresql://sidelight@db/audit\", "
        "spool: {path: ./spool.db}}}\n",
        &error);
    ASSERT_TRUE(cfg.IsDefined()) << error;
    EXPECT_EQ(cfg["audit"]["store"]["spool"]["path"].as<std::string>(),
              "/var/lib/sidelight/spool.db");
    // An absolute path is the user's to choose.
    cfg = embedded("audit: {store: {path: /data/trail.db}}\n", &error);
    ASSERT_TRUE(cfg.IsDefined()) << error;
    EXPECT_EQ(cfg["audit"]["store"]["path"].as<std::string>(), "/data/trail.db");
    // So is one the pod's environment gives (${AUDIT_DB} may be absolute).
    cfg = embedded("audit: {store: {path: \"${AUDIT_DB:-/data/a.db}\"}}\n", &error);
    ASSERT_TRUE(cfg.IsDefined()) << error;
    EXPECT_EQ(cfg["audit"]["store"]["path"].as<std::string>(), "${AUDIT_DB:-/data/a.db}");
    // Out of the volume through "..": refused, naming the key.
    EXPECT_FALSE(embedded("audit: {store: {path: ../trail.db}}\n", &error).IsDefined());
    EXPECT_NE(error.find("my.yaml: audit.store.path: ../trail.db would be outside"),
              std::string::npos)
        << error;
}

TEST(Inject, QuotedScalarsStayStringsInADocumentItChanges) {
    const std::string text = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: q}
spec:
  selector: {matchLabels: {app: q}}
  template:
    metadata: {labels: {app: q, version: "0.1.0"}}
    spec:
      containers:
        - name: q
          image: q:1
          ports: [{containerPort: 3000}]
          env:
            - {name: A, value: "true"}
            - {name: B, value: "1"}
            - {name: C, value: "plain"}
            - name: D
              value: |
                two
                lines
)";
    const auto r = inject(text, options{});
    ASSERT_TRUE(r.ok) << r.error;
    for (const char* kept :
         {"version: \"0.1.0\"", "value: \"true\"", "value: \"1\"", "value: plain",
          "value: |\n                two\n                lines"})
        EXPECT_NE(r.output.find(kept), std::string::npos) << kept << "\n" << r.output;
    const auto env = pod_of(YAML::Load(r.output))["containers"][0]["env"];
    EXPECT_EQ(env[3]["value"].as<std::string>(), "two\nlines\n");
}

TEST(Inject, UninjectTakesBothFsGroupKeysOutOfAnEmptySecurityContext) {
    auto manifest = read_text(corpus + "05-statefulset.yaml");
    manifest.replace(manifest.find("      containers:"), 0, "      securityContext: {}\n");
    const auto r = inject(manifest, options{});
    ASSERT_TRUE(r.ok) << r.error;
    const auto sts = docs(r.output)[1];
    EXPECT_EQ(pod_of(sts)["securityContext"]["fsGroupChangePolicy"].as<std::string>(),
              "OnRootMismatch");
    const auto back = uninject(r.output, options{});
    ASSERT_TRUE(back.ok) << back.error;
    EXPECT_EQ(pod_of(docs(back.output)[1])["securityContext"].size(), 0u) << back.output;
    EXPECT_TRUE(same_stream(back.output, manifest)) << back.output;
}

TEST(Inject, AShortGracePeriodIsRaisedAndALongOneKept) {
    const auto text = read_text(corpus + "10-app-runs-as-root.yaml");
    for (const auto& [grace, expected] :
         std::vector<std::pair<std::string, int>>{{"0", 60}, {"30", 60}, {"90", 90}}) {
        auto manifest = text;
        manifest.replace(manifest.find("      securityContext:"), 0,
                         "      terminationGracePeriodSeconds: " + grace + "\n");
        const auto r = inject(manifest, options{});
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(pod_of(YAML::Load(r.output))["terminationGracePeriodSeconds"].as<int>(),
                  expected);
        const auto back = uninject(r.output, options{});
        EXPECT_TRUE(same_stream(back.output, manifest)) << back.output;
    }
}

TEST(Inject, DiffShowsTheAddedLinesOnly) {
    const auto text = read_text(corpus + "01-deployment-plain.yaml");
    const auto r = inject_file("01-deployment-plain.yaml");
    const auto d = diff(text, r.output, "01.yaml");
    EXPECT_TRUE(d.starts_with("--- 01.yaml\n+++ 01.yaml (changed)\n@@ -")) << d;
    EXPECT_NE(d.find("\n+        - name: sidelight\n"), std::string::npos) << d;
    EXPECT_EQ(d.find("\n-"), std::string::npos) << d;  // nothing of 01 is taken away
    EXPECT_EQ(diff(text, text, "01.yaml"), "");
}

}  // namespace
}  // namespace sidelight::inject
