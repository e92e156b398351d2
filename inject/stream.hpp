#pragma once
// Private to inject/: the stream level both commands share: the objects of each document (a
// List's items), the output assembled from documents that changed and those that did not, the
// message of a refusal. Not thread-safe; used by one call at a time.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "inject/inject.hpp"
#include "inject/yaml_text.hpp"

namespace sidelight::inject::detail {

// One document of the stream and what becomes of it.
struct stream_doc {
    document source;
    std::vector<YAML::Node> items;  // the object, or a List's items
    bool is_list = false;
    bool changed = false;
    // Per item: objects to write before it and after it, and whether it is dropped.
    std::vector<std::vector<YAML::Node>> before, after;
    std::vector<bool> dropped;
    std::vector<std::string> comments;  // "# sidelight: ..." lines to lead the document
};

// Parses `text`; throws refusal when a document is no Kubernetes object.
std::vector<stream_doc> read_stream(std::string_view text);

// The output: unchanged documents as they were written, changed ones emitted.
std::string write_stream(std::vector<stream_doc>& docs, bool keep_own_comments);

std::string refusal_message(const options& opts, const refusal& r);

// Runs `body` (which returns the output text) so that any failure leaves no partial output: a
// refusal becomes the message naming file, document and line; anything else thrown (a yaml-cpp
// surprise) the file and what it said.
template <class Body>
result guarded(const options& opts, Body&& body) {
    result r;
    try {
        r.output = body(r);
        r.ok = true;
    } catch (const refusal& e) {
        r.error = refusal_message(opts, e);
    } catch (const std::exception& e) {
        r.error = opts.file_name + ": " + e.what();
    }
    if (!r.ok) r.output.clear();
    return r;
}

// kind/namespace/name
std::string object_key(const YAML::Node& object);

}  // namespace sidelight::inject::detail
