#include "inject/stream.hpp"

namespace sidelight::inject::detail {
namespace {

void check_object(const YAML::Node& n, int doc, const std::string& what) {
    if (!n.IsMap() || scalar_at(n, "apiVersion").empty() || scalar_at(n, "kind").empty())
        throw refusal(what + " is not a Kubernetes object (a mapping with apiVersion and kind)",
                      doc, line_of(n));
}

// The comment lines that led the document, without the ones inject wrote.
std::string own_comments(const std::string& comments) {
    std::string out;
    for (std::size_t at = 0; at < comments.size();) {
        auto end = comments.find('\n', at);
        end = end == std::string::npos ? comments.size() : end + 1;
        const auto line = comments.substr(at, end - at);
        if (!line.starts_with("# sidelight: ")) out += line;
        at = end;
    }
    return out;
}

// A typed list (DeploymentList, as the API returns it) may leave kind and apiVersion out of its
// items: they are the list's, without "List". Rebuilt with them first, as kubectl writes them,
// and assigned once (a second assignment through the same handle would miss the tree).
void implied_kind(YAML::Node item, const YAML::Node& list) {
    if (!item.IsMap() || (at(item, {"apiVersion"}).IsDefined() && at(item, {"kind"}).IsDefined()))
        return;
    const auto kind = scalar_at(list, "kind");
    YAML::Node out(YAML::NodeType::Map);
    out["apiVersion"] = at(item, {"apiVersion"}).IsDefined()
                            ? at(item, {"apiVersion"})
                            : plain_node(scalar_at(list, "apiVersion"));
    out["kind"] = at(item, {"kind"}).IsDefined() ? at(item, {"kind"})
                                                 : plain_node(kind.substr(0, kind.size() - 4));
    for (const auto& kv : item)
        if (kv.first.Scalar() != "apiVersion" && kv.first.Scalar() != "kind")
            out[kv.first] = kv.second;
    item = out;
}

}  // namespace

std::string object_key(const YAML::Node& object) {
    return scalar_at(object, "kind") + "/" + scalar_at(at(object, {"metadata"}), "namespace") +
           "/" + scalar_at(at(object, {"metadata"}), "name");
}

std::vector<stream_doc> read_stream(std::string_view text) {
    std::vector<stream_doc> docs;
    int index = 0;
    for (auto& d : parse_stream(text)) {
        ++index;
        stream_doc s;
        s.source = std::move(d);
        check_object(s.source.node, index, "the document");
        const auto kind = scalar_at(s.source.node, "kind");
        const auto items = at(s.source.node, {"items"});
        if (kind == "List" || (kind.ends_with("List") && items.IsSequence())) {
            s.is_list = true;
            if (items.IsDefined() && !items.IsNull() && !items.IsSequence())
                throw refusal("List: items is not a list", index, line_of(items));
            if (items.IsSequence())
                for (std::size_t i = 0; i < items.size(); ++i) {
                    auto item = items[i];
                    if (kind != "List") implied_kind(item, s.source.node);
                    check_object(item, index, kind + " item " + std::to_string(i));
                    s.items.push_back(item);
                }
        } else {
            s.items.push_back(s.source.node);
        }
        s.before.resize(s.items.size());
        s.after.resize(s.items.size());
        s.dropped.resize(s.items.size());
        docs.push_back(std::move(s));
    }
    return docs;
}

std::string write_stream(std::vector<stream_doc>& docs, bool keep_own_comments) {
    std::vector<std::string> out;
    for (auto& d : docs) {
        if (!d.changed && d.source.text) {
            out.push_back(*d.source.text);
            continue;
        }
        std::string comments =
            keep_own_comments ? d.source.leading_comments : own_comments(d.source.leading_comments);
        for (const auto& c : d.comments) comments += "# sidelight: " + c + "\n";
        if (d.is_list) {
            YAML::Node items(YAML::NodeType::Sequence);
            for (std::size_t i = 0; i < d.items.size(); ++i) {
                for (const auto& b : d.before[i]) items.push_back(b);
                if (!d.dropped[i]) items.push_back(d.items[i]);
                for (const auto& a : d.after[i]) items.push_back(a);
            }
            d.source.node["items"] = items;
            out.push_back(emit(d.source.node, comments) + "\n");
            continue;
        }
        for (const auto& b : d.before[0]) out.push_back(emit(b) + "\n");
        if (!d.dropped[0]) out.push_back(emit(d.source.node, comments) + "\n");
        for (const auto& a : d.after[0]) out.push_back(emit(a) + "\n");
    }
    std::string text;
    for (const auto& o : out) text += (text.empty() ? "" : "---\n") + o;
    return text;
}

std::string refusal_message(const options& opts, const refusal& r) {
    std::string s = opts.file_name;
    if (r.document > 0) s += ": document " + std::to_string(r.document);
    if (r.line > 0)
        s += std::string(r.document > 0 ? "," : ":") + " line " + std::to_string(r.line);
    return s + ": " + r.what();
}

}  // namespace sidelight::inject::detail
