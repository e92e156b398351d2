// `databases`: PostgreSQL wire listeners (dbproxy/), one per database the app uses.
#include <algorithm>
#include <set>

#include "config/yaml_walk.hpp"

namespace sidelight::config {

std::string_view to_string(db_tls t) {
    switch (t) {
        case db_tls::disable:
            return "disable";
        case db_tls::prefer:
            return "prefer";
        case db_tls::require:
            return "require";
        case db_tls::verify_full:
            return "verify-full";
    }
    return "disable";
}

namespace detail {
namespace {

bool is_database_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    return true;
}

database_upstream parse_db_upstream(const node_ref& n) {
    map_reader m(n, {"address", "tls", "ca_file", "sni", "connect_timeout"});
    database_upstream out;
    out.address = to_address(m.require("address"), false);
    if (auto v = m.get("tls")) {
        const auto t = to_choice(*v, {"disable", "prefer", "require", "verify-full"});
        out.tls = t == "prefer"        ? db_tls::prefer
                  : t == "require"     ? db_tls::require
                  : t == "verify-full" ? db_tls::verify_full
                                       : db_tls::disable;
    }
    if (auto v = m.get("ca_file")) {
        out.ca_file = to_nonempty_string(*v);
        out.ca_file_mark = v->mark;
    }
    if (auto v = m.get("sni")) {
        out.sni = to_nonempty_string(*v);
        if (out.sni.find_first_of(" /:") != std::string::npos)
            v->fail("expected a host name like db.internal, got \"" + out.sni + "\"");
    }
    if (auto v = m.get("connect_timeout")) out.connect_timeout = to_duration(*v, false);
    if (out.tls != db_tls::verify_full && m.get("ca_file"))
        m.get("ca_file")->fail("applies with tls: verify-full only");
    if (out.tls == db_tls::disable && m.get("sni"))
        m.get("sni")->fail("applies with tls: prefer, require or verify-full only");
    return out;
}

// A table name as the `table` label shows it: lower case unless quoted, no schema.
bool is_table_name(std::string_view name) {
    if (name.empty() || name.size() > 63) return false;
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7e || c == '"' || c == '.') return false;
    }
    return true;
}

db_audit_rule parse_audit_rule(const node_ref& n) {
    map_reader m(n, {"name", "match", "action", "entity_type"});
    db_audit_rule out;
    out.mark = n.mark;
    out.name = to_nonempty_string(m.require("name"));
    if (auto match = m.get("match")) {
        map_reader mm(*match, {"operations", "tables", "outcome"});
        if (auto v = mm.get("operations")) {
            out.operations = to_string_list(*v);
            for (const auto& op : out.operations) {
                if (std::find(db_operations.begin(), db_operations.end(), op) ==
                    db_operations.end())
                    v->fail("unknown operation \"" + op +
                            "\" (expected select, insert, update, delete, copy, ddl, tx or other)");
            }
        }
        if (auto v = mm.get("tables")) {
            out.tables = to_string_list(*v);
            for (const auto& t : out.tables)
                if (!is_table_name(t))
                    v->fail(
                        "expected table names as the table label shows them (no schema, no "
                        "quotes), got \"" +
                        t + "\"");
        }
        if (auto v = mm.get("outcome")) out.outcome = to_choice(*v, {"ok", "error", "any"});
    }
    if (auto v = m.get("action")) out.action = to_nonempty_string(*v);
    if (auto v = m.get("entity_type")) out.entity_type = to_nonempty_string(*v);
    return out;
}

database_config parse_one(const node_ref& n) {
    map_reader m(n, {"name", "listen", "upstream", "tables", "slow_query", "audit"});
    database_config out;
    out.mark = n.mark;
    const node_ref name = m.require("name");
    out.name = to_nonempty_string(name);
    if (!is_database_name(out.name))
        name.fail("expected a name of letters, digits, _ and - (at most 32), got \"" + out.name +
                  "\"");
    out.listen = to_listen_address(m.require("listen"), true);
    out.upstream = parse_db_upstream(m.require("upstream"));
    if (auto v = m.get("tables")) {
        map_reader t(*v, {"max"});
        if (auto max = t.get("max")) out.max_tables = to_uint(*max, 1, 100'000);
    }
    if (auto v = m.get("slow_query")) out.slow_query = to_duration(*v, false);
    if (auto v = m.get("audit")) {
        std::set<std::string> names;
        for (const auto& item : list_items(*v)) {
            out.audit.push_back(parse_audit_rule(item));
            if (!names.insert(out.audit.back().name).second)
                item.fail("duplicate audit rule name \"" + out.audit.back().name + "\"");
        }
    }
    return out;
}

}  // namespace

std::vector<database_config> parse_databases(const node_ref& n) {
    std::vector<database_config> out;
    std::set<std::string> names;
    const auto items = list_items(n);
    if (items.size() > 16) n.fail("at most 16 databases");
    for (const auto& item : items) {
        out.push_back(parse_one(item));
        if (!names.insert(out.back().name).second)
            item.fail("duplicate database name \"" + out.back().name + "\"");
    }
    return out;
}

}  // namespace detail
}  // namespace sidelight::config
