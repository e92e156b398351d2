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

    // Runs `sql` (several statements allowed when there are no parameters). Throws store_error
    // with Postgres's message; `sqlstate()` then tells which error it was.
    result exec(const std::string& sql);
    result exec(const std::string& sql, std::span<const param> params);
    void prepare(const std::string& name, const std::string& sql);
    result exec_prepared(const std::string& name, std::span<const param> params);

    bool usable() const;                                 // the connection is up (PQstatus ok)
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
