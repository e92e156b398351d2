// Shared by validate.mjs, pod-security.mjs and render.mjs: find the YAML files, parse every
// document of a stream, and point at a path's line.

import fs from "node:fs";
import path from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";

// The files named, and under every directory named, the *.yaml and *.yml files (sorted, so the
// output is stable). node_modules is never walked.
export function yaml_files(args) {
    const out = [];
    const walk = (p) => {
        if (!fs.existsSync(p)) throw new Error(`${p}: no such file or directory`);
        const st = fs.statSync(p);
        if (st.isDirectory()) {
            for (const name of fs.readdirSync(p).sort()) {
                if (name === "node_modules" || name.startsWith(".")) continue;
                walk(path.join(p, name));
            }
        } else if (/\.ya?ml$/.test(p) || args.includes(p)) {
            out.push(p);
        }
    };
    for (const a of args) walk(a);
    return out;
}

// Every document of a file (or of "-", stdin): {file, index, doc, obj, line, error}. `error` is
// set when the document is not valid YAML; `obj` is null for an empty document.
export function read_documents(file) {
    const text = file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(file, "utf8");
    const counter = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: counter, uniqueKeys: true });
    // A stream that is not YAML at all comes back as one EmptyStream object, not an array.
    const list = Array.isArray(docs) ? docs : [];
    return list.map((doc, index) => {
        const line = counter.linePos(doc.range?.[0] ?? 0).line;
        const errors = doc.errors ?? [];
        if (errors.length > 0) {
            const e = errors[0];
            const at = e.linePos?.[0] ?? { line, col: 1 };
            const msg = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
            return { file, index, doc, obj: null, line, error: `line ${at.line}:${at.col}: ${msg}` };
        }
        let obj = null;
        try {
            obj = doc.toJS({ maxAliasCount: 100 });
        } catch (e) {
            return { file, index, doc, obj: null, line, error: String(e.message) };
        }
        return { file, index, doc, obj, line, counter };
    });
}

// The line of a JSON pointer (/spec/template/spec/containers/0) in a parsed document, or of the
// nearest ancestor that exists; the document's first line otherwise.
export function line_of(entry, pointer) {
    if (!entry.doc || !entry.counter) return entry.line;
    const keys = pointer.split("/").slice(1).map((k) => (/^\d+$/.test(k) ? Number(k) : k.replace(/~1/g, "/").replace(/~0/g, "~")));
    for (let n = keys.length; n >= 0; n--) {
        const node = entry.doc.getIn(keys.slice(0, n), true);
        if (node && node.range) return entry.counter.linePos(node.range[0]).line;
    }
    return entry.line;
}

export function object_name(obj) {
    const kind = obj?.kind ?? "?";
    const name = obj?.metadata?.name ?? obj?.metadata?.generateName ?? "?";
    return `${kind}/${name}`;
}
