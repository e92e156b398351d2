#pragma once
// Everything `sidelight run` checks before it binds a socket, done once for `run`, `check` and
// `routes` so that a file `check` passes is one `run` starts with:
//
//   - the file loads (YAML, every key and value; config/load.hpp);
//   - the route table builds, the OpenAPI file included (proxy/routing.hpp);
//   - the audit and security rules compile against those routes, and the `audit.jwt` key
//     (file or environment variable) is usable (audit/rule_set.hpp);
//   - the checkpoint signing key (`audit.checkpoint.key_file`) is an Ed25519 private key;
//   - the audit store type is one this build has (sqlite);
//   - `proxy.listen` and `admin.listen` are IP addresses, as the listeners need.
//
// What it does not do, because it depends on the machine and the moment rather than the file
// (run still does it, and fails with exit 2): bind the ports (one may be taken), resolve the
// upstream's name (DNS answers differ between a CI runner and the pod; an IP address needs no
// resolving), open or create the audit store file (it is created on the first run, on a volume
// that may not be mounted where check runs).
//
// Thread-safety: none needed; called once, from main.

#include <memory>
#include <string>

#include "config/config.hpp"
#include "routes/routing.hpp"

namespace sidelight::agent {

struct preflight_result {
    std::shared_ptr<const config::config> cfg;
    std::unique_ptr<routes::routing> routes;
};

// Throws config::config_error with "<file>[:line:col]: <key.path>: <message>" (what main prints
// before exiting 2).
preflight_result preflight(const std::string& config_path);

}  // namespace sidelight::agent
