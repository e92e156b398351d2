#pragma once
// Private to inject/: YAML in and out for `sidelight inject`. A stream is split into its
// documents twice, by yaml-cpp (the nodes) and by the `---` lines (the text, so that a document
// inject leaves alone is written back byte for byte, comments included). The emitter writes
// block-style YAML that keeps what the source meant: a scalar that was quoted and would read as
// something else when plain ("1", "true", "0.1.0") stays quoted, flow collections stay flow.
// yaml-cpp drops comments: a document inject changes keeps only the comment lines that led it.
// Not thread-safe; used by one call at a time.

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sidelight::inject::detail {

// A refusal: what is wrong and where (1-based document index and line; 0 when unknown).
struct refusal : std::runtime_error {
    refusal(std::string message, int document, int line)
        : std::runtime_error(std::move(message)), document(document), line(line) {}
    int document;
    int line;
};

struct document {
    YAML::Node node;
    std::string leading_comments;     // the comment lines before its first content line
    std::optional<std::string> text;  // its source text, when the split agrees with yaml-cpp
};

// The non-empty documents of `text`; throws refusal on YAML that does not parse or that holds a
// key twice in one mapping.
std::vector<document> parse_stream(std::string_view text);

// `node` as block YAML (no trailing newline), `comments` first.
std::string emit(const YAML::Node& node, const std::string& comments = "");

// A scalar that stays a string when emitted, and a plain one (numbers).
YAML::Node string_node(const std::string& value);
YAML::Node plain_node(const std::string& value);

// 1-based line of a node from the source, 0 for a node made here.
int line_of(const YAML::Node& node);

// A rebuilt mapping with `key: value` inserted before `before` (at the end when absent).
YAML::Node insert_before(const YAML::Node& map, const std::string& key, const YAML::Node& value,
                         const std::string& before);
// A rebuilt mapping without `key`.
YAML::Node without(const YAML::Node& map, const std::string& key);

// The node at `path` under `node` (mapping keys), or an undefined node (IsDefined() false) when
// a step is missing or not a mapping. A read that never throws nor adds anything: yaml-cpp's
// const operator[] yields an invalid node on a missing key, its non-const one creates the key.
YAML::Node at(const YAML::Node& node, std::initializer_list<const char*> path);

// The text of a scalar child, "" when absent or not a scalar.
std::string scalar_at(const YAML::Node& map, const std::string& key);

// A line diff of `before` and `after` in unified form, 3 lines of context, "" when equal.
std::string line_diff(std::string_view before, std::string_view after, const std::string& name);

}  // namespace sidelight::inject::detail
