// What sidelight observes of one database connection; see watch.hpp.
#include "dbproxy/watch.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "dbproxy/session.hpp"

namespace sidelight::dbproxy {
namespace {

bool listed(const std::vector<std::string>& list, std::string_view value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

// The operation and table of this statement that the rule names (its outcome aside): the
// statement's own, else the first of its writes (a DELETE in a WITH, ...) the rule names.
std::optional<audit_target> named_part(const config::db_audit_rule& r, const statement_info& info) {
    if (listed(r.operations, info.operation) && listed(r.tables, info.table))
        return audit_target{info.operation, info.table};
    for (const auto& w : info.writes)
        if (listed(r.operations, w.operation) && listed(r.tables, w.table))
            return audit_target{w.operation, w.table};
    return std::nullopt;
}

// Could a rule of `rules` match this statement, whatever its outcome? Then it keeps its text. An
// EXECUTE keeps it too (one under EXPLAIN ANALYZE or CREATE TABLE AS as well): what it runs is
// known only when the tracker labels it, at its end.
query_tracker::text_filter text_filter_for(const std::vector<config::db_audit_rule>& rules) {
    if (rules.empty()) return {};
    return [&rules](const statement_info& info) {
        return info.prepared == sql_prepared::execute ||
               info.prepared == sql_prepared::execute_inside ||
               std::any_of(rules.begin(), rules.end(), [&](const config::db_audit_rule& r) {
                   return named_part(r, info).has_value();
               });
    };
}

}  // namespace

connection_count::connection_count(shared_state& shared) : shared_(&shared) {
    ++shared_->open;
    shared_->obs.on_db_connection(1);
}

void connection_count::release() {
    if (shared_) {
        --shared_->open;
        shared_->obs.on_db_connection(-1);
    }
    shared_ = nullptr;
}

watch::watch(database& db, shared_state& shared, statement_cache& cache, std::string_view startup,
             std::string client_ip)
    : db_(db),
      shared_(shared),
      tracker_(cache, text_filter_for(db.cfg.audit)),
      client_ip_(std::move(client_ip)) {
    if (db_.cfg.audit.empty()) return;
    // StartupMessage: length, protocol, then name/value C strings up to an empty name.
    cursor c{startup, 8};
    while (auto name = c.cstring()) {
        if (name->empty()) break;
        const auto value = c.cstring();
        if (!value) break;
        if (*name == "user") user_ = *value;
        if (*name == "database") dbname_ = *value;
        if (*name == "application_name") application_ = *value;
    }
    if (dbname_.empty()) dbname_ = user_;
}

watch::~watch() {
    if (key_) shared_.keys.remove(key_->first, key_->second);
}

void count_protocol_error(const database& db, shared_state& shared, protocol_error reason,
                          std::string_view side) {
    spdlog::warn("event=db_protocol_error database={} side={} reason={}", db.cfg.name, side,
                 to_string(reason));
    shared.obs.on_protocol_error(db.index, to_string(reason));
}

std::string violation_farewell(protocol_error reason, std::string_view side) {
    return protocol_violation("sidelight: protocol violation by the " + std::string(side) + " (" +
                              std::string(to_string(reason)) + ")");
}

void watch::fail(protocol_error reason, std::string_view side) {
    if (error_) return;
    error_ = reason;
    error_side_ = side;
    count_protocol_error(db_, shared_, reason, side);
}

std::string watch::farewell() const {
    return error_ ? violation_farewell(*error_, error_side_) : std::string();
}

bool watch::from_client(std::span<const char> bytes) {
    const auto now = query_tracker::clock::now();
    std::optional<protocol_error> tracked;
    from_client_.feed(bytes, [&](char type, std::string_view body) {
        if (auto e = tracker_.on_frontend(type, body, now); e && !tracked) tracked = e;
    });
    if (auto e = from_client_.error() ? from_client_.error() : tracked) {
        fail(*e, "client");
        return false;
    }
    return true;
}

// One clock read per chunk: its messages arrived together (an answer's 2/D/C/Z).
bool watch::from_database(std::span<const char> bytes) {
    const auto now = query_tracker::clock::now();
    from_database_.feed(
        bytes, [&](char type, std::string_view body) { on_database_message(type, body, now); });
    if (auto e = from_database_.error()) {
        fail(*e, "database server");
        return false;
    }
    return true;
}

void watch::client_ended() {
    if (!from_client_.at_boundary()) fail(protocol_error::truncated, "client");
}

void watch::database_ended() {
    if (!from_database_.at_boundary()) fail(protocol_error::truncated, "database server");
}

void watch::on_database_message(char type, std::string_view body,
                                query_tracker::clock::time_point now) {
    if (type == 'K' && body.size() >= 8 && !key_) {  // BackendKeyData
        key_ = {read_u32(body, 0), read_u32(body, 4)};
        shared_.keys.add(key_->first, key_->second, db_.index);
    }
    tracker_.on_backend(type, body, now, done_);
}

void watch::record() {
    if (done_.size() > 1) query_tracker::share_time(done_);  // answers read together
    for (const auto& f : done_) {
        const double ms = std::chrono::duration<double, std::milli>(f.elapsed).count();
        const bool slow = f.elapsed > db_.cfg.slow_query;
        const auto table = db_.tables.label(f.info().table);
        shared_.obs.on_query({db_.index, f.info().operation, table, ms, f.ok, slow});
        if (const auto match = audit_rule_for(f)) audit(f, *match, ms);
        if (slow)
            spdlog::warn("event=db_slow_query database={} operation={} table={} duration_ms={:.1f}",
                         db_.cfg.name, f.info().operation, table, ms);
    }
    done_.clear();
}

std::optional<watch::audit_match> watch::audit_rule_for(const query_tracker::finished& f) const {
    for (const auto& r : db_.cfg.audit) {  // first match wins
        if (r.outcome != "any" && (r.outcome == "ok") != f.ok) continue;
        if (auto part = named_part(r, f.info())) return audit_match{&r, *part};
    }
    return std::nullopt;
}

void watch::audit(const query_tracker::finished& f, const audit_match& match, double ms) {
    statement_audit a;
    a.database = db_.index;
    a.database_name = db_.cfg.name;
    a.rule = match.rule;
    a.operation = match.part.operation;
    a.table = match.part.table;
    a.ok = f.ok;
    a.duration_ms = ms;
    a.user = user_;
    a.dbname = dbname_;
    a.application = application_;
    a.client_ip = client_ip_;
    a.statement = normalize(f.text(), f.mode());
    a.fingerprint = fingerprint(a.statement);
    shared_.obs.on_statement_audit(a);
}

}  // namespace sidelight::dbproxy
