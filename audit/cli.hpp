#pragma once
// `sidelight audit verify|query|export`: the agent's main parses the arguments and calls these.
// Each opens the store (a SQLite file must exist; Postgres must hold the schema), writes its report
// or rows to `out` (stdout) and returns the exit code: verify 0 (chain intact) / 1 (broken or
// checkpoint mismatch) / 2 (cannot open or read); query and export 0 / 2. Diagnostics go to `err`
// (stderr) as one `sidelight: audit <command>: ...` line each: errors, and verify's warning that
// checkpoints without a public key are not authenticated.
//
// Rows are rendered as one JSON object each (to_json): every stored column, with `changes` and
// `details` kept as the exact stored text so an external tool can recompute the chain. Export
// writes one object per line; CR, LF, U+2028 and U+2029 inside values are always escaped.
//
// Thread-safety: none needed; each call opens its own connection.

#include <boost/json/object.hpp>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>

#include "audit/store.hpp"

namespace sidelight::audit {

// Where `audit` commands read: a SQLite file, or Postgres (with one chain or all of them).
struct store_target {
    store_target(std::string store_, std::optional<std::string> chain_ = std::nullopt)  // NOLINT
        : store(std::move(store_)), chain(std::move(chain_)) {}
    std::string store;                 // path, connection string or URI
    std::optional<std::string> chain;  // Postgres only
};

// True when `store` names Postgres: a postgres:// or postgresql:// URI, or keyword=value pairs
// libpq accepts where no such file exists.
bool is_postgres_target(const std::string& store);

int audit_verify_main(const store_target& target, const std::optional<std::string>& checkpoint_file,
                      const std::optional<std::string>& public_key_file, std::ostream& out,
                      std::ostream& err);
int audit_query_main(const store_target& target, const query_filter& filter, std::ostream& out,
                     std::ostream& err);
int audit_export_main(const store_target& target, std::ostream& out, std::ostream& err);
// Prints the grants SQL, or with a store runs it there (creating the schema first).
int audit_pg_grants_main(const std::string& role, const std::string& store, std::ostream& out,
                         std::ostream& err);

// The filter names of `audit query --filter` (and GET /v1/events), each with what it takes:
// printed after a --filter error.
extern const char* const query_filter_help;

boost::json::object to_json(const stored_event& row);
// serialize(to_json(row)) with U+2028/U+2029 escaped: never contains a line break.
std::string to_json_line(const stored_event& row);

}  // namespace sidelight::audit
