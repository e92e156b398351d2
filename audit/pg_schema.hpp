#pragma once
// The Postgres audit schema (docs/AUDIT.md, "Fleet store"): `audit_log` and `security_audit`
// with the original system's columns and indexes, plus per row the writer's `chain` and `seq`
// (primary key), `event_id uuid UNIQUE`, the request columns and the hash link; `changes` and
// `details` as jsonb and `ip_address` as inet for queries, beside the exact text the hash chain
// covers (`changes_text`, `details_text`, `ip_text`); `audit_checkpoint` for the forwarded
// checkpoints; `sidelight_schema_version`.
//
// Append-only: BEFORE UPDATE/DELETE (per row) and BEFORE TRUNCATE (per statement) triggers raise
// for every role, the owner's included. The one way past them is the documented maintenance
// path: a superuser session with `SET session_replication_role = replica` (ordinary triggers do
// not fire in replica mode, and only a superuser may set it).
//
// Thread-safety: free functions over a connection the caller owns.

#include <string>

#include "audit/pg.hpp"

namespace sidelight::audit {

// 1: the tables, indexes and triggers; 2: trace_id text (NULL when none) on both event tables;
// 3: event_id indexed, no longer unique (a chain keeps every row its writer committed).
inline constexpr int pg_schema_version = 3;

// Creates or upgrades the schema, idempotently, in one transaction under an advisory lock, so
// that any number of writers starting at once create it once. A database already at this version
// is only read (no DDL: a writer role without CREATE privilege starts fine). Throws store_error
// when the database holds a newer version, or the role may not create what is missing.
void pg_migrate(pg::connection& conn);

// The version the database holds; 0 when it has no sidelight schema.
int pg_schema_version_of(pg::connection& conn);

// SQL that gives `role` INSERT and SELECT on the audit tables and nothing else (to be run by
// their owner). `role` must be a plain identifier (letters, digits, _): store_error otherwise.
std::string pg_grants_sql(const std::string& role);

}  // namespace sidelight::audit
