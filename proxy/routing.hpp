#pragma once
// What the proxy needs to label a request: the compiled route table and, with
// `routes.unmatched: normalize`, the normalizer for paths no template matches. Built once per
// config load and published to the workers (published.hpp); a reload builds a new one.
// Thread-safety: resolve() and label() may be called concurrently.

#include <memory>
#include <string_view>

#include "config/config.hpp"
#include "proxy/method.hpp"
#include "proxy/route_normalizer.hpp"
#include "proxy/route_table.hpp"

namespace sidelight::proxy {

class routing {
  public:
    // Throws config::config_error (with the file and line of the offending entry).
    explicit routing(const config::config& cfg);

    // The route id of a request: a configured route, a normalized template, or unmatched (0).
    route_id resolve(http_method method, std::string_view target) const;
    std::string_view label(route_id id) const;
    // True when `id` is one of the configured (or imported) templates.
    bool configured(route_id id) const { return id != unmatched_route && id <= table_->size(); }
    const route_table& table() const { return *table_; }

  private:
    std::shared_ptr<const route_table> table_;
    std::unique_ptr<unmatched_normalizer> normalizer_;  // null unless `unmatched: normalize`
};

}  // namespace sidelight::proxy
