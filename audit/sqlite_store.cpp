#include "audit/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <variant>

#include "audit/hash_chain.hpp"
#include "audit/sqlite_schema.hpp"

namespace sidelight::audit {

namespace {

// Both tables projected onto one column list: 0 table, 1 seq, 2 event_id, 3 created_at,
// 4 source, 5 request_id, 6 method, 7 route, 8 status, 9 prev_hash, 10 hash, 11 user_id,
// 12 action, 13 entity_type, 14 entity_id, 15 changes, 16 ip_address, 17 user_agent,
// 18 event_type, 19 success, 20 details, 21 trace_id.
constexpr const char* select_audit =
    "SELECT 0 AS t, seq, event_id, created_at, source, request_id, method, route, status, "
    "prev_hash, hash, user_id, action, entity_type, entity_id, changes, ip_address, user_agent, "
    "'', 0, '', trace_id FROM audit_log";
constexpr const char* select_security =
    "SELECT 1 AS t, seq, event_id, created_at, source, request_id, method, route, status, "
    "prev_hash, hash, user_id, '', '', '', '', ip_address, '', event_type, success, details, "
    "trace_id FROM security_audit";

std::string synchronous_pragma(const std::string& value) {
    for (const char* ok : {"off", "normal", "full", "extra"}) {
        if (value == ok) return std::string("PRAGMA synchronous=") + ok;
    }
    throw store_error("audit.store.synchronous: '" + value +
                      "' is not one of off, normal, full, extra");
}

// Process-wide SQLite settings, applied once before the first connection opens (opening runs
// sqlite3_initialize, after which sqlite3_config is refused). MEMSTATUS off: SQLite stops
// counting every allocation under a global mutex (nothing here reads sqlite3_status or sets a
// soft heap limit); about 5 % fewer instructions per appended row.
void configure_sqlite_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); rc != SQLITE_OK) {
            spdlog::debug(
                "audit store: SQLite was initialized already, memory statistics stay on "
                "(sqlite3_config: {})",
                rc);
        }
    });
}

// PRAGMA journal_mode=WAL takes the file's exclusive lock without waiting for it: while another
// connection holds a lock (a second sidelight opening the same new file), it fails with
// SQLITE_BUSY at once. Tried again until the busy timeout. (A database that cannot be WAL, such
// as ":memory:", answers its own mode and stays in it.)
void enter_wal(SQLite::Database& db, int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        try {
            db.exec("PRAGMA journal_mode=WAL");
            return;
        } catch (const SQLite::Exception& e) {
            if ((e.getErrorCode() & 0xff) != SQLITE_BUSY ||
                std::chrono::steady_clock::now() >= until)
                throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// NOMUTEX: every use of the connection and its statements holds sqlite_store::mutex_ already.
int open_flags(open_mode mode) {
    configure_sqlite_once();
    return SQLite::OPEN_NOMUTEX |
           (mode == open_mode::create ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                                      : SQLite::OPEN_READWRITE);
}

std::int64_t integer_column(SQLite::Statement& st, int i, const char* name, std::int64_t seq) {
    const auto col = st.getColumn(i);
    if (!col.isInteger()) {
        throw store_error("row seq " + std::to_string(seq) + ": " + name + " is not an integer");
    }
    return col.getInt64();
}

template <typename E>
void decode_common(SQLite::Statement& st, std::int64_t seq, E& e) {
    e.event_id = st.getColumn(2).getString();
    const auto at = st.getColumn(3).getString();
    const auto parsed_at = parse_time(at);
    const auto source = parse_source(st.getColumn(4).getString());
    if (!parsed_at || !source) {
        throw store_error("row seq " + std::to_string(seq) + ": malformed created_at or source");
    }
    e.created_at = *parsed_at;
    e.source = *source;
    e.request_id = st.getColumn(5).getString();
    e.method = st.getColumn(6).getString();
    e.route = st.getColumn(7).getString();
    // Read as stored: a value an int cannot hold would be hashed and shown cut to 32 bits, and
    // an edit of the column would pass verify.
    const auto status = integer_column(st, 8, "status", seq);
    if (status < std::numeric_limits<int>::min() || status > std::numeric_limits<int>::max())
        throw store_error("row seq " + std::to_string(seq) + ": status out of range");
    e.status = static_cast<int>(status);
    e.trace_id = st.getColumn(21).getString();  // NULL reads as "": none
}

event decode_event(SQLite::Statement& st, std::int64_t seq) {
    if (st.getColumn(0).getInt() == 0) {
        audit_event a;
        decode_common(st, seq, a);
        a.user_id = st.getColumn(11).getString();
        a.action = st.getColumn(12).getString();
        a.entity_type = st.getColumn(13).getString();
        a.entity_id = st.getColumn(14).getString();
        a.changes = st.getColumn(15).getString();
        a.ip_address = st.getColumn(16).getString();
        a.user_agent = st.getColumn(17).getString();
        return a;
    }
    security_event s;
    decode_common(st, seq, s);
    s.user_id = st.getColumn(11).getString();
    s.ip_address = st.getColumn(16).getString();
    s.event_type = st.getColumn(18).getString();
    if (st.getColumn(19).isNull()) {
        s.success = std::nullopt;  // outcome unknown (client abort)
    } else {
        const auto success = integer_column(st, 19, "success", seq);
        if (success != 0 && success != 1) {
            throw store_error("row seq " + std::to_string(seq) + ": success is not 0 or 1");
        }
        s.success = success == 1;
    }
    s.details = st.getColumn(20).getString();
    return s;
}

stored_event decode_row(SQLite::Statement& st) {
    stored_event row;
    row.seq = integer_column(st, 1, "seq", 0);
    row.prev_hash = st.getColumn(9).getString();
    row.hash = st.getColumn(10).getString();
    row.ev = decode_event(st, row.seq);
    return row;
}

constexpr const char* audit_columns =
    "INSERT OR FAIL INTO audit_log (seq, event_id, created_at, source, request_id, method, route, "
    "status, prev_hash, hash, trace_id, user_id, action, entity_type, entity_id, changes, "
    "ip_address, user_agent) VALUES ";
constexpr const char* security_columns =
    "INSERT OR FAIL INTO security_audit (seq, event_id, created_at, source, request_id, method, "
    "route, status, prev_hash, hash, trace_id, user_id, event_type, ip_address, success, details) "
    "VALUES ";
constexpr int audit_params = 18;
constexpr int security_params = 16;

int params_per_row(table_kind table) {
    return table == table_kind::audit_log ? audit_params : security_params;
}

// INSERT of `rows` rows: row r binds parameters r * per_row + 1 .. (r + 1) * per_row.
std::string insert_sql(table_kind table, std::size_t rows) {
    const int per_row = params_per_row(table);
    std::string sql = table == table_kind::audit_log ? audit_columns : security_columns;
    int n = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        sql += r == 0 ? "(" : ", (";
        for (int c = 0; c < per_row; ++c) sql += (c == 0 ? "?" : ", ?") + std::to_string(++n);
        sql += ")";
    }
    return sql;
}

// Binds `row` as parameters base + 1 .. base + params_per_row. Text is bound without a copy:
// `row` must outlive the statement's execution.
template <typename E>
void bind_common(SQLite::Statement& st, int base, const stored_event& row, const E& e) {
    st.bind(base + 1, row.seq);
    st.bindNoCopy(base + 2, e.event_id);
    st.bind(base + 3, format_time(e.created_at));
    st.bind(base + 4, std::string(to_string(e.source)));
    st.bindNoCopy(base + 5, e.request_id);
    st.bindNoCopy(base + 6, e.method);
    st.bindNoCopy(base + 7, e.route);
    st.bind(base + 8, e.status);
    st.bindNoCopy(base + 9, row.prev_hash);
    st.bindNoCopy(base + 10, row.hash);
    if (e.trace_id.empty())
        st.bind(base + 11);  // NULL: no trace id
    else
        st.bindNoCopy(base + 11, e.trace_id);
}

void bind_row(SQLite::Statement& st, int base, const stored_event& row) {
    if (const auto* a = std::get_if<audit_event>(&row.ev)) {
        bind_common(st, base, row, *a);
        st.bindNoCopy(base + 12, a->user_id);
        st.bindNoCopy(base + 13, a->action);
        st.bindNoCopy(base + 14, a->entity_type);
        st.bindNoCopy(base + 15, a->entity_id);
        st.bindNoCopy(base + 16, a->changes);
        st.bindNoCopy(base + 17, a->ip_address);
        st.bindNoCopy(base + 18, a->user_agent);
    } else {
        const auto& s = std::get<security_event>(row.ev);
        bind_common(st, base, row, s);
        st.bindNoCopy(base + 12, s.user_id);
        st.bindNoCopy(base + 13, s.event_type);
        st.bindNoCopy(base + 14, s.ip_address);
        if (s.success)
            st.bind(base + 15, *s.success ? 1 : 0);
        else
            st.bind(base + 15);  // NULL
        st.bindNoCopy(base + 16, s.details);
    }
}

// A parameterised WHERE clause for one table; empty sql when the filter excludes the table.
struct table_clause {
    std::string sql;
    std::vector<std::string> text_binds;
};

table_clause where_for(table_kind table, const query_filter& f) {
    const bool audit = table == table_kind::audit_log;
    if (f.table && *f.table != table) return {};
    if (audit && f.event_type) return {};
    if (!audit && (f.entity_type || f.entity_id)) return {};
    table_clause c{std::string(audit ? select_audit : select_security) + " WHERE seq > " +
                       std::to_string(f.after_seq),
                   {}};
    auto add = [&c](const char* column, const std::string& value) {
        c.sql += std::string(" AND ") + column + " ?";
        c.text_binds.push_back(value);
    };
    if (f.user_id) add("user_id =", *f.user_id);
    if (f.since) add("created_at >=", format_time(*f.since));
    if (f.until) add("created_at <", format_time(*f.until));
    if (audit && f.entity_type) add("entity_type =", *f.entity_type);
    if (audit && f.entity_id) add("entity_id =", *f.entity_id);
    if (!audit && f.event_type) add("event_type =", *f.event_type);
    return c;
}

// Settings a `PRAGMA name` without a value may read on the store's own connection.
bool readable_pragma(std::string_view name) {
    for (std::string_view ok :
         {"synchronous", "journal_mode", "page_size", "wal_autocheckpoint", "journal_size_limit",
          "busy_timeout", "cache_size", "temp_store", "page_count", "freelist_count"}) {
        if (name == ok) return true;
    }
    return false;
}

// What the store's own connection may compile: reads, and inserts into the two event tables.
// Refused when a statement is prepared: UPDATE, DELETE, any schema change, ATTACH, and every
// PRAGMA but reading one of the settings above.
// A spool may also prune what Postgres holds and keep its forwarding state.
int authorize(void* spool, int action, const char* arg1, const char* arg2, const char*,
              const char*) {
    const std::string_view table = arg1 ? arg1 : "";
    if (spool != nullptr) {
        const bool events = table == "audit_log" || table == "security_audit";
        const bool own = table == "spool_checkpoint" || table == "spool_forwarded_id";
        if (action == SQLITE_DELETE && (events || own)) return SQLITE_OK;
        if (action == SQLITE_INSERT && own) return SQLITE_OK;
        if (action == SQLITE_UPDATE && table == "spool_state") return SQLITE_OK;
    }
    switch (action) {
        case SQLITE_PRAGMA:
            return arg1 && !arg2 && readable_pragma(arg1) ? SQLITE_OK : SQLITE_DENY;
        case SQLITE_SELECT:
        case SQLITE_READ:
        case SQLITE_FUNCTION:
        case SQLITE_TRANSACTION:
        case SQLITE_SAVEPOINT:
            return SQLITE_OK;
        case SQLITE_INSERT:
            return table == "audit_log" || table == "security_audit" ? SQLITE_OK : SQLITE_DENY;
        default:
            return SQLITE_DENY;
    }
}

}  // namespace

sqlite_store::sqlite_store(const config::store_config& cfg, open_mode mode,
                           std::optional<spool_options> spool) try
    : path_(cfg.path), spool_(spool), db_(cfg.path, open_flags(mode), busy_timeout_ms) {
    // A reader (verify, query, export, the event API) opens a store that exists: a file
    // without the audit schema (empty, another database, or one whose tables were dropped) is
    // refused before anything is written to it, instead of being made an empty store that
    // verifies OK.
    if (mode == open_mode::existing && !db_.tableExists("schema_version"))
        throw store_error("audit store " + cfg.path + ": not an audit store (no schema_version)");
    // A new database gets 16 KiB pages (SQLite's default is 4 KiB): shallower trees and fewer
    // pages, WAL frames and splits per row. Ignored for an existing database, which keeps the
    // page size it was created with. Must precede journal_mode=WAL, which writes the header.
    db_.exec("PRAGMA page_size=" + std::to_string(new_page_size));
    enter_wal(db_, busy_timeout_ms);
    db_.exec("PRAGMA cache_size=-65536");
    db_.exec(synchronous_pragma(cfg.synchronous));
    // The statement journal of a multi-row INSERT (the original of every page it touches, so
    // that a refused row undoes the whole statement) stays in memory instead of spilling to a
    // temporary file past 64 KiB.
    db_.exec("PRAGMA temp_store=MEMORY");
    // Before guard_connection: creating the schema, or upgrading an older one, is DDL.
    open_schema(db_, path_);
    if (spool_) open_spool_tables();
    bound_wal(cfg.wal_max_bytes);
    guard_connection();
    prepare_statements();
} catch (const SQLite::Exception& e) {
    throw store_error("audit store " + cfg.path + ": " + e.what());
}

sqlite_store::~sqlite_store() = default;

// The WAL is disk the store needs besides the database: bounded, so that a small volume can be
// sized (docs/AUDIT.md, "Disk sizing"). After a commit that leaves `max_bytes` of pages or more
// in the WAL, SQLite checkpoints them into the database (PASSIVE, on the writer's thread); the
// next commit starts the WAL over from its beginning, and journal_size_limit cuts a file that one
// large commit grew past `max_bytes` back to it. Bigger is a little faster (hot pages are copied
// into the database once per checkpoint, docs/BENCHMARKS.md); commits are durable either way.
void sqlite_store::bound_wal(std::uint64_t max_bytes) {
    const auto page_size = std::max(db_.execAndGet("PRAGMA page_size").getInt(), 512);
    const auto pages = std::clamp<std::uint64_t>(max_bytes / static_cast<std::uint64_t>(page_size),
                                                 1, std::numeric_limits<int>::max());
    db_.exec("PRAGMA wal_autocheckpoint=" + std::to_string(pages));
    db_.exec("PRAGMA journal_size_limit=" + std::to_string(max_bytes));
}

// The append-only triggers guard the tables against every other connection. On this one they
// are off, for speed: invoking a trigger's program for every row cost about a quarter of the
// writer's CPU per event (docs/BENCHMARKS.md). In their place, an authorizer refuses to compile
// anything but reads and inserts into the two event tables, and defensive mode refuses
// writable_schema and the other ways of editing the file behind SQLite's back. Neither can be
// undone from SQL. What the overwrite trigger did for this connection, append() does: every
// INSERT is OR FAIL (a duplicate seq or event_id fails, it never replaces), and an event_id that
// sidelight did not generate is looked up in both tables first.
void sqlite_store::guard_connection() {
    auto* db = db_.getHandle();
    int triggers = 1;
    int defensive = 0;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &triggers) != SQLITE_OK ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &defensive) != SQLITE_OK ||
        triggers != 0 || defensive != 1 ||
        sqlite3_set_authorizer(db, authorize, spool_ ? this : nullptr) != SQLITE_OK) {
        throw store_error("audit store " + path_ + ": cannot guard the connection");
    }
}

std::string sqlite_store::setting(const std::string& pragma) {
    if (!readable_pragma(pragma)) throw store_error("audit store: no setting " + pragma);
    std::lock_guard lock(mutex_);
    try {
        return db_.execAndGet("PRAGMA " + pragma).getString();
    } catch (const SQLite::Exception& e) {
        throw store_error("audit store " + path_ + ": " + e.what());
    }
}

std::string sqlite_store::exec_for_test(const std::string& sql) {
    std::lock_guard lock(mutex_);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_.getHandle(), sql.c_str(), nullptr, nullptr, &err);
    std::string error = rc == SQLITE_OK ? "" : (err ? err : "error " + std::to_string(rc));
    sqlite3_free(err);
    return error;
}

void sqlite_store::prepare_statements() {
    for (auto table : {table_kind::audit_log, table_kind::security_audit}) {
        insert_statement(table, chunk_slots - 1);  // one row: fails now if the schema is off
    }
    head_ = std::make_unique<SQLite::Statement>(
        db_,
        "SELECT seq, hash FROM (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) "
        "UNION ALL SELECT seq, hash FROM (SELECT seq, hash FROM security_audit ORDER BY seq "
        "DESC LIMIT 1) ORDER BY seq DESC LIMIT 1");
    by_event_id_ = std::make_unique<SQLite::Statement>(
        db_, std::string(select_audit) + " WHERE event_id = ?1 UNION ALL " + select_security +
                 " WHERE event_id = ?1");
    if (spool_) {
        forwarded_by_id_ = std::make_unique<SQLite::Statement>(
            db_, "SELECT tbl, seq FROM spool_forwarded_id WHERE event_id = ?1");
    }
}

chain_head sqlite_store::read_head() {
    chain_head h{0, std::string(genesis_hash)};
    head_->reset();
    if (head_->executeStep()) {
        h.seq = head_->getColumn(0).getInt64();
        h.hash = head_->getColumn(1).getString();
    }
    head_->reset();
    // Every row pruned (or a seeded spool): the chain goes on from what Postgres holds.
    if (h.seq == 0 && spool_) {
        SQLite::Statement st(db_, "SELECT acked_seq, acked_hash FROM spool_state");
        if (st.executeStep()) h = {st.getColumn(0).getInt64(), st.getColumn(1).getString()};
    }
    return h;
}

// The spool's own tables, beside the event tables; created before the connection is guarded.
void sqlite_store::open_spool_tables() {
    db_.exec(
        "CREATE TABLE IF NOT EXISTS spool_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "acked_seq INTEGER NOT NULL, acked_hash TEXT NOT NULL);"
        "INSERT OR IGNORE INTO spool_state VALUES (1, 0, '" +
        std::string(genesis_hash) +
        "');"
        "CREATE TABLE IF NOT EXISTS spool_checkpoint (seq INTEGER NOT NULL, line TEXT NOT NULL);"
        // The event API's ids (a client's, for its retries) of rows pruned once Postgres held
        // them, for forwarded_id_retention: a retry then is acknowledged, not stored again.
        "CREATE TABLE IF NOT EXISTS spool_forwarded_id (event_id TEXT PRIMARY KEY, "
        "tbl INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;");
}

void sqlite_store::require_spool() const {
    if (!spool_) throw store_error("audit store " + path_ + " is not a spool");
}

std::uint64_t sqlite_store::read_used_bytes() {
    const auto pages = db_.execAndGet("PRAGMA page_count").getInt64();
    const auto free_pages = db_.execAndGet("PRAGMA freelist_count").getInt64();
    const auto page_size = db_.execAndGet("PRAGMA page_size").getInt64();
    return static_cast<std::uint64_t>(std::max<std::int64_t>(pages - free_pages, 0) * page_size);
}

std::uint64_t sqlite_store::used_bytes() {
    std::lock_guard lock(mutex_);
    try {
        return read_used_bytes();
    } catch (const SQLite::Exception& e) {
        throw store_error("audit store " + path_ + ": " + e.what());
    }
}

// Inside the caller's transaction.
void sqlite_store::write_acknowledged(const chain_head& acked) {
    SQLite::Statement st(db_, "UPDATE spool_state SET acked_seq = ?1, acked_hash = ?2");
    st.bind(1, acked.seq);
    st.bind(2, acked.hash);
    st.exec();
}

chain_head sqlite_store::acknowledged() {
    require_spool();
    std::lock_guard lock(mutex_);
    try {
        SQLite::Statement st(db_, "SELECT acked_seq, acked_hash FROM spool_state");
        if (!st.executeStep()) throw store_error("spool " + path_ + ": no spool_state row");
        return {st.getColumn(0).getInt64(), st.getColumn(1).getString()};
    } catch (const SQLite::Exception& e) {
        throw store_error("spool " + path_ + ": " + e.what());
    }
}

void sqlite_store::acknowledge(const chain_head& acked,
                               std::optional<std::int64_t> checkpoints_sent) {
    require_spool();
    std::lock_guard lock(mutex_);
    try {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        write_acknowledged(acked);
        const auto upto = std::to_string(acked.seq);
        const std::string now_s = "CAST(strftime('%s', 'now') AS INTEGER)";
        db_.exec("INSERT OR IGNORE INTO spool_forwarded_id SELECT event_id, 0, seq, " + now_s +
                 " FROM audit_log WHERE seq <= " + upto +
                 " AND source = 'api' UNION ALL SELECT event_id, 1, seq, " + now_s +
                 " FROM security_audit WHERE seq <= " + upto + " AND source = 'api'");
        db_.exec("DELETE FROM spool_forwarded_id WHERE at < " + now_s + " - " +
                 std::to_string(forwarded_id_retention.count()));
        db_.exec("DELETE FROM audit_log WHERE seq <= " + upto);
        db_.exec("DELETE FROM security_audit WHERE seq <= " + upto);
        db_.exec("DELETE FROM spool_checkpoint WHERE seq <= " +
                 std::to_string(std::min(acked.seq, checkpoints_sent.value_or(acked.seq))));
        tx.commit();
    } catch (const SQLite::Exception& e) {
        throw store_error("spool " + path_ + ": acknowledge failed: " + e.what());
    }
}

bool sqlite_store::seed(const chain_head& acked) {
    require_spool();
    std::lock_guard lock(mutex_);
    try {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        if (read_head().seq != 0) return false;
        write_acknowledged(acked);
        tx.commit();
        return true;
    } catch (const SQLite::Exception& e) {
        throw store_error("spool " + path_ + ": seed failed: " + e.what());
    }
}

void sqlite_store::record_checkpoint(const checkpoint& cp) {
    require_spool();
    std::lock_guard lock(mutex_);
    try {
        SQLite::Statement st(db_, "INSERT INTO spool_checkpoint (seq, line) VALUES (?1, ?2)");
        st.bind(1, cp.seq);
        st.bind(2, to_json_line(cp));
        st.exec();
    } catch (const SQLite::Exception& e) {
        throw store_error("spool " + path_ + ": checkpoint not recorded: " + e.what());
    }
}

std::vector<checkpoint> sqlite_store::checkpoints_upto(std::int64_t seq) {
    require_spool();
    std::lock_guard lock(mutex_);
    std::vector<checkpoint> out;
    try {
        SQLite::Statement st(db_, "SELECT line FROM spool_checkpoint WHERE seq <= ?1 ORDER BY seq");
        st.bind(1, seq);
        while (st.executeStep()) out.push_back(parse_checkpoint_line(st.getColumn(0).getString()));
    } catch (const SQLite::Exception& e) {
        throw store_error("spool " + path_ + ": " + e.what());
    } catch (const checkpoint_error& e) {
        throw store_error("spool " + path_ + ": " + e.what());
    }
    return out;
}

std::optional<stored_event> sqlite_store::find_event_id(const std::string& event_id) {
    by_event_id_->reset();
    by_event_id_->bind(1, event_id);
    std::optional<stored_event> found;
    if (by_event_id_->executeStep()) found = decode_row(*by_event_id_);
    by_event_id_->reset();
    if (found || !spool_) return found;
    // A row the spool forwarded and pruned: known by its id, table and seq only (the writer
    // answers a repeat with the id, and knows it for a repeat by its seq).
    auto& st = *forwarded_by_id_;
    st.reset();
    st.bind(1, event_id);
    if (!st.executeStep()) {
        st.reset();
        return found;
    }
    stored_event row;
    row.seq = st.getColumn(1).getInt64();
    const bool audit_table = st.getColumn(0).getInt() == 0;
    st.reset();
    if (audit_table) {
        audit_event a;
        a.event_id = event_id;
        row.ev = std::move(a);
    } else {
        security_event s;
        s.event_id = event_id;
        row.ev = std::move(s);
    }
    return row;
}

SQLite::Statement& sqlite_store::insert_statement(table_kind table, std::size_t slot) {
    auto& st = inserts_[static_cast<std::size_t>(table)][slot];
    if (!st) st = std::make_unique<SQLite::Statement>(db_, insert_sql(table, chunk_rows[slot]));
    return *st;
}

namespace {

// `in` as the row at `seq`, linked to `prev_hash`: normalized and hashed.
stored_event chained_row(const event& in, std::int64_t seq, const std::string& prev_hash) {
    stored_event row{seq, prev_hash, {}, in, {}};
    normalize(row.ev);
    row.hash = chain_hash(row.prev_hash, row.seq, row.ev);
    return row;
}

}  // namespace

// The row-at-a-time path: an event whose event_id is stored already returns the stored row.
void sqlite_store::append_one(const event& in, chain_head& h, std::vector<stored_event>& out) {
    if (!event_id_of(in).empty()) {
        if (auto stored = find_event_id(event_id_of(in))) {
            out.push_back(std::move(*stored));
            return;
        }
    }
    std::vector<stored_event> rows;
    if (!insert_chunk({&in, 1}, chunk_slots - 1, h, rows)) {
        throw store_error("audit store " + path_ + ": a row with a new event_id was refused");
    }
    h = {rows.front().seq, rows.front().hash};
    out.push_back(std::move(rows.front()));
}

// `events` (all of one table, chunk_rows[slot] of them) as one INSERT OR FAIL, chained on from
// h. False when a constraint refused a row (an event_id repeated in the table): the rows before
// it in the statement stay, so the caller must roll the transaction back. OR FAIL keeps SQLite
// from making a statement journal (a copy of every page the statement touches), which it needs
// only to undo a statement's earlier rows.
bool sqlite_store::insert_chunk(std::span<const event> events, std::size_t slot,
                                const chain_head& h, std::vector<stored_event>& rows) {
    rows.clear();
    auto seq = h.seq;
    const std::string* prev = &h.hash;
    for (const auto& in : events) {
        rows.push_back(chained_row(in, ++seq, *prev));
        prev = &rows.back().hash;
    }
    const int per_row = params_per_row(table_of(events.front()));
    auto& st = insert_statement(table_of(events.front()), slot);
    st.tryReset();
    for (std::size_t r = 0; r < rows.size(); ++r)
        bind_row(st, static_cast<int>(r) * per_row, rows[r]);
    try {
        st.exec();
        return true;
    } catch (const SQLite::Exception& e) {
        st.tryReset();
        if ((e.getErrorCode() & 0xff) != SQLITE_CONSTRAINT) throw;  // I/O, busy, ...
        return false;
    }
}

// The whole batch as multi-row INSERTs in one transaction; nothing (rolled back) when an
// event_id is stored already, in either table, or repeated in the batch. Only ids that sidelight
// did not generate (the event API's) are looked up: a generated one is new by construction, and
// the UNIQUE index would refuse a repeat within its table anyway.
std::optional<std::vector<stored_event>> sqlite_store::append_chunks(std::span<const event> batch) {
    SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
    std::unordered_set<std::string_view> given;
    for (const auto& ev : batch) {
        const auto& id = event_id_of(ev);
        if (id.empty() || generated_id_of(ev)) continue;
        if (!given.insert(id).second || find_event_id(id)) return std::nullopt;
    }
    auto h = read_head();
    std::vector<stored_event> out;
    out.reserve(batch.size());
    std::vector<stored_event> rows;
    rows.reserve(chunk_rows[0]);
    std::size_t i = 0;
    while (i < batch.size()) {
        // The longest run of same-table events, cut to the largest prepared chunk size.
        const auto table = table_of(batch[i]);
        std::size_t run = 1;
        while (run < chunk_rows[0] && i + run < batch.size() && table_of(batch[i + run]) == table) {
            ++run;
        }
        std::size_t slot = 0;
        while (chunk_rows[slot] > run) ++slot;
        const auto n = chunk_rows[slot];
        if (!insert_chunk(batch.subspan(i, n), slot, h, rows)) return std::nullopt;
        h = {rows.back().seq, rows.back().hash};
        for (auto& row : rows) out.push_back(std::move(row));
        i += n;
    }
    tx.commit();
    return out;
}

// Row by row: an event whose event_id is stored already (a retry through the event API, or a
// repeat within the batch) is skipped and answered with the stored row.
std::vector<stored_event> sqlite_store::append_rows(std::span<const event> batch) {
    SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
    auto h = read_head();
    std::vector<stored_event> out;
    out.reserve(batch.size());
    for (const auto& ev : batch) append_one(ev, h, out);
    tx.commit();
    return out;
}

std::vector<stored_event> sqlite_store::append(std::span<const event> batch) {
    std::lock_guard lock(mutex_);
    try {
        if (spool_) {
            if (const auto used = read_used_bytes(); used > spool_->max_bytes) {
                throw spool_full("spool " + path_ + " is full: " + std::to_string(used) +
                                 " bytes in use, over audit.store.spool.max_bytes (" +
                                 std::to_string(spool_->max_bytes) +
                                 "): Postgres has not taken the events yet");
            }
        }
        if (auto out = append_chunks(batch)) return std::move(*out);
        return append_rows(batch);
    } catch (const SQLite::Exception& e) {
        throw store_error("audit store " + path_ + ": append failed: " + e.what());
    }
}

std::vector<stored_event> sqlite_store::query(const query_filter& filter) {
    std::string sql;
    std::vector<std::string> binds;
    for (auto table : {table_kind::audit_log, table_kind::security_audit}) {
        auto clause = where_for(table, filter);
        if (clause.sql.empty()) continue;
        sql += (sql.empty() ? "" : " UNION ALL ") + clause.sql;
        binds.insert(binds.end(), clause.text_binds.begin(), clause.text_binds.end());
    }
    std::vector<stored_event> out;
    if (sql.empty()) return out;
    sql += " ORDER BY 2 LIMIT " + std::to_string(clamp_limit(filter.limit));
    std::lock_guard lock(mutex_);
    try {
        SQLite::Statement st(db_, sql);
        for (std::size_t i = 0; i < binds.size(); ++i) st.bind(static_cast<int>(i + 1), binds[i]);
        while (st.executeStep()) out.push_back(decode_row(st));
    } catch (const SQLite::Exception& e) {
        throw store_error("audit store " + path_ + ": query failed: " + e.what());
    }
    return out;
}

chain_head sqlite_store::head() {
    std::lock_guard lock(mutex_);
    try {
        return read_head();
    } catch (const SQLite::Exception& e) {
        throw store_error("audit store " + path_ + ": " + e.what());
    }
}

std::optional<std::uint64_t> sqlite_store::row_count(std::int64_t upto) {
    std::lock_guard lock(mutex_);
    try {
        SQLite::Statement st(db_,
                             "SELECT (SELECT count(*) FROM audit_log WHERE seq <= ?1) + "
                             "(SELECT count(*) FROM security_audit WHERE seq <= ?1)");
        st.bind(1, upto);
        st.executeStep();
        return static_cast<std::uint64_t>(st.getColumn(0).getInt64());
    } catch (const SQLite::Exception& e) {
        throw store_error("audit store " + path_ + ": " + e.what());
    }
}

}  // namespace sidelight::audit
