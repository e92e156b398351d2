#include "audit/pg.hpp"

#include <charconv>
#include <vector>

#include "audit/store.hpp"
#include "config/config.hpp"

namespace sidelight::audit::pg {
namespace {

std::string trimmed(const char* message) {
    std::string out = message ? message : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

}  // namespace

std::int64_t result::int64(int row, int col) const {
    const auto t = text(row, col);
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size())
        throw store_error("postgres: expected an integer, got \"" + std::string(t) + "\"");
    return v;
}

std::int64_t result::affected() const {
    const char* n = PQcmdTuples(r_.get());
    std::int64_t v = 0;
    if (n && *n) std::from_chars(n, n + std::char_traits<char>::length(n), v);
    return v;
}

connection::connection(const std::string& dsn, std::chrono::seconds connect_timeout)
    : where_(config::redact_dsn(dsn)) {
    // Entries before `dbname` are defaults: what the DSN itself sets wins (expand_dbname).
    const std::string timeout = std::to_string(connect_timeout.count());
    const char* keywords[] = {
        "connect_timeout",  "fallback_application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout",          "dbname",          nullptr};
    const char* values[] = {timeout.c_str(), "sidelight", "10",   "5", "3",
                            "30000",         dsn.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, 1);
    if (!conn_) throw store_error("postgres " + where_ + ": out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
        const auto message = trimmed(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw store_error("postgres " + where_ + ": cannot connect: " + message);
    }
    // Notices (e.g. "already exists, skipping") are not errors; libpq would print them to stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
}

connection::~connection() {
    if (conn_) PQfinish(conn_);
}

void canceller::cancel() const {
    char error[256];
    if (c_) PQcancel(c_.get(), error, sizeof error);
}

bool connection::usable() const {
    return conn_ && PQstatus(conn_) == CONNECTION_OK;
}

result connection::check(PGresult* r, std::string_view what) {
    result out(r);
    const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
        sqlstate_.clear();
        return out;
    }
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    sqlstate_ = state ? state : "";
    std::string message = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    if (message.empty()) message = trimmed(PQerrorMessage(conn_));
    throw error("postgres " + where_ + ": " + std::string(what) + ": " + message, sqlstate_);
}

result connection::exec(const std::string& sql) {
    return check(PQexec(conn_, sql.c_str()), "query failed");
}

namespace {

struct raw_params {
    std::vector<const char*> values;
    explicit raw_params(std::span<const param> params) {
        values.reserve(params.size());
        for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    }
    int count() const { return static_cast<int>(values.size()); }
};

}  // namespace

result connection::exec(const std::string& sql, std::span<const param> params) {
    raw_params raw(params);
    return check(PQexecParams(conn_, sql.c_str(), raw.count(), nullptr, raw.values.data(), nullptr,
                              nullptr, 0),
                 "query failed");
}

void connection::prepare(const std::string& name, const std::string& sql) {
    check(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), "prepare failed");
}

result connection::exec_prepared(const std::string& name, std::span<const param> params) {
    raw_params raw(params);
    return check(
        PQexecPrepared(conn_, name.c_str(), raw.count(), raw.values.data(), nullptr, nullptr, 0),
        "statement failed");
}

void append_array_element(std::string& array, const std::optional<std::string_view>& value) {
    array += array.size() > 1 ? "," : "";
    if (!value) {
        array += "NULL";
        return;
    }
    array += '"';
    for (char c : *value) {
        if (c == '"' || c == '\\') array += '\\';
        array += c;
    }
    array += '"';
}

}  // namespace sidelight::audit::pg
