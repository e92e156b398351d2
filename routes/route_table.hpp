#pragma once
// The route table: maps (method, request target) to the route template it belongs to, so that
// metrics and audit rules are labelled with "GET /api/products/{id}", never the raw path.
//
// Built once from `config::routes_config` (OpenAPI routes first, then the explicit entries;
// an explicit entry overrides an imported one with the same template and method) and immutable
// afterwards. `match` is const, lock-free and safe to call from any number of threads; it does
// not allocate. Share the table as `std::shared_ptr<const route_table>`; a reload builds a new
// one.
//
// Templates: literal segments, `{name}` or `:name` parameters (whole segments) and a final
// `{*name}` catch-all that matches zero or more remaining segments (its value is the rest of
// the decoded path joined with '/'). An entry without methods matches any method.
//
// Precedence, per segment: a literal beats a parameter beats a catch-all; a branch that dead-
// ends (no deeper match, or no entry for the method) falls back to the next kind, so
// "/a/b/c" and "/a/{x}/d" both work for "/a/b/d". At the node where the path ends, an entry
// listing the method beats an any-method entry.
//
// Case: with `routes.case_sensitive: false` (the default, as Express's router) literal segments
// match ignoring ASCII case, so "/API/Products/7" matches "/api/products/{id}"; the label stays
// the template as configured and parameter values keep the client's bytes. Two templates that
// differ only in case are then the same route (a duplicate error). Non-ASCII letters must match
// byte for byte.
//
// Path handling (see route_path.hpp): query and fragment ignored; a trailing '/' is ignored
// ("/a/b/" matches "/a/b"); empty segments collapse; each segment is percent-decoded
// ("%2F" stays inside its segment); "." is dropped and ".." pops a segment but never climbs
// above the root ("/api/../../admin" is "/admin"); an invalid escape, a path over 8 KiB or
// with more than 256 segments is unmatched.
//
// Route ids are small integers; 0 is `unmatched`, configured routes are 1..size() in
// precedence order (the order of entries()).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "routes/method.hpp"
#include "routes/route_template.hpp"

namespace sidelight::routes {

class decoded_path;

using route_id = std::uint32_t;
inline constexpr route_id unmatched_route = 0;
inline constexpr std::string_view unmatched_label = "unmatched";

// The parameters of one match: up to `max_params` (name, value) pairs, values copied into an
// inner buffer of `max_bytes` (the decoded path dies with the call). A value that does not fit
// is left out and truncated() turns true; the match itself is unaffected. Names view strings
// owned by the route table. Not thread-safe; use one per request.
class param_list {
  public:
    static constexpr std::size_t max_params = max_template_params;
    static constexpr std::size_t max_bytes = 1024;

    std::size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    bool truncated() const { return truncated_; }
    std::string_view name(std::size_t i) const { return items_[i].name; }
    std::string_view value(std::size_t i) const {
        return {buf_.data() + items_[i].offset, items_[i].length};
    }
    std::optional<std::string_view> find(std::string_view name) const;
    void clear() {
        count_ = 0;
        used_ = 0;
        truncated_ = false;
    }

  private:
    friend class route_table;
    struct item {
        std::string_view name;
        std::uint16_t offset;
        std::uint16_t length;
    };
    // Appends segments [first, last) of `path`, joined by '/', as one value.
    void add(std::string_view name, const decoded_path& path, std::size_t first, std::size_t last);

    std::array<char, max_bytes> buf_;
    std::array<item, max_params> items_;
    std::size_t count_ = 0;
    std::size_t used_ = 0;
    bool truncated_ = false;
};

// One configured route, as compiled. Kept small: a table may hold 100k of them.
struct route_entry {
    route_id id = unmatched_route;
    std::string label;         // normalized template, the metric label
    method_set methods;        // empty: any method
    std::string name;          // entry name or OpenAPI operationId
    std::uint32_t params = 0;  // its parameter names: route_table::param_names(id)
    std::uint32_t line = 0;    // where it is configured: route_table::mark(entry)
    std::uint16_t column = 0;
    std::uint16_t file = 0;
    bool imported = false;  // came from the OpenAPI file
    // Listed for GET and not HEAD, so a HEAD request to its paths resolves to it (HEAD is GET
    // without the body: frameworks answer it with the GET handler, and uptime monitors and
    // caches send it to routes that never list it). Unset where a route on the same template
    // lists HEAD itself or takes any method: that one takes the HEAD.
    bool head_as_get = false;

    // The methods a request resolved to this entry can have: what rules and capture plans of
    // the route must cover.
    method_set request_methods() const {
        if (methods.empty()) return method_set::all();
        auto out = methods;
        if (head_as_get) out.add(http_method::head);
        return out;
    }
};

class route_table {
  public:
    // Throws config::config_error for an invalid template or method, a duplicate or ambiguous
    // entry (the mark of the second entry, the message naming the first one's line) and for
    // OpenAPI import errors. A relative `routes.openapi_file` is resolved against `config_dir`
    // (the directory of the config file).
    static std::shared_ptr<const route_table> build(const config::routes_config& routes,
                                                    const std::filesystem::path& config_dir = {});
    // Same, from route specs already merged (used by build; handy for tests).
    static std::shared_ptr<const route_table> build(
        const std::vector<config::route_spec>& imported,
        const std::vector<config::route_spec>& explicit_entries, bool case_sensitive = false);

    // The route for `target` (origin-form or absolute-form), or unmatched_route. When `params`
    // is given it is cleared and, on a match, receives the route's parameter values.
    route_id match(http_method method, std::string_view target, param_list* params = nullptr) const;

    // The metric label: the normalized template, "unmatched" for 0 or an unknown id.
    std::string_view label(route_id id) const;
    // The parameter names of a route, in path order (empty for unmatched).
    const std::vector<std::string>& param_names(route_id id) const;
    // Where an entry is configured (the config file, or the OpenAPI file it was imported from).
    config::source_mark mark(const route_entry& e) const;
    // Number of configured routes: ids are 1..size().
    std::size_t size() const { return entries_.size(); }
    // Every route in precedence order; entries()[i].id == i + 1.
    const std::vector<route_entry>& entries() const { return entries_; }

  private:
    friend class route_table_builder;  // route_builder.cpp
    struct search;
    // Literal edges live in one array, each node's as one run sorted by text (the order
    // match() binary-searches), so that a node is five integers and has no allocation of its
    // own: a table of 100k templates is mostly nodes.
    struct edge {
        std::string text;  // decoded literal; lower case unless case-sensitive
        std::uint32_t child;
        std::uint32_t parent;  // used while building
    };
    struct node {
        static constexpr std::uint32_t none = UINT32_MAX;
        static constexpr std::size_t any_slot = standard_method_count;
        using slots = std::array<route_id, standard_method_count + 1>;  // per method, then any
        std::uint32_t first_edge = 0;  // literal children: edges_[first_edge, + edge_count)
        std::uint32_t edge_count = 0;
        std::uint32_t param = none;
        // Indexes into slots_ (none: no entry). Most nodes are inner nodes: keeping the
        // 40-byte slot arrays out of line keeps the nodes small.
        std::uint32_t here = none;       // entries ending at this node
        std::uint32_t catch_all = none;  // `{*name}` entries hanging off this node
    };

    route_table() = default;

    std::vector<node> nodes_;
    std::vector<edge> edges_;
    std::vector<node::slots> slots_;
    bool case_sensitive_ = false;  // false: literals are stored lower case (ASCII)
    std::vector<route_entry> entries_;
    // Parameter name lists, each once (most routes share one, such as {"id"}): [0] is empty.
    std::vector<std::vector<std::string>> param_sets_;
    std::vector<std::string> files_;  // the files entries come from
};

// The compiled table for `sidelight routes`: one line per entry in precedence order,
// "METHODS  TEMPLATE  NAME  FILE:LINE" (methods "*" for any).
std::string describe(const route_table& table);

// One match explained, e.g. "GET /api/products/42 -> GET /api/products/{id} id=42
// (get_product, sidelight.yaml:12)" or "GET /nope -> unmatched".
std::string describe_match(const route_table& table, http_method method, std::string_view target);

}  // namespace sidelight::routes
