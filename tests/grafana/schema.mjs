#!/usr/bin/env node
// deploy/grafana/*.json against Grafana's own dashboard model. The npm package @grafana/schema
// ships that model as TypeScript types generated from Grafana's CUE schemas (no JSON schema), so
// the JSON schema is compiled from those types here with ts-json-schema-generator and each
// dashboard is validated with ajv:
//   - the dashboard (raw/dashboard/x/dashboard_types.gen.d.ts, type Dashboard): every field,
//     panel, variable, threshold, mapping and grid position; unknown fields are errors;
//   - each panel's options, and its fieldConfig.defaults.custom, against its plugin's
//     PanelCfg types (raw/composable/<plugin>/panelcfg/x/*_types.gen.d.ts: Options, FieldConfig).
// Also checks what the schema cannot: a description on every panel, units and unique ids.
//   node tests/grafana/schema.mjs

import Ajv from "ajv";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator } from "ts-json-schema-generator";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve("@grafana/schema/package.json"));
const raw = join(pkg, "dist/esm/raw");
const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version;

function schema_of(path, type) {
    return createGenerator({ path, type, skipTypeCheck: true, expose: "export", jsDoc: "basic" }).createSchema(type);
}

const ajv = new Ajv({ allErrors: true, strict: false });
const dashboard = ajv.compile(schema_of(join(raw, "dashboard/x/dashboard_types.gen.d.ts"), "Dashboard"));

const plugin_cache = new Map();
function plugin(type) {
    if (plugin_cache.has(type)) return plugin_cache.get(type);
    const dir = join(raw, "composable", type, "panelcfg/x");
    const file = readdirSync(dir).find((f) => f.endsWith("_types.gen.d.ts"));
    const text = readFileSync(join(dir, file), "utf8");
    const out = { options: ajv.compile(schema_of(join(dir, file), "Options")) };
    if (/export interface FieldConfig\b/.test(text)) out.custom = ajv.compile(schema_of(join(dir, file), "FieldConfig"));
    plugin_cache.set(type, out);
    return out;
}

const errors_of = (v) => v.errors.map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);

let failures = 0;
const fail = (where, msg) => {
    failures++;
    console.error(`grafana schema: FAIL ${where}: ${msg}`);
};
const dir = join(root, "deploy/grafana");
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
for (const f of files) {
    const where = `deploy/grafana/${f}`;
    const d = JSON.parse(readFileSync(join(dir, f), "utf8"));
    if (!dashboard(d)) for (const e of errors_of(dashboard)) fail(where, e);
    if (!(d.schemaVersion >= 39)) fail(where, `schemaVersion ${d.schemaVersion}: Grafana 10.4/11 write 39 or later`);
    if (!d.templating?.list?.some((v) => v.type === "datasource" && v.name === "datasource")) {
        fail(where, "no datasource variable");
    }
    const ids = new Set();
    const walk = (panels) => {
        for (const p of panels ?? []) {
            const at = `${where}: panel "${p.title}"`;
            if (ids.has(p.id)) fail(at, `duplicate id ${p.id}`);
            ids.add(p.id);
            if (p.type === "row") {
                walk(p.panels);
                continue;
            }
            if (!p.description) fail(at, "no description");
            if (!p.fieldConfig?.defaults?.unit) fail(at, "no unit");
            if (p.datasource?.uid !== "${datasource}") fail(at, "not on the ${datasource} variable");
            const v = plugin(p.type);
            if (!v.options(p.options)) for (const e of errors_of(v.options)) fail(`${at} options`, e);
            const custom = p.fieldConfig?.defaults?.custom;
            if (custom && v.custom && !v.custom(custom)) {
                for (const e of errors_of(v.custom)) fail(`${at} fieldConfig.defaults.custom`, e);
            }
        }
    };
    walk(d.panels);
}
console.log(
    `grafana schema: ${files.length} dashboards against @grafana/schema ${version}: ${failures ? "FAILED" : "valid"}`,
);
process.exit(failures ? 1 : 0);
