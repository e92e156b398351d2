#pragma once
// Opens the store `audit.store` names: the one place that knows which store types this build
// has. SQLite: the file, for writing (create) and reading (existing). Postgres: events are
// written to the local spool (open_spool) and forwarded (forwarder.hpp); readers get the fleet
// store itself (pg_reader). A test build may wrap every store the factory opens for writing
// (fault injection for outage tests): the shipped binary never sets a wrapper, so nothing in it
// reads a test switch.
// Thread-safety: open_store may be called from any thread; set_store_wrapper only before any
// store is opened (from a static initializer of a test binary).

#include <memory>

#include "audit/sqlite_store.hpp"
#include "audit/store.hpp"
#include "config/config.hpp"

namespace sidelight::audit {

// Throws store_error for a type this build lacks (preflight refuses it first), a store that
// cannot be opened, or type postgres with open_mode::create (written through open_spool).
std::unique_ptr<store> open_store(const config::store_config& cfg, open_mode mode);

// Postgres: the spool at cfg.spool.path (created when missing), with the SQLite settings of cfg.
std::unique_ptr<sqlite_store> open_spool(const config::store_config& cfg);

// Wraps every store opened with open_mode::create; for test binaries only.
using store_wrapper = std::unique_ptr<store> (*)(std::unique_ptr<store>);
void set_store_wrapper(store_wrapper wrapper);

}  // namespace sidelight::audit
