#pragma once
// The SQLite store's schema: created in a new file, its version checked on every open, and a
// file written by an older build upgraded in place.
//
//   version 1  security_audit.success INTEGER NOT NULL CHECK (success IN (0, 1))
//   version 2  success may be NULL (a login the client abandoned has no known outcome)
//   version 3  trace_id TEXT (NULL when none) on both tables
//
// An upgrade runs every step from the file's version in one IMMEDIATE transaction. From 1 to 2,
// security_audit is rebuilt: every row is copied with all its columns unchanged (seq, event_id,
// prev_hash, hash), so the hash chain and the checkpoints signed before the upgrade stay valid;
// the indexes and the six append-only triggers are re-created as a new file has them. From 2 to
// 3, ALTER TABLE ADD COLUMN adds trace_id (existing rows read NULL, which the chain encodes as
// before: hash_chain.hpp). Any failure rolls back and leaves the file at its version. It is DDL,
// so it runs before the connection is guarded (sqlite_store's constructor).
//
// Thread-safety: none; call on a connection no other thread uses yet.

#include <SQLiteCpp/SQLiteCpp.h>

#include <string>

namespace sidelight::audit {

inline constexpr int current_schema_version = 3;

// Creates the schema in a file without one, upgrades a version-1 or -2 file, and checks that the
// append-only triggers exist (an error is logged when some are missing). Throws store_error
// for tables without schema_version, a version this build cannot read, or a failed upgrade.
void open_schema(SQLite::Database& db, const std::string& path);

}  // namespace sidelight::audit
