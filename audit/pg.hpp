#pragma once
// A thin RAII layer over libpq for the Postgres audit store: one connection, text parameters,
// results freed on scope exit. Every failure is a store_error whose message names the server by
// its redacted connection string (config::redact_dsn): a password never reaches a log line.
// Thread-safety: a connection is used by one thread at a time (the caller serializes).

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "audit/store.hpp"

namespace sidelight::audit::pg {

class result {
  public:
    explicit result(PGresult* r) : r_(r, PQclear) {}
    int rows() const { return PQntuples(r_.get()); }
    bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
    std::string_view text(int row, int col) const {
        return {PQgetvalue(r_.get(), row, col),
                static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
    }
    std::int64_t int64(int row, int col) const;
    // Rows an INSERT/UPDATE/DELETE touched (PQcmdTuples).
    std::int64_t affected() const;

  private:
    std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// What every failed statement throws: Postgres's message, and its SQLSTATE ("" when the
// server sent none, e.g. the connection was lost).
class error : public store_error {
  public:
    error(const std::string& what, std::string sqlstate)
        : store_error(what), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const { return sqlstate_; }

  private:
    std::string sqlstate_;
};

// Cancels whatever statement runs on the connection it was taken from (PQcancel): usable from
// any thread, also while that connection's thread waits on the statement.
class canceller {
  public:
    explicit canceller(PGconn* conn) : c_(PQgetCancel(conn), PQfreeCancel) {}
    void cancel() const;

  private:
    std::unique_ptr<PGcancel, void (*)(PGcancel*)> c_;
};

// A parameter in text form; none is SQL NULL.
using param = std::optional<std::string>;

class connection {
  public:
    // Connects (`connect_timeout` unless the DSN sets one; TCP keepalives and a user timeout so
    // that a vanished server fails the connection instead of hanging it). Throws store_error.
    explicit connection(const std::string& dsn,
                        std::chrono::seconds connect_timeout = std::chrono::seconds(5));
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Runs `sql` (several statements allowed when there are no parameters). Throws pg::error
    // with Postgres's message and SQLSTATE.
    result exec(const std::string& sql);
    result exec(const std::string& sql, std::span<const param> params);
    void prepare(const std::string& name, const std::string& sql);
    result exec_prepared(const std::string& name, std::span<const param> params);

    bool usable() const;  // the connection is up (PQstatus ok)
    // A canceller for this connection (taken by the thread that uses it).
    std::shared_ptr<const canceller> make_canceller() const {
        return std::make_shared<const canceller>(conn_);
    }
    const std::string& where() const { return where_; }  // the redacted DSN
    const std::string& last_sqlstate() const { return sqlstate_; }

  private:
    result check(PGresult* r, std::string_view what);

    PGconn* conn_ = nullptr;
    std::string where_;
    std::string sqlstate_;
};

// Appends `value` to a text-format array literal that starts with '{': a double-quoted element
// (quote and backslash escaped with a backslash), or NULL; the caller adds the closing '}'.
void append_array_element(std::string& array, const std::optional<std::string_view>& value);

}  // namespace sidelight::audit::pg
