#pragma once
// Private to config/ (and loadtest/plan_yaml.cpp, which reads loadtest.yaml with the same walker
// so that its errors quote file:line:col and the key path alike): the pieces the per-section
// parsers share. A `node_ref` is a YAML node plus
// where it is (file, mark, dotted key path), so that every parser can throw a config_error that
// quotes the position. A `map_reader` checks a map against its allowed keys (unknown and
// duplicate keys are errors) and hands out the values. Not thread-safe; used during one load.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/load.hpp"

namespace sidelight::config::detail {

struct node_ref {
    YAML::Node node;
    std::string path;  // "audit.rules[2].entity_id"
    source_mark mark;

    [[noreturn]] void fail(const std::string& message) const;
    bool is_null() const { return !node.IsDefined() || node.IsNull(); }
    // The scalar's text with ${ENV} expanded; fails when the node is not a scalar.
    std::string scalar() const;
    node_ref item(std::size_t index) const;
};

// `file` is shared, not copied: pass the parent's mark.file.
source_mark to_mark(const source_file& file, const YAML::Mark& mark);

// One key/value pair of a map, as written (duplicates included).
struct map_entry {
    std::string key;
    source_mark key_mark;
    node_ref value;
};

// All pairs of a map node (null counts as an empty map); fails on a non-map, a non-scalar key
// or a key written twice (reported at the second occurrence).
std::vector<map_entry> map_entries(const node_ref& map);

class map_reader {
  public:
    map_reader(const node_ref& map, std::initializer_list<std::string_view> allowed);
    std::optional<node_ref> get(std::string_view key) const;
    node_ref require(std::string_view key) const;  // fails with "missing required key"
    const node_ref& self() const { return map_; }

  private:
    node_ref map_;
    std::vector<map_entry> entries_;
};

// Items of a sequence (null counts as empty); fails on anything else.
std::vector<node_ref> list_items(const node_ref& list);
// The number of items, with the same checks; with item(i), walks a long list (routes) without
// holding a node_ref per item.
std::size_t list_size(const node_ref& list);

// Typed scalars. Each fails with a message naming the expected form.
std::string to_string(const node_ref& n);
std::string to_nonempty_string(const node_ref& n);
bool to_bool(const node_ref& n);
std::uint64_t to_uint(const node_ref& n, std::uint64_t low, std::uint64_t high);
// At most max_duration (10 years).
inline constexpr duration max_duration = std::chrono::hours(87600);
duration to_duration(const node_ref& n, bool allow_zero);
std::uint64_t to_size(const node_ref& n, std::uint64_t low,
                      std::uint64_t high = std::numeric_limits<std::uint64_t>::max());
address to_address(const node_ref& n, bool allow_port_zero);
// A listener's address: an IP address, not a name (the listeners bind what they are given).
address to_listen_address(const node_ref& n, bool allow_port_zero);
std::string to_choice(const node_ref& n, std::initializer_list<std::string_view> choices);
std::vector<std::string> to_string_list(const node_ref& n);

// ${VAR}, ${VAR:-default} and $$; returns the error message through `error` on failure.
std::optional<std::string> expand_env(std::string_view text, std::string& error);

bool is_http_token(std::string_view text);
bool is_cidr(std::string_view text);
std::string join(std::initializer_list<std::string_view> words, std::string_view separator);

// Section parsers (one per struct), split over load.cpp, routes.cpp, rules.cpp, metric_rules.cpp
// egress.cpp and slos.cpp.
routes_config parse_routes(const node_ref& n);
std::vector<route_spec> parse_route_entries(const node_ref& n);
upstream_config parse_upstream(const node_ref& n);
std::vector<metric_rule> parse_metric_rules(const node_ref& n);
std::vector<egress_config> parse_egress(const node_ref& n);
std::vector<database_config> parse_databases(const node_ref& n);
// `slos`, after `metrics`: a latency must be one of `buckets` (the api_latency_ms bounds).
std::vector<slo_spec> parse_slos(const node_ref& n, const metrics_config& metrics);
tracing_config parse_tracing(const node_ref& n);
// `path:id`, `header:X`, `query:q`, `jwt:c`, `request:/p`, `response:/p`; with `exchange`
// (metric rules) also `status`, `status_class`, `method` and `route`.
value_source parse_source(const node_ref& n, bool exchange = false);
rule_match parse_match(const node_ref& n);
// The rule's `listener` key into match.listener (an egress name; checked once egress is read).
void parse_listener(const node_ref& n, rule_match& match);
std::vector<double> parse_buckets(const node_ref& n);
bool is_label_name(std::string_view name);
bool is_metric_name(std::string_view name);
audit_config parse_audit(const node_ref& n);
security_config parse_security(const node_ref& n);
std::vector<std::string> parse_methods(const node_ref& n);
std::vector<status_range> parse_status_list(const node_ref& n);

}  // namespace sidelight::config::detail
