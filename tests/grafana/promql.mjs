// The names a PromQL expression references, read with a small tokenizer (no full parser):
//   metrics   every metric name of a selector (`name{...}`, `name[5m]`, a bare `name`)
//   matchers  per metric, the label names its `{...}` matches on
//   grouping  the label names of by / without / on / ignoring / group_left / group_right
// Strings, numbers, durations, comments, functions, aggregation operators and keywords are
// skipped. Grafana template variables must be substituted before (substitute()).

const AGGREGATIONS = new Set([
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"]);

function tokenize(expr) {
    const tokens = [];
    let i = 0;
    while (i < expr.length) {
        const c = expr[i];
        if (/\s/.test(c)) {
            i++;
        } else if (c === "#") {
            while (i < expr.length && expr[i] !== "\n") i++;
        } else if (c === '"' || c === "'" || c === "`") {
            let j = i + 1;
            while (j < expr.length && expr[j] !== c) j += expr[j] === "\\" && c !== "`" ? 2 : 1;
            tokens.push({ type: "string", text: expr.slice(i, j + 1) });
            i = j + 1;
        } else if (/[0-9.]/.test(c)) {
            const m = /^[0-9.][0-9a-zA-Z_.]*(?:[eE][+-]?[0-9]+)?/.exec(expr.slice(i));
            tokens.push({ type: "number", text: m[0] });
            i += m[0].length;
        } else if (/[a-zA-Z_:]/.test(c)) {
            const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
            tokens.push({ type: "ident", text: m[0] });
            i += m[0].length;
        } else if (c === "$") {
            throw new Error(`an unsubstituted template variable at "${expr.slice(i, i + 20)}"`);
        } else {
            const two = expr.slice(i, i + 2);
            const op = ["=~", "!~", "!=", "==", ">=", "<="].includes(two) ? two : c;
            tokens.push({ type: "punct", text: op });
            i += op.length;
        }
    }
    return tokens;
}

export function references(expr) {
    const t = tokenize(expr);
    const metrics = new Map(); // name -> Set of matcher label names
    const grouping = new Set();
    const bare_matchers = new Set(); // labels of `{...}` selectors with no name before them
    const read_matchers = (i, into) => {
        // t[i] is "{"; returns the index after "}"
        i++;
        while (i < t.length && t[i].text !== "}") {
            if (t[i].type === "ident" && t[i + 1] && ["=", "!=", "=~", "!~"].includes(t[i + 1].text)) {
                into.add(t[i].text);
            }
            i++;
        }
        return i + 1;
    };
    for (let i = 0; i < t.length; i++) {
        const tok = t[i];
        const next = t[i + 1];
        if (tok.type === "punct" && tok.text === "[") {
            while (i < t.length && t[i].text !== "]") i++; // a range or a subquery's durations
            continue;
        }
        if (tok.type === "punct" && tok.text === "{") {
            i = read_matchers(i, bare_matchers) - 1;
            continue;
        }
        if (tok.type !== "ident") continue;
        const word = tok.text;
        if (GROUPING.has(word)) {
            if (next && next.text === "(") {
                i += 2;
                while (i < t.length && t[i].text !== ")") {
                    if (t[i].type === "ident") grouping.add(t[i].text);
                    i++;
                }
            }
            continue;
        }
        if (next && next.text === "(") continue; // a function or an aggregation
        if (KEYWORDS.has(word.toLowerCase()) || AGGREGATIONS.has(word)) continue;
        if (i > 0 && t[i - 1].text === "offset") continue;
        const labels = metrics.get(word) ?? new Set();
        metrics.set(word, labels);
        if (next && next.text === "{") i = read_matchers(i + 1, labels) - 1;
    }
    return { metrics, grouping, bare_matchers };
}

// Grafana's variables as the test sends them: the "All" value .* for the label variables, a
// pod and a service the test's Prometheus really has, 1m for the rate interval.
export function substitute(expr, values) {
    // Not $1: label_replace's replacement is not a variable.
    return expr.replace(/\$(?:\{([a-zA-Z_]\w*)(?::\w+)?\}|([a-zA-Z_]\w*))/g, (m, a, b) => {
        const name = a ?? b;
        if (!(name in values)) throw new Error(`no test value for the template variable $${name}`);
        return values[name];
    });
}

// Sample names and their label names in a text exposition (0.0.4).
export function exposition(text) {
    const samples = new Map();
    for (const line of text.split("\n")) {
        if (!line || line.startsWith("#")) continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line);
        if (!m) continue;
        const labels = samples.get(m[1]) ?? new Set();
        samples.set(m[1], labels);
        for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]);
    }
    return samples;
}

// What is wrong with the names expr reads, as messages (empty: nothing). samples: sample name ->
// label names (exposition()); recorded: the same for series recorded by rules; target_labels:
// labels Prometheus adds at scrape. A matcher's label must be on its metric; a grouping label
// (by, without, on, ...) on at least one metric of the expression (an approximation: which
// operand it groups is not tracked).
export function name_errors(expr, samples, recorded, target_labels) {
    const errors = [];
    const refs = references(expr);
    const known = new Set(target_labels);
    for (const [name, matchers] of refs.metrics) {
        const labels = samples.get(name) ?? recorded.get(name);
        if (!labels) {
            errors.push(`metric ${name} is not in sidelight's /metrics (nor recorded by a rule)`);
            continue;
        }
        for (const l of labels) known.add(l);
        for (const l of matchers) {
            if (!labels.has(l) && !target_labels.has(l)) {
                errors.push(`${name} has no label ${l} (it has ${[...labels].sort().join(", ")})`);
            }
        }
    }
    for (const l of [...refs.grouping, ...refs.bare_matchers]) {
        if (!known.has(l)) {
            errors.push(`label ${l} is on none of the metrics it reads (${[...refs.metrics.keys()].join(", ")})`);
        }
    }
    if (refs.metrics.size === 0) errors.push("reads no metric");
    return errors;
}
