#pragma once
// What the database listeners report to: one record per statement, connection counts, and the
// connections closed for a protocol violation.
// Implemented by the agent (the db_* metric families, active_connections{type="db"}). Called on
// the database thread after the server's answer was forwarded to the client; must not block.
// Thread-safety: may be called from the database thread while the admin server renders.

#include <chrono>
#include <cstddef>
#include <string_view>

namespace sidelight::dbproxy {

struct query_record {
    std::size_t database = 0;    // index into config.databases
    std::string_view operation;  // closed set (sql_lexer.hpp)
    std::string_view table;      // capped per database: beyond tables.max, "other"
    double duration_ms = 0;
    bool ok = true;     // false: ErrorResponse
    bool slow = false;  // duration over the database's slow_query
};

class observer {
  public:
    virtual ~observer() = default;
    virtual void on_query(const query_record& record) = 0;
    virtual void on_db_connection(int delta) = 0;
    // A connection of `database` closed for `reason` (to_string of dbproxy/wire.hpp's
    // protocol_error, a closed set).
    virtual void on_protocol_error(std::size_t database, std::string_view reason) = 0;
};

}  // namespace sidelight::dbproxy
