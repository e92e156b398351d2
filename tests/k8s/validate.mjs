#!/usr/bin/env node
// Validates Kubernetes manifests without a cluster: every YAML document of every file (and of
// every *.yaml / *.yml under a directory) is checked against the schema of its apiVersion and
// kind, the Kubernetes OpenAPI schemas carried by npm `kubernetes-models` and the
// prometheus-operator CRD schemas of `@kubernetes-models/prometheus-operator`.
//
//   node tests/k8s/validate.mjs FILE|DIR|- ...
//
// Prints `file:doc-index: kind/name: error (line N)` for each problem (doc-index counts from 0)
// and exits 0 when all validate, 1 when any document is invalid (bad YAML, not an object,
// missing apiVersion/kind/metadata.name, a schema error), else 2 when a kind is unknown to both
// packages. Kustomization files (kustomize.config.k8s.io) are not cluster objects: skipped. A
// `List` is validated item by item.
//
// What the schemas do not catch: unknown fields (the OpenAPI schemas allow them; the API server
// drops or, with --validate=strict, refuses them), and cross-object rules (a Service's
// targetPort naming a port no container has). tests/k8s/pod-security.mjs checks the sidecar.

import { line_of, object_name, read_documents, yaml_files } from "./lib.mjs";

const UNKNOWN = Symbol("unknown");
const model_cache = new Map();

// The model class for apiVersion + kind, or UNKNOWN.
async function model_for(api_version, kind) {
    const key = `${api_version}/${kind}`;
    if (model_cache.has(key)) return model_cache.get(key);
    const candidates = [];
    if (api_version.startsWith("monitoring.coreos.com/")) {
        candidates.push(`@kubernetes-models/prometheus-operator/${api_version}`);
    } else {
        candidates.push(`kubernetes-models/${api_version}`);
    }
    let found = UNKNOWN;
    for (const spec of candidates) {
        try {
            const mod = await import(spec);
            const cls = mod[kind];
            if (cls && cls.kind === kind && cls.apiVersion === api_version) {
                found = cls;
                break;
            }
        } catch {
            // no such group/version in the package
        }
    }
    model_cache.set(key, found);
    return found;
}

function describe(err) {
    const where = err.instancePath || "/";
    let msg = `${where} ${err.message}`;
    if (err.keyword === "enum") msg += ` (${err.params.allowedValues.join(", ")})`;
    return msg;
}

// Problems of one object: [{pointer, message}], or UNKNOWN.
async function check_object(obj) {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj))
        return [{ pointer: "", message: "not a Kubernetes object (a mapping with apiVersion and kind)" }];
    if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string")
        return [{ pointer: "", message: "apiVersion and kind must be strings" }];
    if (obj.apiVersion.startsWith("kustomize.config.k8s.io/")) return [];
    if (obj.kind === "List" && obj.apiVersion === "v1") {
        if (!Array.isArray(obj.items)) return [{ pointer: "/items", message: "a List needs items" }];
        const out = [];
        for (const [i, item] of obj.items.entries()) {
            const sub = await check_object(item);
            if (sub === UNKNOWN) return UNKNOWN;
            for (const p of sub)
                out.push({ pointer: `/items/${i}${p.pointer}`, message: `items[${i}] ${object_name(item)}: ${p.message}` });
        }
        return out;
    }
    const cls = await model_for(obj.apiVersion, obj.kind);
    if (cls === UNKNOWN) return UNKNOWN;
    const out = [];
    if (!obj.metadata?.name && !obj.metadata?.generateName)
        out.push({ pointer: "/metadata", message: "metadata.name is required" });
    try {
        new cls(obj).validate();
    } catch (e) {
        const errors = e.errors ?? e.details?.errors;
        if (Array.isArray(errors) && errors.length > 0) {
            for (const err of errors) out.push({ pointer: err.instancePath, message: describe(err) });
        } else {
            out.push({ pointer: "", message: String(e.message) });
        }
    }
    return out;
}

async function main(args) {
    if (args.length === 0 || args.includes("-h") || args.includes("--help")) {
        console.error("usage: validate.mjs FILE|DIR|- ...");
        return 2;
    }
    let failed = 0;
    let unknown = 0;
    let objects = 0;
    let files;
    try {
        files = args.includes("-") ? ["-", ...yaml_files(args.filter((a) => a !== "-"))] : yaml_files(args);
    } catch (e) {
        console.error(`validate: ${e.message}`);
        return 2;
    }
    if (files.length === 0) {
        console.error("validate: no YAML files in " + args.join(" "));
        return 2;
    }
    for (const file of files) {
        for (const entry of read_documents(file)) {
            const at = `${file}:${entry.index}`;
            if (entry.error) {
                console.log(`${at}: YAML: ${entry.error}`);
                failed++;
                continue;
            }
            if (entry.obj === null || entry.obj === undefined) continue;  // an empty document
            const problems = await check_object(entry.obj);
            if (problems === UNKNOWN) {
                console.log(`${at}: ${object_name(entry.obj)}: unknown kind ${entry.obj.apiVersion} ${entry.obj.kind} (line ${entry.line})`);
                unknown++;
                continue;
            }
            objects++;
            for (const p of problems) {
                console.log(`${at}: ${object_name(entry.obj)}: ${p.message} (line ${line_of(entry, p.pointer)})`);
            }
            if (problems.length > 0) failed++;
        }
    }
    const summary = `validate: ${files.length} files, ${objects} objects checked, ${failed} invalid, ${unknown} of unknown kind`;
    console.error(summary);
    if (failed > 0) return 1;
    if (unknown > 0) return 2;
    return 0;
}

process.exitCode = await main(process.argv.slice(2));
