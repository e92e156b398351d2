#include "audit/pg_store.hpp"

#include <arpa/inet.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <unordered_set>
#include <variant>

#include "audit/hash_chain.hpp"
#include "audit/pg_schema.hpp"

namespace sidelight::audit {
namespace {

using clock = std::chrono::steady_clock;

// Both tables projected onto one column list, as the SQLite store does: 0 t, 1 chain, 2 seq,
// 3 event_id, 4 created_at, 5 source, 6 request_id, 7 method, 8 route, 9 status, 10 prev_hash,
// 11 hash, 12 user_id, 13 action, 14 entity_type, 15 entity_id, 16 changes, 17 ip_address,
// 18 user_agent, 19 event_type, 20 success, 21 details, 22 created_at (the sort key across
// chains), 23 the typed JSON (changes or details) as text, 24 the typed address as text,
// 25 trace_id (NULL when none, and always in a version-1 database, which has no such column).
// The chain covers the text columns; the typed ones are checked against them (decode_row).
constexpr const char* created_text =
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
std::string select_audit(bool trace_column) {
    return std::string("SELECT 0 AS t, chain, seq, event_id::text, ") + created_text +
           ", source, request_id, method, route, status, prev_hash, hash, user_id, action, "
           "entity_type, entity_id, changes_text, ip_text, user_agent, '', NULL::boolean, '', "
           "created_at, changes::text, host(ip_address), " +
           (trace_column ? "trace_id" : "NULL::text") + " FROM audit_log";
}
std::string select_security(bool trace_column) {
    return std::string("SELECT 1 AS t, chain, seq, event_id::text, ") + created_text +
           ", source, request_id, method, route, status, prev_hash, hash, user_id, '', '', '', "
           "'', ip_text, '', event_type, success, details_text, created_at, details::text, "
           "host(ip_address), " +
           (trace_column ? "trace_id" : "NULL::text") + " FROM security_audit";
}

// The typed forms of the hashed text: jsonb for JSON Postgres accepts, inet for an address.
// Anything else stays NULL there (the text column keeps it).
std::optional<std::string_view> as_jsonb(const std::string& text) {
    if (text.empty() || text.find("\\u0000") != std::string::npos) return std::nullopt;
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    if (ec) return std::nullopt;
    return text;
}

std::optional<std::string_view> as_inet(const std::string& text) {
    unsigned char buf[sizeof(in6_addr)];
    if (text.empty() || text.size() > 45) return std::nullopt;
    if (inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1)
        return text;
    return std::nullopt;
}

// An integer and a double are the same number when the double is that integer exactly.
template <typename I>
bool integer_is(I i, double d) {
    if (!std::isfinite(d) || d != std::trunc(d)) return false;
    constexpr double limit = std::is_signed_v<I> ? 9223372036854775808.0 : 18446744073709551616.0;
    if (d >= limit || d < (std::is_signed_v<I> ? -limit : 0.0)) return false;
    return static_cast<I>(d) == i;
}

// Two doubles parsed from different spellings of one number (`1.5e-3`, and `0.0015` as jsonb
// prints it) may differ in the last place: Boost.JSON 1.81 does not round every spelling
// correctly. Anything further apart is another number.
bool same_double(double a, double b) {
    return a == b || std::nextafter(a, b) == b;
}

// JSON values equal as jsonb compares them: numbers by value, whatever their spelling or the
// kind Boost.JSON parsed them into (`1e2` is a double, jsonb's `100` an integer), objects
// whatever their key order, recursively.
bool same_value(const boost::json::value& a, const boost::json::value& b) {
    using boost::json::kind;
    if (a.is_number() && b.is_number()) {
        if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
        if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
        if (a.is_int64() && b.is_uint64())
            return a.get_int64() >= 0 &&
                   static_cast<std::uint64_t>(a.get_int64()) == b.get_uint64();
        if (a.is_uint64() && b.is_int64()) return same_value(b, a);
        if (a.is_double() && b.is_double()) return same_double(a.get_double(), b.get_double());
        if (a.is_double()) return same_value(b, a);
        return a.is_int64() ? integer_is(a.get_int64(), b.get_double())
                            : integer_is(a.get_uint64(), b.get_double());
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case kind::array: {
            const auto &x = a.get_array(), &y = b.get_array();
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i)
                if (!same_value(x[i], y[i])) return false;
            return true;
        }
        case kind::object: {
            const auto &x = a.get_object(), &y = b.get_object();
            if (x.size() != y.size()) return false;
            for (const auto& [key, v] : x) {
                const auto* w = y.if_contains(key);
                if (!w || !same_value(v, *w)) return false;
            }
            return true;
        }
        default:
            return a == b;
    }
}

bool same_json(std::string_view a, std::string_view b) {
    boost::system::error_code ea, eb;
    const auto va = boost::json::parse(a, ea);
    const auto vb = boost::json::parse(b, eb);
    return !ea && !eb && same_value(va, vb);
}

bool same_address(const std::string& a, const std::string& b) {
    unsigned char x[sizeof(in6_addr)] = {}, y[sizeof(in6_addr)] = {};
    for (int family : {AF_INET, AF_INET6}) {
        if (inet_pton(family, a.c_str(), x) == 1)
            return inet_pton(family, b.c_str(), y) == 1 && std::memcmp(x, y, sizeof x) == 0;
    }
    return false;
}

// The text the chain covers, marked when its typed column (jsonb, inet) no longer holds what
// forwarding derived from it: the row's hash then fails to verify (`modified`), naming the column.
std::string checked_json(const pg::result& r, int i, int text_col, const char* column) {
    std::string text{r.text(i, text_col)};
    const bool expected = as_jsonb(text).has_value();
    const bool ok = r.null(i, 23) ? !expected : expected && same_json(text, r.text(i, 23));
    return ok ? text : text + " [" + column + " differs]";
}

std::string checked_address(const pg::result& r, int i) {
    std::string text{r.text(i, 17)};
    const bool expected = as_inet(text).has_value();
    const bool ok =
        r.null(i, 24) ? !expected : expected && same_address(text, std::string(r.text(i, 24)));
    return ok ? text : text + " [ip_address differs]";
}

template <typename E>
void decode_common(const pg::result& r, int i, std::int64_t seq, E& e) {
    e.event_id = r.text(i, 3);
    const auto at = parse_time(r.text(i, 4));
    const auto source = parse_source(r.text(i, 5));
    if (!at || !source)
        throw store_error("row seq " + std::to_string(seq) + ": malformed created_at or source");
    e.created_at = *at;
    e.source = *source;
    e.request_id = r.text(i, 6);
    e.method = r.text(i, 7);
    e.route = r.text(i, 8);
    e.status = static_cast<int>(r.int64(i, 9));
    if (!r.null(i, 25)) e.trace_id = r.text(i, 25);
}

stored_event decode_row(const pg::result& r, int i) {
    stored_event row;
    row.chain = r.text(i, 1);
    row.seq = r.int64(i, 2);
    row.prev_hash = r.text(i, 10);
    row.hash = r.text(i, 11);
    if (r.text(i, 0) == "0") {
        audit_event a;
        decode_common(r, i, row.seq, a);
        a.user_id = r.text(i, 12);
        a.action = r.text(i, 13);
        a.entity_type = r.text(i, 14);
        a.entity_id = r.text(i, 15);
        a.changes = checked_json(r, i, 16, "changes");
        a.ip_address = checked_address(r, i);
        a.user_agent = r.text(i, 18);
        row.ev = std::move(a);
    } else {
        security_event s;
        decode_common(r, i, row.seq, s);
        s.user_id = r.text(i, 12);
        s.ip_address = checked_address(r, i);
        s.event_type = r.text(i, 19);
        if (r.null(i, 20))
            s.success = std::nullopt;
        else
            s.success = r.text(i, 20) == "t";
        s.details = checked_json(r, i, 21, "details");
        row.ev = std::move(s);
    }
    return row;
}

// Columns as text-format arrays, one array per column, for INSERT ... SELECT FROM unnest(...):
// one statement per table and batch, whatever its size.
class columns {
  public:
    explicit columns(std::size_t n) : arrays_(n, "{") {}
    void add(std::size_t col, const std::optional<std::string_view>& v) {
        pg::append_array_element(arrays_[col], v);
    }
    std::vector<pg::param> params(const std::string& chain) {
        std::vector<pg::param> out{chain};
        for (auto& a : arrays_) out.emplace_back(a + "}");
        return out;
    }

  private:
    std::vector<std::string> arrays_;
};

constexpr const char* insert_audit_sql =
    "INSERT INTO audit_log (chain, seq, event_id, created_at, source, request_id, method, route, "
    "status, prev_hash, hash, user_id, action, entity_type, entity_id, changes, changes_text, "
    "ip_address, ip_text, user_agent, trace_id) SELECT $1, * FROM unnest($2::bigint[], "
    "$3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::integer[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], "
    "$16::jsonb[], $17::text[], $18::inet[], $19::text[], $20::text[], $21::text[])";
constexpr std::size_t audit_columns = 20;
constexpr const char* insert_security_sql =
    "INSERT INTO security_audit (chain, seq, event_id, created_at, source, request_id, method, "
    "route, status, prev_hash, hash, user_id, event_type, ip_address, ip_text, success, details, "
    "details_text, trace_id) SELECT $1, * FROM unnest($2::bigint[], $3::uuid[], "
    "$4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], "
    "$10::text[], $11::text[], $12::text[], $13::text[], $14::inet[], $15::text[], "
    "$16::boolean[], $17::jsonb[], $18::text[], $19::text[])";
constexpr std::size_t security_columns = 18;

// NULL for no trace id, as in SQLite.
std::optional<std::string_view> trace_or_null(const std::string& trace) {
    if (trace.empty()) return std::nullopt;
    return trace;
}

// Values are copied into the arrays at once: temporaries are fine.
template <typename E>
void add_common(columns& c, const stored_event& row, const E& e) {
    c.add(0, std::to_string(row.seq));
    c.add(1, e.event_id);
    c.add(2, format_time(e.created_at));
    c.add(3, to_string(e.source));
    c.add(4, e.request_id);
    c.add(5, e.method);
    c.add(6, e.route);
    c.add(7, std::to_string(e.status));
    c.add(8, row.prev_hash);
    c.add(9, row.hash);
}

// The lock that serializes the writers of one chain (two processes configured alike).
constexpr const char* chain_lock_sql =
    "SELECT pg_advisory_xact_lock(hashtextextended('sidelight.audit.chain:' || $1, 0))";
constexpr const char* head_sql =
    "SELECT seq, hash FROM ((SELECT seq, hash FROM audit_log WHERE chain = $1 ORDER BY seq DESC "
    "LIMIT 1) UNION ALL (SELECT seq, hash FROM security_audit WHERE chain = $1 ORDER BY seq DESC "
    "LIMIT 1)) h ORDER BY seq DESC LIMIT 1";

}  // namespace

pg_store::pg_store(const std::string& dsn, std::string chain, bool migrate,
                   std::chrono::seconds connect_timeout,
                   std::chrono::milliseconds statement_timeout)
    : conn_(dsn, connect_timeout), chain_(std::move(chain)) {
    // Waiting for a lock (another writer's migration, a long reader) is bounded from the
    // start: a stop could not cancel a migration that waits (there is no canceller for this
    // connection yet). Its work is not: building an index on a large table may take long.
    if (statement_timeout.count() > 0)
        conn_.exec("SET lock_timeout = " + std::to_string(statement_timeout.count()));
    if (migrate) {
        pg_migrate(conn_);
    } else if (const int v = pg_schema_version_of(conn_); v == 1) {
        // An older release's schema, not yet migrated by a writer of this one: read as it is
        // (no trace ids), written by nobody here.
        read_only_v1_ = true;
    } else if (v < 2 || v > pg_schema_version) {
        // Version 2 reads as version 3 (only the event_id index differs).
        throw store_error("postgres " + conn_.where() + ": " +
                          (v == 0 ? std::string("no sidelight audit schema in this database")
                                  : "audit schema version " + std::to_string(v) +
                                        ", this sidelight reads versions 1 to " +
                                        std::to_string(pg_schema_version)));
    }
    if (!read_only_v1_) {
        conn_.prepare("insert_audit", insert_audit_sql);
        conn_.prepare("insert_security", insert_security_sql);
    }
    conn_.prepare("head", head_sql);
    conn_.prepare("chain_lock", chain_lock_sql);
    // After the migration, every statement: a COMMIT that never comes back (a synchronous
    // standby down) fails instead of holding the forwarder.
    if (statement_timeout.count() > 0)
        conn_.exec("SET statement_timeout = " + std::to_string(statement_timeout.count()));
}

pg_store::~pg_store() = default;

void pg_store::timed(std::string_view op, std::string_view table, clock::time_point t0) {
    if (!on_duration_) return;
    on_duration_(op, table, std::chrono::duration<double, std::milli>(clock::now() - t0).count());
}

template <typename F>
auto pg_store::in_transaction(F&& body) {
    conn_.exec("BEGIN");
    try {
        auto out = body();
        const auto t0 = clock::now();
        conn_.exec("COMMIT");
        timed("commit", "both", t0);
        return out;
    } catch (...) {
        if (conn_.usable()) {
            try {
                conn_.exec("ROLLBACK");
            } catch (const store_error&) {
            }
        }
        throw;
    }
}

chain_head pg_store::read_head() {
    const auto t0 = clock::now();
    const pg::param p[] = {chain_};
    auto r = conn_.exec_prepared("head", p);
    timed("head", "both", t0);
    if (r.rows() == 0) return {0, std::string(genesis_hash)};
    return {r.int64(0, 0), std::string(r.text(0, 1))};
}

std::string pg_store::hash_at(std::int64_t seq) {
    const pg::param p[] = {chain_, std::to_string(seq)};
    auto r = conn_.exec(
        "SELECT hash FROM audit_log WHERE chain = $1 AND seq = $2 UNION ALL "
        "SELECT hash FROM security_audit WHERE chain = $1 AND seq = $2",
        p);
    return r.rows() == 0 ? std::string() : std::string(r.text(0, 0));
}

// How many of `rows` carry an event_id stored already (by any chain) or repeated among them: an
// event sent to two pods, or retried once its pod's spool no longer held it. They are stored
// all the same (their chain needs them) and counted.
std::size_t pg_store::stored_already(std::span<const stored_event> rows) {
    std::string ids = "{";
    for (const auto& row : rows) pg::append_array_element(ids, event_id_of(row.ev));
    ids += "}";
    const pg::param p[] = {ids};
    const auto t0 = clock::now();
    auto r = conn_.exec(
        "SELECT event_id::text FROM audit_log WHERE event_id = ANY($1::uuid[]) UNION "
        "SELECT event_id::text FROM security_audit WHERE event_id = ANY($1::uuid[])",
        p);
    timed("select", "both", t0);
    std::unordered_set<std::string> seen;
    for (int i = 0; i < r.rows(); ++i) seen.emplace(r.text(i, 0));
    std::size_t repeats = 0;
    for (const auto& row : rows)
        if (!seen.insert(event_id_of(row.ev)).second) ++repeats;
    return repeats;
}

// Both tables' rows as one INSERT each; returns the rows written.
std::size_t pg_store::insert_rows(std::span<const stored_event> rows) {
    columns audit(audit_columns), security(security_columns);
    std::size_t n_audit = 0, n_security = 0;
    for (const auto& row : rows) {
        if (const auto* a = std::get_if<audit_event>(&row.ev)) {
            add_common(audit, row, *a);
            audit.add(10, a->user_id);
            audit.add(11, a->action);
            audit.add(12, a->entity_type);
            audit.add(13, a->entity_id);
            audit.add(14, as_jsonb(a->changes));
            audit.add(15, a->changes);
            audit.add(16, as_inet(a->ip_address));
            audit.add(17, a->ip_address);
            audit.add(18, a->user_agent);
            audit.add(19, trace_or_null(a->trace_id));
            ++n_audit;
        } else {
            const auto& s = std::get<security_event>(row.ev);
            add_common(security, row, s);
            security.add(10, s.user_id);
            security.add(11, s.event_type);
            security.add(12, as_inet(s.ip_address));
            security.add(13, s.ip_address);
            security.add(14, s.success ? std::optional<std::string_view>(*s.success ? "t" : "f")
                                       : std::nullopt);
            security.add(15, as_jsonb(s.details));
            security.add(16, s.details);
            security.add(17, trace_or_null(s.trace_id));
            ++n_security;
        }
    }
    std::size_t inserted = 0;
    if (n_audit > 0) {
        const auto t0 = clock::now();
        const auto params = audit.params(chain_);
        inserted +=
            static_cast<std::size_t>(conn_.exec_prepared("insert_audit", params).affected());
        timed("insert", "audit_log", t0);
    }
    if (n_security > 0) {
        const auto t0 = clock::now();
        const auto params = security.params(chain_);
        inserted +=
            static_cast<std::size_t>(conn_.exec_prepared("insert_security", params).affected());
        timed("insert", "security_audit", t0);
    }
    return inserted;
}

void pg_store::insert_checkpoints(std::span<const checkpoint> checkpoints) {
    for (const auto& cp : checkpoints) {
        const pg::param p[] = {chain_,
                               std::to_string(cp.seq),
                               cp.hash,
                               format_time(cp.time),
                               std::to_string(cp.count),
                               to_json_line(cp)};
        const auto t0 = clock::now();
        conn_.exec(
            "INSERT INTO audit_checkpoint (chain, seq, hash, taken_at, count, line) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain, seq) DO NOTHING",
            p);
        timed("insert", "audit_checkpoint", t0);
    }
}

void pg_store::refuse_writes_to_version_1() const {
    if (!read_only_v1_) return;
    throw store_error("postgres " + conn_.where() +
                      ": audit schema version 1 is read-only for this sidelight; a writer "
                      "(sidelight run with the Postgres store, which migrates) upgrades it to "
                      "version " +
                      std::to_string(pg_schema_version));
}

forward_result pg_store::forward(std::span<const stored_event> rows,
                                 std::span<const checkpoint> checkpoints) {
    refuse_writes_to_version_1();
    std::lock_guard lock(mutex_);
    return in_transaction([&] {
        const pg::param p[] = {chain_};
        conn_.exec_prepared("chain_lock", p);
        forward_result out;
        const auto head = read_head();
        out.head = head;
        // A spool that began while Postgres was away (a new volume) starts a chain of its own
        // at seq 1: a conflict then says how to forward it.
        const std::string restart_hint =
            !rows.empty() && rows.front().seq == 1 && head.seq > 0
                ? " (this spool began a new chain, as a new spool volume does while Postgres is "
                  "away: give this pod a new audit.store.chain to forward it under that name)"
                : "";
        // Rows Postgres holds already: a re-send after a crash. They must be the same rows.
        std::size_t first_new = 0;
        while (first_new < rows.size() && rows[first_new].seq <= head.seq) ++first_new;
        if (first_new > 0) {
            const auto& last = rows[first_new - 1];
            const auto stored = last.seq == head.seq ? head.hash : hash_at(last.seq);
            if (stored != last.hash) {
                throw chain_conflict("chain " + chain_ +
                                     ": Postgres holds a different row at seq " +
                                     std::to_string(last.seq) +
                                     " (another writer uses this chain id, or the spool was "
                                     "replaced)" +
                                     restart_hint);
            }
            out.present = first_new;
        }
        const auto fresh = rows.subspan(first_new);
        if (!fresh.empty()) {
            if (fresh.front().seq != head.seq + 1 || fresh.front().prev_hash != head.hash) {
                throw chain_conflict(
                    "chain " + chain_ + ": the spool continues at seq " +
                    std::to_string(fresh.front().seq) + " but Postgres ends at seq " +
                    std::to_string(head.seq) +
                    (fresh.front().seq == head.seq + 1 ? " with another hash" : "") + restart_hint);
            }
            out.duplicates = stored_already(fresh);
            out.inserted = insert_rows(fresh);
            if (out.inserted != fresh.size())
                throw store_error("postgres " + conn_.where() + ": " +
                                  std::to_string(out.inserted) + " of " +
                                  std::to_string(fresh.size()) + " rows inserted");
            out.head = {fresh.back().seq, fresh.back().hash};
        }
        insert_checkpoints(checkpoints);
        return out;
    });
}

std::vector<stored_event> pg_store::append(std::span<const event> batch) {
    refuse_writes_to_version_1();
    std::lock_guard lock(mutex_);
    return in_transaction([&] {
        const pg::param p[] = {chain_};
        conn_.exec_prepared("chain_lock", p);
        auto h = read_head();
        std::vector<stored_event> out;
        std::vector<stored_event> fresh;
        std::unordered_set<std::string> seen;
        for (const auto& in : batch) {
            const auto& id = event_id_of(in);
            if (!id.empty() && !generated_id_of(in)) {
                // A stored event_id (any chain) or one repeated in the batch: answered as stored.
                const pg::param q[] = {id};
                auto r = conn_.exec(
                    select_audit(!read_only_v1_) + " WHERE event_id::text = $1 UNION ALL " +
                        select_security(!read_only_v1_) + " WHERE event_id::text = $1",
                    q);
                if (r.rows() > 0) {
                    out.push_back(decode_row(r, 0));
                    continue;
                }
                if (!seen.insert(id).second) {
                    for (const auto& f : fresh)
                        if (event_id_of(f.ev) == id) out.push_back(f);
                    continue;
                }
            }
            stored_event row{h.seq + 1, h.hash, {}, in, chain_};
            normalize(row.ev);
            row.hash = chain_hash(row.prev_hash, row.seq, row.ev);
            h = {row.seq, row.hash};
            fresh.push_back(row);
            out.push_back(std::move(row));
        }
        if (!fresh.empty() && insert_rows(fresh) != fresh.size())
            throw store_error("postgres " + conn_.where() + ": an event_id was stored meanwhile");
        return out;
    });
}

std::vector<stored_event> pg_store::query(const query_filter& f) {
    std::vector<pg::param> params;
    auto bind = [&params](std::string v) {
        params.emplace_back(std::move(v));
        return "$" + std::to_string(params.size());
    };
    std::string sql;
    for (auto table : {table_kind::audit_log, table_kind::security_audit}) {
        const bool audit = table == table_kind::audit_log;
        if (f.table && *f.table != table) continue;
        if (audit && f.event_type) continue;
        if (!audit && (f.entity_type || f.entity_id)) continue;
        std::string part =
            (audit ? select_audit(!read_only_v1_) : select_security(!read_only_v1_)) +
            " WHERE true";
        if (!chain_.empty()) {
            part += " AND chain = " + bind(chain_);
            part += " AND seq > " + bind(std::to_string(f.after_seq));
        }
        if (f.user_id) part += " AND user_id = " + bind(*f.user_id);
        if (f.since) part += " AND created_at >= " + bind(format_time(*f.since)) + "::timestamptz";
        if (f.until) part += " AND created_at < " + bind(format_time(*f.until)) + "::timestamptz";
        if (audit && f.entity_type) part += " AND entity_type = " + bind(*f.entity_type);
        if (audit && f.entity_id) part += " AND entity_id = " + bind(*f.entity_id);
        if (!audit && f.event_type) part += " AND event_type = " + bind(*f.event_type);
        sql += (sql.empty() ? "" : " UNION ALL ") + part;
    }
    std::vector<stored_event> out;
    if (sql.empty()) return out;
    sql += chain_.empty() ? " ORDER BY 23, 2, 3" : " ORDER BY 3";
    sql += " LIMIT " + std::to_string(clamp_limit(f.limit));
    std::lock_guard lock(mutex_);
    const auto t0 = clock::now();
    auto r = conn_.exec(sql, params);
    timed("select", f.table ? table_name(*f.table) : "both", t0);
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(decode_row(r, i));
    return out;
}

chain_head pg_store::head() {
    std::lock_guard lock(mutex_);
    return read_head();
}

std::optional<std::uint64_t> pg_store::row_count(std::int64_t upto) {
    if (chain_.empty()) return std::nullopt;
    std::lock_guard lock(mutex_);
    const pg::param p[] = {chain_, std::to_string(upto)};
    auto r = conn_.exec(
        "SELECT (SELECT count(*) FROM audit_log WHERE chain = $1 AND seq <= $2) + "
        "(SELECT count(*) FROM security_audit WHERE chain = $1 AND seq <= $2)",
        p);
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

std::vector<checkpoint> pg_store::checkpoints() {
    std::lock_guard lock(mutex_);
    const pg::param p[] = {chain_};
    auto r = conn_.exec("SELECT line FROM audit_checkpoint WHERE chain = $1 ORDER BY seq", p);
    std::vector<checkpoint> out;
    for (int i = 0; i < r.rows(); ++i) {
        try {
            out.push_back(parse_checkpoint_line(r.text(i, 0)));
        } catch (const checkpoint_error& e) {
            throw store_error("chain " + chain_ + ": audit_checkpoint row " +
                              std::to_string(i + 1) + ": " + e.what());
        }
    }
    return out;
}

std::vector<std::string> pg_store::chains() {
    std::lock_guard lock(mutex_);
    auto r = conn_.exec(
        "SELECT chain FROM audit_log UNION SELECT chain FROM security_audit UNION "
        "SELECT chain FROM audit_checkpoint ORDER BY 1");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
    return out;
}

void pg_store::set_chain(std::string chain) {
    std::lock_guard lock(mutex_);
    chain_ = std::move(chain);
}

std::chrono::microseconds pg_store::ping() {
    std::lock_guard lock(mutex_);
    const auto t0 = clock::now();
    conn_.exec("SELECT 1");
    timed("ping", "none", t0);
    return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0);
}

bool pg_store::usable() const {
    return conn_.usable();
}

template <typename F>
auto pg_reader::with_store(F&& f) {
    std::lock_guard lock(mutex_);
    if (store_ && !store_->usable()) store_.reset();
    if (!store_) store_ = std::make_unique<pg_store>(dsn_, chain_, false, std::chrono::seconds(2));
    return f(*store_);
}

std::vector<stored_event> pg_reader::append(std::span<const event> batch) {
    return with_store([&](pg_store& s) { return s.append(batch); });
}

std::vector<stored_event> pg_reader::query(const query_filter& filter) {
    return with_store([&](pg_store& s) { return s.query(filter); });
}

chain_head pg_reader::head() {
    return with_store([&](pg_store& s) { return s.head(); });
}

}  // namespace sidelight::audit
