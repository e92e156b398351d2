#pragma once
// Import of route templates from an OpenAPI 3.x or Swagger 2.0 document (YAML or JSON).
//
// Every operation (get put post delete options head patch trace) of every path becomes one
// route_spec: template = base path + path key, methods = {the method}, name = operationId
// (empty when absent), mark = the operation key's line and column in the file. The base path
// is, for OpenAPI 3, the path part of the first `servers[].url` (relative "/v1" or absolute
// "https://host/v1", `{variables}` replaced by their default) and, for Swagger 2, `basePath`.
// Path-level `parameters`, `summary`, `servers`, `$ref` and `x-` extension keys are skipped.
// Pure function, thread-safe.

#include <string>
#include <vector>

#include "config/config.hpp"

namespace sidelight::routes {

// Throws config::config_error (key path "routes.openapi") with the file and line for an
// unreadable or unparsable file, a document that is neither OpenAPI 3 nor Swagger 2, a
// malformed `paths` section or an invalid path template.
std::vector<config::route_spec> import_openapi(const std::string& file);

}  // namespace sidelight::routes
