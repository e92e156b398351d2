#!/usr/bin/env node
// Checks the sidelight container of every workload against the Pod Security Standards'
// "restricted" profile (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
// as the admission controller would judge it for that container, plus the shape sidelight is
// shipped in (a native sidecar, a read-only root filesystem).
//
//   node tests/k8s/pod-security.mjs [--container NAME] FILE|DIR|- ...
//
// Workloads: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob (and the items
// of a List). Only the container named NAME (default sidelight) is judged, with the pod-level
// securityContext as its fallback; pod-wide settings that apply to it too (host namespaces,
// the volumes it mounts) are judged as well. The app's containers are not: sidelight imposes
// nothing on them. Exits 1 naming each violation, or when no workload has such a container; 2
// on a usage error or unreadable YAML.

import { object_name, read_documents, yaml_files } from "./lib.mjs";

// restricted: the volume types allowed (hostPath, among others, is not).
const ALLOWED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
const SELINUX_TYPES = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

function pod_spec_of(obj) {
    switch (obj?.kind) {
        case "Pod": return obj.spec;
        case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job":
            return obj.spec?.template?.spec;
        case "CronJob": return obj.spec?.jobTemplate?.spec?.template?.spec;
        default: return undefined;
    }
}

// The violations of `c` (a container of `pod`, `where` = "initContainers" or "containers").
export function violations(pod, c, where) {
    const out = [];
    const psc = pod.securityContext ?? {};
    const sc = c.securityContext ?? {};
    const pick = (key) => (sc[key] !== undefined ? sc[key] : psc[key]);

    // baseline, for the pod the container shares
    for (const ns of ["hostNetwork", "hostPID", "hostIPC"])
        if (pod[ns] === true) out.push(`pod: ${ns}: true shares the node's namespace with the sidecar (baseline: must be unset or false)`);
    if (sc.privileged === true) out.push("securityContext.privileged: true (baseline: must be unset or false)");
    for (const p of c.ports ?? [])
        if (p.hostPort) out.push(`ports: ${p.name ?? p.containerPort}: hostPort ${p.hostPort} (baseline: must be unset or 0)`);
    if (sc.procMount && sc.procMount !== "Default") out.push(`securityContext.procMount: ${sc.procMount} (baseline: Default only)`);
    const se = pick("seLinuxOptions") ?? {};
    if (!SELINUX_TYPES.includes(se.type ?? "")) out.push(`seLinuxOptions.type: ${se.type} (baseline: ${SELINUX_TYPES.filter(Boolean).join(", ")})`);
    if (se.user || se.role) out.push("seLinuxOptions.user/role must be unset (baseline)");
    const aa = pick("appArmorProfile");
    if (aa && aa.type === "Unconfined") out.push("appArmorProfile.type: Unconfined (baseline: RuntimeDefault or Localhost)");
    for (const cap of sc.capabilities?.add ?? []) {
        if (cap !== "NET_BIND_SERVICE") out.push(`capabilities.add: ${cap} (restricted: at most NET_BIND_SERVICE)`);
    }

    // restricted
    const mounted = new Set((c.volumeMounts ?? []).map((m) => m.name));
    for (const v of pod.volumes ?? []) {
        if (!mounted.has(v.name)) continue;
        const type = Object.keys(v).find((k) => k !== "name");
        if (!ALLOWED_VOLUMES.includes(type)) out.push(`volume ${v.name}: ${type} (restricted: ${ALLOWED_VOLUMES.join(", ")})`);
    }
    if (sc.allowPrivilegeEscalation !== false) out.push("securityContext.allowPrivilegeEscalation must be false (restricted)");
    if (pick("runAsNonRoot") !== true) out.push("runAsNonRoot must be true, on the container or the pod (restricted)");
    if (pick("runAsUser") === 0) out.push("runAsUser: 0 (restricted: must not be root)");
    const drop = sc.capabilities?.drop ?? [];
    if (!drop.includes("ALL")) out.push("capabilities.drop must include ALL (restricted)");
    const seccomp = pick("seccompProfile")?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
        out.push(`seccompProfile.type: ${seccomp ?? "unset"} (restricted: RuntimeDefault or Localhost, on the container or the pod)`);

    // how sidelight is shipped (not Pod Security)
    if (where !== "initContainers" || c.restartPolicy !== "Always")
        out.push("sidelight: not a native sidecar (initContainers with restartPolicy: Always)");
    if (sc.readOnlyRootFilesystem !== true) out.push("sidelight: securityContext.readOnlyRootFilesystem should be true");
    return out;
}

function workloads(obj) {
    if (obj?.kind === "List" && Array.isArray(obj.items)) return obj.items.flatMap(workloads);
    return pod_spec_of(obj) ? [obj] : [];
}

function main(argv) {
    let name = "sidelight";
    const args = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--container") name = argv[++i];
        else if (argv[i] === "-h" || argv[i] === "--help") args.length = 0, i = argv.length;
        else args.push(argv[i]);
    }
    if (args.length === 0 || !name) {
        console.error("usage: pod-security.mjs [--container NAME] FILE|DIR|- ...");
        return 2;
    }
    let checked = 0;
    let bad = 0;
    let files;
    try {
        files = args.includes("-") ? ["-", ...yaml_files(args.filter((a) => a !== "-"))] : yaml_files(args);
    } catch (e) {
        console.error(`pod-security: ${e.message}`);
        return 2;
    }
    for (const file of files) {
        for (const entry of read_documents(file)) {
            if (entry.error) {
                console.log(`${file}:${entry.index}: YAML: ${entry.error}`);
                return 2;
            }
            for (const w of workloads(entry.obj)) {
                const pod = pod_spec_of(w);
                for (const where of ["initContainers", "containers"]) {
                    for (const c of pod[where] ?? []) {
                        if (c.name !== name) continue;
                        checked++;
                        for (const v of violations(pod, c, where)) {
                            console.log(`${file}:${entry.index}: ${object_name(w)}: ${where} ${c.name}: ${v}`);
                            bad++;
                        }
                    }
                }
            }
        }
    }
    if (checked === 0) {
        console.log(`pod-security: no workload in ${args.join(" ")} has a container named ${name}`);
        return 1;
    }
    console.error(`pod-security: ${checked} ${name} containers checked, ${bad} violations`);
    return bad > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
