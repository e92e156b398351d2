#include "audit/sqlite_schema.hpp"

#include <spdlog/spdlog.h>

#include <string_view>

#include "audit/store.hpp"

namespace sidelight::audit {

namespace {

// One statement per constant, so that an upgrade re-creates security_audit and its indexes from
// the very text a new file gets (sqlite_master then reads the same in both).
constexpr const char* version_table_sql = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
)sql";
constexpr const char* audit_log_table_sql = R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY NOT NULL,
  event_id TEXT UNIQUE NOT NULL,
  user_id TEXT NOT NULL, action TEXT NOT NULL, entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL, changes TEXT NOT NULL, ip_address TEXT NOT NULL,
  user_agent TEXT NOT NULL, created_at TEXT NOT NULL,
  request_id TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('rule', 'api', 'detector')),
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)sql";
constexpr const char* security_audit_table_sql = R"sql(
CREATE TABLE security_audit (
  seq INTEGER PRIMARY KEY NOT NULL,
  event_id TEXT UNIQUE NOT NULL,
  event_type TEXT NOT NULL, user_id TEXT NOT NULL, ip_address TEXT NOT NULL,
  success INTEGER CHECK (success IN (0, 1)), details TEXT NOT NULL,
  created_at TEXT NOT NULL,
  request_id TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('rule', 'api', 'detector')),
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)sql";
constexpr const char* audit_log_indexes_sql = R"sql(
CREATE INDEX audit_log_user_id ON audit_log (user_id);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
)sql";
constexpr const char* security_audit_indexes_sql = R"sql(
CREATE INDEX security_audit_event_type ON security_audit (event_type);
CREATE INDEX security_audit_created_at ON security_audit (created_at);
)sql";

// Every column of security_audit, the same in versions 1 and 2.
constexpr std::string_view security_audit_columns[] = {
    "seq",     "event_id", "event_type", "user_id",    "ip_address",
    "success", "details",  "created_at", "request_id", "method",
    "route",   "status",   "source",     "prev_hash",  "hash"};

constexpr const char* trigger_names[] = {"audit_log_no_update",      "audit_log_no_delete",
                                         "audit_log_no_overwrite",   "security_audit_no_update",
                                         "security_audit_no_delete", "security_audit_no_overwrite"};

// Per table: no UPDATE, no DELETE, no INSERT onto an existing seq or event_id (either table).
// They guard the tables against every other connection; the store's own connection runs with
// triggers off and an authorizer instead (sqlite_store::guard_connection).
std::string append_only_triggers(std::string_view table) {
    const std::string t{table};
    const std::string raise = "BEGIN SELECT RAISE(ABORT, '" + t + " is append-only'); END;\n";
    return "CREATE TRIGGER " + t + "_no_update BEFORE UPDATE ON " + t + " " + raise +
           "CREATE TRIGGER " + t + "_no_delete BEFORE DELETE ON " + t + " " + raise +
           "CREATE TRIGGER " + t + "_no_overwrite BEFORE INSERT ON " + t +
           " WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq)"
           " OR EXISTS (SELECT 1 FROM audit_log WHERE event_id = NEW.event_id)"
           " OR EXISTS (SELECT 1 FROM security_audit WHERE seq = NEW.seq)"
           " OR EXISTS (SELECT 1 FROM security_audit WHERE event_id = NEW.event_id) " +
           raise;
}

void create_triggers(SQLite::Database& db) {
    db.exec(append_only_triggers("audit_log") + append_only_triggers("security_audit"));
}

void set_version(SQLite::Database& db, int version) {
    db.exec("DELETE FROM schema_version");
    db.exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(version) + ")");
}

// Version 3: the request's trace id, NULL when none. ADD COLUMN rewrites no row and keeps the
// triggers; a new file gets the column by the same statement, so that sqlite_master reads the
// same in a new file and an upgraded one.
constexpr const char* add_trace_id_sql = R"sql(
ALTER TABLE audit_log ADD COLUMN trace_id TEXT;
ALTER TABLE security_audit ADD COLUMN trace_id TEXT;
)sql";

// A new file: the version-2 tables, then the version-3 step. Inside the caller's transaction.
void create_schema(SQLite::Database& db) {
    for (const char* sql : {version_table_sql, audit_log_table_sql, security_audit_table_sql,
                            audit_log_indexes_sql, security_audit_indexes_sql}) {
        db.exec(sql);
    }
    create_triggers(db);
    db.exec(add_trace_id_sql);
    set_version(db, current_schema_version);
}

// "a, b, ..." and "o.a IS n.a AND o.b IS n.b AND ...".
std::string column_list() {
    std::string out;
    for (auto c : security_audit_columns) out += (out.empty() ? "" : ", ") + std::string(c);
    return out;
}
std::string same_columns() {
    std::string out;
    for (auto c : security_audit_columns) {
        const std::string col{c};
        out += (out.empty() ? "" : " AND ") + ("o." + col + " IS n." + col);
    }
    return out;
}

// Version 1 declared success NOT NULL, which SQLite cannot drop in place: the table is rebuilt.
// The old one is renamed aside first (rather than the new one renamed into place) so that the new
// table's CREATE statement is the one a new file has. The triggers are dropped first, all six:
// the overwrite triggers of both tables name security_audit, and RENAME would rewrite them to
// name the old table. Inside the caller's transaction; returns the rows copied.
std::int64_t upgrade_1_to_2(SQLite::Database& db) {
    for (const char* name : trigger_names) db.exec(std::string("DROP TRIGGER IF EXISTS ") + name);
    db.exec("ALTER TABLE security_audit RENAME TO security_audit_v1");
    db.exec(security_audit_table_sql);
    const auto columns = column_list();
    db.exec("INSERT INTO security_audit (" + columns + ") SELECT " + columns +
            " FROM security_audit_v1 ORDER BY seq");
    // Every row copied as it was, or nothing: the chain and its checkpoints depend on it.
    SQLite::Statement check(db,
                            "SELECT (SELECT count(*) FROM security_audit_v1), "
                            "(SELECT count(*) FROM security_audit), "
                            "(SELECT count(*) FROM security_audit_v1 o JOIN security_audit n "
                            "ON n.seq = o.seq WHERE " +
                                same_columns() + ")");
    check.executeStep();
    const auto old_rows = check.getColumn(0).getInt64();
    if (check.getColumn(1).getInt64() != old_rows || check.getColumn(2).getInt64() != old_rows) {
        throw store_error("the copied security_audit rows differ from the originals");
    }
    check.reset();
    db.exec("DROP TABLE security_audit_v1");  // and its indexes
    db.exec(security_audit_indexes_sql);
    create_triggers(db);
    return old_rows;
}

// From version 1 or 2 to the current one, inside the caller's transaction. Returns the
// security_audit rows copied.
std::int64_t upgrade(SQLite::Database& db, int from) {
    const std::int64_t rows = from == 1 ? upgrade_1_to_2(db) : 0;
    db.exec(add_trace_id_sql);
    set_version(db, current_schema_version);
    return rows;
}

// The schema version the file holds: 0 for a new file, 1 and 2 to be upgraded, or the current
// one. Throws store_error for any other.
int version_of(SQLite::Database& db, const std::string& path) {
    if (!db.tableExists("schema_version")) {
        if (db.tableExists("audit_log") || db.tableExists("security_audit")) {
            throw store_error("audit store " + path +
                              ": tables exist but schema_version is missing");
        }
        return 0;
    }
    const auto found = db.execAndGet("SELECT max(version) FROM schema_version").getInt();
    if (found != 1 && found != 2 && found != current_schema_version) {
        throw store_error("audit store " + path + ": schema version " + std::to_string(found) +
                          ", this build expects " + std::to_string(current_schema_version));
    }
    return found;
}

void check_triggers(SQLite::Database& db, const std::string& path) {
    std::string names;
    for (const char* name : trigger_names)
        names += (names.empty() ? "'" : ", '") + std::string(name) + "'";
    const auto triggers =
        db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (" +
                      names + ")")
            .getInt();
    if (triggers != 6) {
        spdlog::error(
            "audit store: append-only triggers missing, run audit verify store={} triggers={}/6",
            path, triggers);
    }
}

}  // namespace

void open_schema(SQLite::Database& db, const std::string& path) {
    int found = 0;
    {
        SQLite::Transaction snapshot(db);  // its queries see one state of the file
        found = version_of(db, path);
        snapshot.commit();
    }
    if (found != current_schema_version) {
        // Created or upgraded in one IMMEDIATE transaction, and looked at again once it holds the
        // write lock: another sidelight opening the same file at the same moment may have done
        // it meanwhile. Any failure leaves the file as it was.
        bool looked = false;
        try {
            SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
            found = version_of(db, path);
            looked = true;
            std::int64_t rows = 0;
            if (found == 0) {
                create_schema(db);
            } else if (found != current_schema_version) {
                rows = upgrade(db, found);
            }
            tx.commit();
            if (found != 0 && found != current_schema_version) {
                spdlog::info(
                    "audit store: schema upgraded, rows unchanged store={} from_version={} "
                    "to_version={} security_audit_rows_copied={}",
                    path, found, current_schema_version, rows);
            }
        } catch (const std::exception& e) {
            // A failed upgrade (its BEGIN included: a read-only file) names both versions;
            // version_of's own refusal, and a failed creation, pass as they are.
            const bool upgrading = found == 1 || found == 2;
            if (!upgrading || (!looked && dynamic_cast<const store_error*>(&e))) throw;
            throw store_error(
                "audit store " + path + ": upgrade from schema version " + std::to_string(found) +
                " to " + std::to_string(current_schema_version) +
                " failed, the file is left at version " + std::to_string(found) + ": " + e.what());
        }
    }
    check_triggers(db, path);
}

}  // namespace sidelight::audit
