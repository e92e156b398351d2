#pragma once
// The words the proxy speaks in, from the rooms below it: the request record and observer,
// route ids and plans (routes/), and the published-value and request-id primitives (util/).
// Brought into `sidelight::proxy` by name, so session code reads `error_type::bad_request`.

#include "routes/audit_gate.hpp"
#include "routes/capture.hpp"
#include "routes/method.hpp"
#include "routes/observer.hpp"
#include "routes/request_record.hpp"
#include "routes/routing.hpp"
#include "util/published.hpp"
#include "util/request_id.hpp"

namespace sidelight::proxy {

using routes::audit_gate;
using routes::audit_phase;
using routes::capture_plan;
using routes::connection_type;
using routes::error_type;
using routes::http_method;
using routes::method_set;
using routes::observer;
using routes::param_list;
using routes::parse_method;
using routes::request_record;
using routes::route_id;
using routes::routing;
using routes::unmatched_route;
using util::generate_request_id;
using util::is_sane_request_id;
using util::published;

}  // namespace sidelight::proxy
