#include "inject/yaml_text.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace sidelight::inject::detail {
namespace {

struct chunk {
    std::string text;
    int first_line = 1;  // 1-based line of its first line in the stream
    bool has_content = false;
    std::string leading_comments;
};

bool is_separator(std::string_view line) {
    return line.substr(0, 3) == "---" && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
}

bool is_content(std::string_view line) {
    const auto at = line.find_first_not_of(" \t\r");
    return at != std::string_view::npos && line[at] != '#';
}

// The chunks between `---` lines; false when the text uses what this split does not follow
// (content on a `---` line, `...`, directives): then no document keeps its text.
bool split(std::string_view text, std::vector<chunk>& out) {
    out.assign(1, chunk{});
    int line_no = 0;
    while (!text.empty()) {
        const auto end = text.find('\n');
        const auto raw = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++line_no;
        // A CRLF file's "---\r" is a separator too; the chunk keeps the line as it was.
        const auto line = raw.ends_with('\r') ? raw.substr(0, raw.size() - 1) : raw;
        if (is_separator(line)) {
            if (is_content(line.substr(3))) return false;
            out.push_back(chunk{"", line_no + 1, false, ""});
            continue;
        }
        if (line.substr(0, 3) == "..." || (!line.empty() && line[0] == '%')) return false;
        auto& c = out.back();
        if (is_content(line)) {
            c.has_content = true;
        } else if (!c.has_content && !line.empty() && line[line.find_first_not_of(" \t")] == '#') {
            c.leading_comments.append(line).append("\n");  // leads LF text emitted anew
        }
        c.text.append(raw).append("\n");
    }
    return true;
}

int document_at_line(const std::vector<chunk>& chunks, int line) {
    int index = 0;
    for (const auto& c : chunks) {
        if (c.first_line > line) break;
        if (c.has_content) ++index;
    }
    return std::max(index, 1);
}

void refuse_duplicates(const YAML::Node& node, int doc) {
    if (node.IsSequence()) {
        for (const auto& item : node) refuse_duplicates(item, doc);
    } else if (node.IsMap()) {
        std::map<std::string, int> seen;
        for (const auto& kv : node) {
            if (kv.first.IsScalar()) {
                const auto [at, fresh] = seen.emplace(kv.first.Scalar(), line_of(kv.first));
                if (!fresh)
                    throw refusal("duplicate key \"" + kv.first.Scalar() + "\" (first at line " +
                                      std::to_string(at->second) + ")",
                                  doc, line_of(kv.first));
            }
            refuse_duplicates(kv.second, doc);
        }
    }
}

// Would `v`, written plain, read as something other than a string (YAML 1.1 or 1.2)?
bool needs_quotes(const std::string& v) {
    if (v.empty()) return true;
    const unsigned char c0 = v[0];
    if (std::isdigit(c0) || c0 == '.' || c0 == '+' || c0 == '~') return true;
    if (c0 == '-' && v.size() > 1 &&
        (std::isdigit(static_cast<unsigned char>(v[1])) || v[1] == '.'))
        return true;
    std::string lower(v);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* word : {"null", "true", "false", "yes", "no", "y", "n", "on", "off"})
        if (lower == word) return true;
    return false;
}

// A block literal keeps exactly a text that ends with one newline and has no leading space.
bool literal_keeps(const std::string& v) {
    return v.size() > 1 && v.back() == '\n' && v[v.size() - 2] != '\n' && v[0] != ' ' &&
           v[0] != '\n' && v.find('\r') == std::string::npos;
}

void emit_node(YAML::Emitter& out, const YAML::Node& n, bool in_flow) {
    switch (n.Type()) {
        case YAML::NodeType::Sequence:
        case YAML::NodeType::Map: {
            const bool flow = in_flow || n.Style() == YAML::EmitterStyle::Flow || n.size() == 0;
            out << (flow ? YAML::Flow : YAML::Block);
            if (n.IsSequence()) {
                out << YAML::BeginSeq;
                for (const auto& item : n) emit_node(out, item, flow);
                out << YAML::EndSeq;
            } else {
                out << YAML::BeginMap;
                for (const auto& kv : n) {
                    out << YAML::Key;
                    emit_node(out, kv.first, flow);
                    out << YAML::Value;
                    emit_node(out, kv.second, flow);
                }
                out << YAML::EndMap;
            }
            return;
        }
        case YAML::NodeType::Scalar: {
            const auto& v = n.Scalar();
            const auto& tag = n.Tag();
            if (tag == "!") {
                if (v.find('\n') != std::string::npos) {
                    if (!in_flow && literal_keeps(v)) {
                        out << YAML::Literal << v;
                    } else {
                        out << YAML::DoubleQuoted << v;
                    }
                } else if (needs_quotes(v)) {
                    out << YAML::DoubleQuoted << v;
                } else {
                    out << v;
                }
            } else {
                if (!tag.empty() && tag != "?") out << YAML::VerbatimTag(tag);
                out << v;
            }
            return;
        }
        default:
            out << YAML::Null;
    }
}

}  // namespace

int line_of(const YAML::Node& node) {
    const auto mark = node.Mark();
    return mark.is_null() ? 0 : mark.line + 1;
}

std::vector<document> parse_stream(std::string_view text) {
    std::vector<chunk> chunks;
    const bool split_ok = split(text, chunks);
    std::vector<YAML::Node> nodes;
    try {
        for (auto& n : YAML::LoadAll(std::string(text)))
            if (!n.IsNull()) nodes.push_back(n);
    } catch (const YAML::Exception& e) {
        const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
        throw refusal("not YAML: " + e.msg, split_ok ? document_at_line(chunks, line) : 0, line);
    }
    std::erase_if(chunks, [](const chunk& c) { return !c.has_content; });
    const bool texts = split_ok && chunks.size() == nodes.size();
    std::vector<document> docs;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        refuse_duplicates(nodes[i], static_cast<int>(i) + 1);
        document d{nodes[i], "", std::nullopt};
        if (texts) {
            d.leading_comments = chunks[i].leading_comments;
            auto t = chunks[i].text;
            while (t.size() > 1 && t.ends_with("\n\n")) t.pop_back();
            while (t.size() > 2 && t.ends_with("\r\n\r\n")) t.resize(t.size() - 2);
            d.text = t;
        }
        docs.push_back(std::move(d));
    }
    return docs;
}

std::string emit(const YAML::Node& node, const std::string& comments) {
    YAML::Emitter out;
    out.SetIndent(2);
    emit_node(out, node, false);
    if (!out.good()) throw refusal("cannot write YAML: " + out.GetLastError(), 0, 0);
    // A block literal last leaves an indented empty line behind.
    std::string text = out.c_str();
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
    return comments + text;
}

YAML::Node string_node(const std::string& value) {
    YAML::Node n(value);
    n.SetTag("!");
    return n;
}

YAML::Node plain_node(const std::string& value) {
    YAML::Node n(value);
    n.SetTag("?");
    return n;
}

YAML::Node insert_before(const YAML::Node& map, const std::string& key, const YAML::Node& value,
                         const std::string& before) {
    YAML::Node out(YAML::NodeType::Map);
    bool done = false;
    for (const auto& kv : map) {
        if (!done && kv.first.Scalar() == before) {
            out[key] = value;
            done = true;
        }
        out[kv.first] = kv.second;
    }
    if (!done) out[key] = value;
    return out;
}

YAML::Node without(const YAML::Node& map, const std::string& key) {
    YAML::Node out(YAML::NodeType::Map);
    out.SetStyle(map.Style());
    for (const auto& kv : map)
        if (kv.first.Scalar() != key) out[kv.first] = kv.second;
    return out;
}

YAML::Node at(const YAML::Node& node, std::initializer_list<const char*> path) {
    YAML::Node cur;
    cur.reset(node);
    for (const char* key : path) {
        if (!cur.IsDefined() || !cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        const YAML::Node& map = cur;
        const auto v = map[key];
        if (!v.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
        cur.reset(v);
    }
    return cur;
}

std::string scalar_at(const YAML::Node& map, const std::string& key) {
    const auto v = at(map, {key.c_str()});
    return v.IsDefined() && v.IsScalar() ? v.Scalar() : "";
}

namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const auto end = text.find('\n');
        out.push_back(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
    return out;
}

}  // namespace

std::string line_diff(std::string_view before, std::string_view after, const std::string& name) {
    const auto a = lines_of(before), b = lines_of(after);
    const std::size_t n = a.size(), m = b.size();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;)
        for (std::size_t j = m; j-- > 0;)
            lcs[i][j] =
                a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    struct op {
        char kind;
        std::string_view text;
        std::size_t ai, bi;
    };
    std::vector<op> ops;
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[i] == b[j]) {
            ops.push_back({' ', a[i], i, j}), ++i, ++j;
        } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
            ops.push_back({'+', b[j], i, j}), ++j;
        } else {
            ops.push_back({'-', a[i], i, j}), ++i;
        }
    }
    std::ostringstream out;
    bool any = false;
    for (std::size_t k = 0; k < ops.size();) {
        if (ops[k].kind == ' ') {
            ++k;
            continue;
        }
        // A hunk: 3 lines of context around changes at most 6 unchanged lines apart.
        const std::size_t start = k >= 3 ? k - 3 : 0;
        std::size_t last = k;
        for (std::size_t t = k + 1; t < ops.size() && t <= last + 7; ++t)
            if (ops[t].kind != ' ') last = t;
        const std::size_t end = std::min(ops.size(), last + 4);
        if (!any) out << "--- " << name << "\n+++ " << name << " (changed)\n";
        any = true;
        std::size_t na = 0, nb = 0;
        for (std::size_t t = start; t < end; ++t) {
            na += ops[t].kind != '+';
            nb += ops[t].kind != '-';
        }
        out << "@@ -" << ops[start].ai + 1 << "," << na << " +" << ops[start].bi + 1 << "," << nb
            << " @@\n";
        for (std::size_t t = start; t < end; ++t) out << ops[t].kind << ops[t].text << "\n";
        k = end;
    }
    return out.str();
}

}  // namespace sidelight::inject::detail
