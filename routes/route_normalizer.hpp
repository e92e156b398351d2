#pragma once
// Route labels for unmatched requests in `routes.unmatched: normalize` mode: the raw path is
// turned into a template by replacing id-like segments with `{id}`, and each distinct
// template gets a stable route id, continuing after the route table's ids, up to
// `max_routes` templates. Beyond the cap every new template is `unmatched` (id 0); templates
// already handed out keep their id.
//
// The path is read exactly as route_table::match reads it (route_path.hpp: query ignored,
// percent-decoded, dot segments resolved, an invalid escape is unmatched). A segment is
// id-like when it is an integer, a UUID, a hex string of 16+ characters, or an opaque token
// of 24+ characters from [A-Za-z0-9_-] mixing letters and digits. Label values never carry
// client bytes that are not printable UTF-8: a segment holding a control character, a space,
// '"', '\', '{', '}', an encoded '/' or invalid UTF-8 collapses the whole path to
// `unmatched`, and so does a template longer than `max_template_bytes`.
//
// Thread-safe: normalize() and label() may be called concurrently. Known templates are found
// under a shared lock without allocating; a new template takes the exclusive lock once.
// Labels returned by label() stay valid for the normalizer's lifetime.

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "routes/route_table.hpp"

namespace sidelight::routes {

class unmatched_normalizer {
  public:
    static constexpr std::size_t max_template_bytes = 128;

    // `first_id` is the first id handed out, normally route_table::size() + 1.
    unmatched_normalizer(route_id first_id, std::size_t max_routes);

    // The route id for the template of `target`, or unmatched_route.
    route_id normalize(std::string_view target);

    // The template of an id handed out by normalize(); "unmatched" for any other id.
    std::string_view label(route_id id) const;

    // Number of templates handed out so far (at most max_routes).
    std::size_t size() const;
    route_id first_id() const { return first_id_; }

    // The template for `target` ("/users/{id}/orders"), or nullopt when the path is unmatched
    // whatever the cap (invalid escape, hostile bytes, too long). Allocates; for tests and
    // `sidelight routes`.
    static std::optional<std::string> to_template(std::string_view target);

  private:
    const route_id first_id_;
    const std::size_t max_routes_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, route_id, std::less<>> ids_;
    std::deque<std::string> labels_;  // labels_[id - first_id_]; a deque keeps views stable
};

}  // namespace sidelight::routes
