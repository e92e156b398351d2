#include "agent/db_audit.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace sidelight::agent {

audit::audit_event db_audit_event(const dbproxy::statement_audit& a) {
    audit::audit_event ev;
    ev.user_id = a.user;
    ev.action = a.rule->action.empty() ? "db." + std::string(a.operation) : a.rule->action;
    ev.entity_type = a.rule->entity_type.empty() ? std::string(a.table) : a.rule->entity_type;
    ev.ip_address = a.client_ip;
    ev.user_agent = a.application;
    for (char c : a.operation) ev.method += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    ev.route = "postgres:" + std::string(a.database_name);
    boost::json::object changes;
    changes["database"] = a.database_name;
    changes["dbname"] = a.dbname;
    changes["operation"] = a.operation;
    changes["table"] = a.table;
    changes["outcome"] = a.ok ? "ok" : "error";
    changes["duration_ms"] = a.duration_ms;
    changes["statement"] = a.statement;
    changes["fingerprint"] = a.fingerprint;
    changes["rule"] = a.rule->name;
    ev.changes = boost::json::serialize(changes);
    ev.source = audit::event_source::rule;
    return ev;
}

}  // namespace sidelight::agent
