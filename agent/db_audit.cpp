#include "agent/db_audit.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "audit/redact.hpp"

namespace sidelight::agent {
namespace {

// What a client sent (its user, database, application_name, a table's name, the statement's
// identifiers and comments) may be any bytes: stored as every stored string is (audit::sanitize),
// so a row never carries a control character or invalid UTF-8, which Postgres would refuse.
constexpr std::size_t max_name_bytes = 256;
constexpr std::size_t max_statement_bytes = 64 * 1024;

std::string clean(std::string_view s, std::size_t cap = max_name_bytes) {
    return audit::sanitize(s, cap);
}

}  // namespace

audit::audit_event db_audit_event(const dbproxy::statement_audit& a) {
    audit::audit_event ev;
    ev.user_id = clean(a.user);
    ev.action = a.rule->action.empty() ? "db." + std::string(a.operation) : a.rule->action;
    ev.entity_type = a.rule->entity_type.empty() ? clean(a.table) : a.rule->entity_type;
    ev.ip_address = a.client_ip;
    ev.user_agent = clean(a.application, audit::max_user_agent_bytes);
    for (char c : a.operation) ev.method += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    ev.route = "postgres:" + std::string(a.database_name);
    boost::json::object changes;
    changes["database"] = a.database_name;
    changes["dbname"] = clean(a.dbname);
    changes["operation"] = a.operation;
    changes["table"] = clean(a.table);
    changes["outcome"] = a.ok ? "ok" : "error";
    changes["duration_ms"] = a.duration_ms;
    changes["statement"] = clean(a.statement, max_statement_bytes);
    changes["fingerprint"] = a.fingerprint;
    changes["rule"] = a.rule->name;
    ev.changes = boost::json::serialize(changes);
    ev.source = audit::event_source::rule;
    return ev;
}

}  // namespace sidelight::agent
