#pragma once
// What the database listeners report to: one record per statement, connection counts, and the
// connections closed for a protocol violation.
// Implemented by the agent (the db_* metric families, active_connections{type="db"}). Called on
// the database thread after the server's answer was forwarded to the client; must not block.
// Thread-safety: may be called from the database thread while the admin server renders.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sidelight::dbproxy {

struct query_record {
    std::size_t database = 0;    // index into config.databases
    std::string_view operation;  // closed set (sql_lexer.hpp)
    std::string_view table;      // capped per database: beyond tables.max, "other"
    double duration_ms = 0;
    bool ok = true;     // false: ErrorResponse
    bool slow = false;  // duration over the database's slow_query
};

// A statement an audit rule of its database matched (`databases[].audit`): what the audit row
// is made of. Views are valid during the call only.
struct statement_audit {
    std::size_t database = 0;           // index into config.databases
    std::string_view database_name;     // its name
    const config::db_audit_rule* rule;  // the first rule that matched
    std::string_view operation;         // closed set
    std::string_view table;             // the statement's table (not capped: rules name it)
    bool ok = true;
    double duration_ms = 0;
    std::string_view user;         // the StartupMessage's user
    std::string_view dbname;       // its database (the user's name when not given)
    std::string_view application;  // its application_name, or ""
    std::string_view client_ip;    // the app's address as sidelight's listener saw it
    std::string statement;         // normalize()d: no literal, no parameter
    std::string fingerprint;
};

class observer {
  public:
    virtual ~observer() = default;
    virtual void on_query(const query_record& record) = 0;
    virtual void on_db_connection(int delta) = 0;
    // A connection of `database` closed for `reason` (to_string of dbproxy/wire.hpp's
    // protocol_error, a closed set).
    virtual void on_protocol_error(std::size_t database, std::string_view reason) = 0;
    // A statement one of its database's audit rules matched, after its answer was forwarded.
    virtual void on_statement_audit(const statement_audit& event) = 0;
};

}  // namespace sidelight::dbproxy
