// `databases`: PostgreSQL wire listeners (dbproxy/), one per database the app uses.
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
    for (auto key : {"ca_file", "sni"}) {
        if (out.tls != db_tls::verify_full && m.get(key))
            m.get(key)->fail("applies with tls: verify-full only");
    }
    return out;
}

database_config parse_one(const node_ref& n) {
    map_reader m(n, {"name", "listen", "upstream", "tables", "slow_query"});
    database_config out;
    out.mark = n.mark;
    const node_ref name = m.require("name");
    out.name = to_nonempty_string(name);
    if (!is_database_name(out.name))
        name.fail("expected a name of letters, digits, _ and - (at most 32), got \"" + out.name +
                  "\"");
    out.listen = to_address(m.require("listen"), true);
    out.upstream = parse_db_upstream(m.require("upstream"));
    if (auto v = m.get("tables")) {
        map_reader t(*v, {"max"});
        if (auto max = t.get("max")) out.max_tables = to_uint(*max, 1, 100'000);
    }
    if (auto v = m.get("slow_query")) out.slow_query = to_duration(*v, false);
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
