#include "audit/pg_schema.hpp"

#include <cctype>

#include "audit/store.hpp"

namespace sidelight::audit {
namespace {

// The lock every migrating writer takes first (pg_advisory_xact_lock key).
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(7301150231)";

constexpr const char* version_1_sql = R"sql(
CREATE TABLE IF NOT EXISTS sidelight_schema_version (
  version integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE audit_log (
  chain text NOT NULL,
  seq bigint NOT NULL,
  event_id uuid NOT NULL UNIQUE,
  user_id text NOT NULL,
  action text NOT NULL,
  entity_type text NOT NULL,
  entity_id text NOT NULL,
  changes jsonb,
  ip_address inet,
  user_agent text NOT NULL,
  created_at timestamptz NOT NULL,
  request_id text NOT NULL,
  method text NOT NULL,
  route text NOT NULL,
  status integer NOT NULL,
  source text NOT NULL CHECK (source IN ('rule', 'api', 'detector')),
  changes_text text NOT NULL,
  ip_text text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (chain, seq));
CREATE INDEX audit_log_user_id ON audit_log (user_id);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_created_at ON audit_log (created_at);

CREATE TABLE security_audit (
  chain text NOT NULL,
  seq bigint NOT NULL,
  event_id uuid NOT NULL UNIQUE,
  event_type text NOT NULL,
  user_id text NOT NULL,
  ip_address inet,
  success boolean,
  details jsonb,
  created_at timestamptz NOT NULL,
  request_id text NOT NULL,
  method text NOT NULL,
  route text NOT NULL,
  status integer NOT NULL,
  source text NOT NULL CHECK (source IN ('rule', 'api', 'detector')),
  details_text text NOT NULL,
  ip_text text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (chain, seq));
CREATE INDEX security_audit_event_type ON security_audit (event_type);
CREATE INDEX security_audit_user_id ON security_audit (user_id);
CREATE INDEX security_audit_created_at ON security_audit (created_at);

CREATE TABLE audit_checkpoint (
  chain text NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  taken_at timestamptz NOT NULL,
  count bigint NOT NULL,
  line text NOT NULL,
  PRIMARY KEY (chain, seq));

CREATE FUNCTION sidelight_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'sidelight audit tables accept INSERT only (docs/AUDIT.md, Fleet store)';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION sidelight_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION sidelight_refuse_change();
CREATE TRIGGER security_audit_append_only BEFORE UPDATE OR DELETE ON security_audit
  FOR EACH ROW EXECUTE FUNCTION sidelight_refuse_change();
CREATE TRIGGER security_audit_no_truncate BEFORE TRUNCATE ON security_audit
  FOR EACH STATEMENT EXECUTE FUNCTION sidelight_refuse_change();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
  FOR EACH ROW EXECUTE FUNCTION sidelight_refuse_change();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION sidelight_refuse_change();

INSERT INTO sidelight_schema_version (version) VALUES (1);
)sql";

// Version 2: the request's trace id (NULL when none). ADD COLUMN of a nullable column without a
// default rewrites no row: the rows forwarded before keep their values, and their chain.
constexpr const char* version_2_sql = R"sql(
ALTER TABLE audit_log ADD COLUMN trace_id text;
ALTER TABLE security_audit ADD COLUMN trace_id text;
INSERT INTO sidelight_schema_version (version) VALUES (2);
)sql";

// Version 3: event_id is no longer unique across the tables' chains, only indexed. A chain is
// every row its writer committed: an event sent to two pods, or retried once its pod's spool no
// longer held it, is a row of each chain that committed it, and skipping one (ON CONFLICT DO
// NOTHING, as before) left a gap in that chain. No row is rewritten.
constexpr const char* version_3_sql = R"sql(
ALTER TABLE audit_log DROP CONSTRAINT audit_log_event_id_key;
CREATE INDEX audit_log_event_id ON audit_log (event_id);
ALTER TABLE security_audit DROP CONSTRAINT security_audit_event_id_key;
CREATE INDEX security_audit_event_id ON security_audit (event_id);
INSERT INTO sidelight_schema_version (version) VALUES (3);
)sql";

// Runs the steps from `found` (0: nothing yet) to pg_schema_version.
void migrate_from(pg::connection& conn, int found) {
    if (found < 1) conn.exec(version_1_sql);
    if (found < 2) conn.exec(version_2_sql);
    if (found < 3) conn.exec(version_3_sql);
}

}  // namespace

int pg_schema_version_of(pg::connection& conn) {
    auto r =
        conn.exec("SELECT CASE WHEN to_regclass('sidelight_schema_version') IS NULL THEN -1 END");
    if (!r.null(0, 0)) return 0;
    auto v = conn.exec("SELECT coalesce(max(version), 0) FROM sidelight_schema_version");
    return static_cast<int>(v.int64(0, 0));
}

// The version is read only under the lock, on a connection that looked nothing up before: a
// backend caches that a relation does not exist, and taking an advisory lock does not refresh that
// cache, so a check made before the lock would still miss the tables another writer created while
// this one waited. A database at this version gets no DDL at all.
void pg_migrate(pg::connection& conn) {
    conn.exec("BEGIN");
    try {
        conn.exec(migration_lock);
        const int found = pg_schema_version_of(conn);
        if (found > pg_schema_version) {
            throw store_error("postgres " + conn.where() + ": the audit schema is version " +
                              std::to_string(found) + ", newer than this sidelight's (" +
                              std::to_string(pg_schema_version) + ")");
        }
        if (found < pg_schema_version) {
            try {
                migrate_from(conn, found);
            } catch (const store_error& e) {
                throw store_error(std::string(e.what()) +
                                  " (creating or upgrading the audit schema needs a role that "
                                  "may create tables (the tables' owner, to upgrade): start "
                                  "sidelight once as the owner, or run `sidelight audit "
                                  "pg-grants --store`, see docs/AUDIT.md)");
            }
        }
        conn.exec("COMMIT");
    } catch (const store_error&) {
        try {
            conn.exec("ROLLBACK");
        } catch (const store_error&) {
        }
        throw;
    }
}

std::string pg_grants_sql(const std::string& role) {
    bool ok = !role.empty() && role.size() <= 63 &&
              !std::isdigit(static_cast<unsigned char>(role.front()));
    for (char c : role)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') ok = false;
    if (!ok) throw store_error("role \"" + role + "\": expected letters, digits and _");
    const std::string tables = "audit_log, security_audit, audit_checkpoint";
    return "-- Run as the owner of the sidelight audit tables (after the first start created "
           "them).\n"
           "-- The writer role may read and append, nothing else; the triggers refuse UPDATE,\n"
           "-- DELETE and TRUNCATE for every role, the owner's too.\n"
           "REVOKE ALL ON " +
           tables +
           ", sidelight_schema_version FROM PUBLIC;\n"
           "REVOKE ALL ON " +
           tables + ", sidelight_schema_version FROM " + role +
           ";\n"
           "GRANT USAGE ON SCHEMA public TO " +
           role +
           ";\n"
           "GRANT SELECT, INSERT ON " +
           tables + " TO " + role +
           ";\n"
           "GRANT SELECT ON sidelight_schema_version TO " +
           role + ";\n";
}

}  // namespace sidelight::audit
