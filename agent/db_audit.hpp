#pragma once
// A database statement an audit rule matched (dbproxy/observer.hpp, statement_audit) as the
// audit_log row it becomes:
//
//   user_id      the database user of the connection (StartupMessage `user`)
//   (what the client sent, here and below, is sanitized as every stored string is: control
//   characters escaped, invalid UTF-8 replaced, capped: audit/redact.hpp)
//   action       the rule's `action`, else "db.<operation>"
//   entity_type  the rule's `entity_type`, else the table
//   entity_id    "" (a statement's values are never stored)
//   ip_address   the app's address as the database listener saw it
//   user_agent   the connection's application_name
//   method       the operation in upper case (DELETE); route "postgres:<database name>"
//   changes      {"database", "dbname", "operation", "table", "outcome", "duration_ms",
//                 "statement" (normalized: $n for every literal and parameter), "fingerprint",
//                 "rule"}
//
// Pure function; thread-safe.

#include "audit/event.hpp"
#include "dbproxy/observer.hpp"

namespace sidelight::agent {

audit::audit_event db_audit_event(const dbproxy::statement_audit& a);

}  // namespace sidelight::agent
