#!/usr/bin/env node
// Renders a kustomization when neither kustomize nor kubectl is installed: the small subset
// deploy/kubernetes uses, and a refusal (exit 2) for anything else, never a silent guess.
//
//   node tests/k8s/render.mjs DIR                 the objects as one YAML stream on stdout
//   node tests/k8s/render.mjs --compare DIR       also runs `kubectl kustomize DIR` and exits 1
//                                                 when the two disagree (the same objects)
//
// Supported: resources (files, and directories holding a kustomization.yaml), namespace,
// images (name, newName, newTag, digest) and patches whose patch is a JSON 6902 list
// (add / replace / remove) with a target of group, version, kind and name. Strategic-merge
// patches, generators, components and name prefixes are refused.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse, parseAllDocuments, stringify } from "yaml";

class unsupported extends Error {}

const KNOWN_KEYS = new Set(["apiVersion", "kind", "resources", "namespace", "images", "patches"]);
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);

function load_stream(file) {
    return parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => {
        if (d.errors.length) throw new unsupported(`${file}: ${d.errors[0].message}`);
        return d.toJS();
    }).filter((o) => o !== null && o !== undefined);
}

function build(dir) {
    const kfile = ["kustomization.yaml", "kustomization.yml", "Kustomization"].map((n) => path.join(dir, n)).find((f) => fs.existsSync(f));
    if (!kfile) throw new unsupported(`${dir}: no kustomization.yaml`);
    const k = parse(fs.readFileSync(kfile, "utf8"));
    for (const key of Object.keys(k)) if (!KNOWN_KEYS.has(key)) throw new unsupported(`${kfile}: ${key} is not supported by render.mjs`);
    let objects = [];
    for (const r of k.resources ?? []) {
        const p = path.join(dir, r);
        objects.push(...(fs.statSync(p).isDirectory() ? build(p) : load_stream(p)));
    }
    for (const img of k.images ?? []) objects.forEach((o) => set_image(o, img));
    for (const [i, patch] of (k.patches ?? []).entries()) {
        if (patch.path || !patch.target || typeof patch.patch !== "string")
            throw new unsupported(`${kfile}: patches[${i}]: only inline JSON 6902 patches with a target`);
        const ops = parse(patch.patch);
        if (!Array.isArray(ops)) throw new unsupported(`${kfile}: patches[${i}]: a strategic-merge patch; only JSON 6902 lists`);
        objects.filter((o) => matches(o, patch.target)).forEach((o) => ops.forEach((op) => apply_op(o, op, `${kfile}: patches[${i}]`)));
    }
    if (k.namespace) {
        objects = objects.map((o) => (CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: k.namespace } }));
    }
    return objects;
}

function matches(o, t) {
    const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
    return (t.group === undefined || t.group === group) && (t.version === undefined || t.version === version) &&
        (t.kind === undefined || t.kind === o.kind) && (t.name === undefined || t.name === o.metadata?.name);
}

function pointer_keys(p) {
    return p.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function apply_op(obj, op, where) {
    const keys = pointer_keys(op.path);
    const last = keys.pop();
    let parent = obj;
    for (const key of keys) {
        parent = parent?.[Array.isArray(parent) ? Number(key) : key];
        if (parent === undefined) throw new unsupported(`${where}: ${op.path}: no such path in ${obj.kind}/${obj.metadata?.name}`);
    }
    const idx = Array.isArray(parent) ? (last === "-" ? parent.length : Number(last)) : last;
    switch (op.op) {
        case "add":
            if (Array.isArray(parent)) parent.splice(idx, 0, op.value); else parent[idx] = op.value;
            break;
        case "replace":
            if (!(idx in parent)) throw new unsupported(`${where}: replace ${op.path}: nothing there`);
            parent[idx] = op.value;
            break;
        case "remove":
            if (!(idx in parent)) throw new unsupported(`${where}: remove ${op.path}: nothing there`);
            if (Array.isArray(parent)) parent.splice(idx, 1); else delete parent[idx];
            break;
        default:
            throw new unsupported(`${where}: op ${op.op} is not supported`);
    }
}

function set_image(obj, img) {
    const spec = obj.spec?.template?.spec ?? obj.spec?.jobTemplate?.spec?.template?.spec ?? (obj.kind === "Pod" ? obj.spec : undefined);
    if (!spec) return;
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
        const m = /^(.*?)(?::([^:/@]+))?(?:@(.+))?$/.exec(c.image);
        if (!m || m[1] !== img.name) continue;
        const name = img.newName ?? m[1];
        if (img.digest) c.image = `${name}@${img.digest}`;
        else if (img.newTag) c.image = `${name}:${img.newTag}`;
        else c.image = `${name}${m[2] ? ":" + m[2] : ""}${m[3] ? "@" + m[3] : ""}`;
    }
}

function key_of(o) {
    return `${o.apiVersion} ${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
}

function main(argv) {
    const compare = argv[0] === "--compare";
    const dir = compare ? argv[1] : argv[0];
    if (!dir) {
        console.error("usage: render.mjs [--compare] DIR");
        return 2;
    }
    let objects;
    try {
        objects = build(dir);
    } catch (e) {
        if (!(e instanceof unsupported)) throw e;
        console.error(`render: ${e.message}`);
        return 2;
    }
    if (!compare) {
        process.stdout.write(objects.map((o) => stringify(o)).join("---\n"));
        return 0;
    }
    const theirs = parseAllDocuments(execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" })).map((d) => d.toJS());
    const mine = new Map(objects.map((o) => [key_of(o), o]));
    let diffs = 0;
    for (const o of theirs) {
        const m = mine.get(key_of(o));
        if (!m) console.log(`render: ${key_of(o)}: kubectl kustomize has it, render.mjs does not`), diffs++;
        else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(m)), o)) console.log(`render: ${key_of(o)}: differs from kubectl kustomize`), diffs++;
        mine.delete(key_of(o));
    }
    for (const k of mine.keys()) console.log(`render: ${k}: render.mjs has it, kubectl kustomize does not`), diffs++;
    console.error(`render: ${dir}: ${theirs.length} objects, ${diffs} differences from kubectl kustomize`);
    return diffs ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
