#include "audit/cli.hpp"

#include <boost/json.hpp>

#include <filesystem>

#include "audit/checkpoint.hpp"
#include "audit/pg_schema.hpp"
#include "audit/pg_store.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/verify.hpp"

namespace sidelight::audit {

namespace {

namespace json = boost::json;

template <typename E>
void put_common(json::object& o, const E& e) {
    o["event_id"] = e.event_id;
    o["created_at"] = format_time(e.created_at);
    o["source"] = to_string(e.source);
    o["request_id"] = e.request_id;
    o["method"] = e.method;
    o["route"] = e.route;
    o["status"] = e.status;
    if (!e.trace_id.empty()) o["trace_id"] = e.trace_id;
}

// JSON allows raw U+2028/U+2029 in strings, but JavaScript-era line readers split on them.
std::string escape_line_separators(std::string text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 3, "\xE2\x80\xA8") == 0 || text.compare(i, 3, "\xE2\x80\xA9") == 0) {
            out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

config::store_config existing_store(const std::string& path) {
    config::store_config cfg;
    cfg.path = path;
    return cfg;
}

// Loads the checkpoints and, with a public key, rejects any whose signature does not verify.
std::vector<checkpoint> load_checkpoints(const std::string& file,
                                         const std::optional<std::string>& public_key_file,
                                         std::ostream& err) {
    auto checkpoints = read_checkpoint_file(file);
    if (!public_key_file) {
        err << "sidelight: audit verify: warning: checkpoints not authenticated (no "
               "--public-key given)\n";
        return checkpoints;
    }
    const checkpoint_verifier verifier(*public_key_file);
    for (std::size_t i = 0; i < checkpoints.size(); ++i) {
        if (!verifier.verify(checkpoints[i])) {
            throw checkpoint_error(file + ": checkpoint " + std::to_string(i + 1) + " (seq " +
                                   std::to_string(checkpoints[i].seq) +
                                   "): signature does not verify");
        }
    }
    return checkpoints;
}

}  // namespace

const char* const query_filter_help =
    "filters (a query string, joined with &): table=audit_log|security_audit, user_id=, "
    "entity_type=, entity_id=, event_type=, since=TIME, until=TIME (ISO-8601 UTC, e.g. "
    "2026-11-01T00:00:00Z), after_seq=N, limit=1..1000";

json::object to_json(const stored_event& row) {
    json::object o;
    if (!row.chain.empty()) o["chain"] = row.chain;
    o["seq"] = row.seq;
    o["table"] = table_name(row.table());
    if (const auto* a = std::get_if<audit_event>(&row.ev)) {
        put_common(o, *a);
        o["user_id"] = a->user_id;
        o["action"] = a->action;
        o["entity_type"] = a->entity_type;
        o["entity_id"] = a->entity_id;
        o["changes"] = a->changes;
        o["ip_address"] = a->ip_address;
        o["user_agent"] = a->user_agent;
    } else {
        const auto& s = std::get<security_event>(row.ev);
        put_common(o, s);
        o["event_type"] = s.event_type;
        o["user_id"] = s.user_id;
        o["ip_address"] = s.ip_address;
        if (s.success)
            o["success"] = *s.success;
        else
            o["success"] = nullptr;
        o["details"] = s.details;
    }
    o["prev_hash"] = row.prev_hash;
    o["hash"] = row.hash;
    return o;
}

std::string to_json_line(const stored_event& row) {
    return escape_line_separators(json::serialize(to_json(row)));
}

bool is_postgres_target(const std::string& store) {
    if (store.starts_with("postgres://") || store.starts_with("postgresql://")) return true;
    if (store.find('=') == std::string::npos) return false;
    std::error_code ec;
    if (std::filesystem::exists(store, ec)) return false;
    return config::parse_dsn(store).has_value();
}

namespace {

// Checkpoints for one chain: the file given, or those Postgres holds; signatures checked with
// the public key. Unauthenticated ones are used with a warning (printed once by the caller).
std::vector<checkpoint> chain_checkpoints(pg_store& s, const std::optional<std::string>& file,
                                          const std::optional<checkpoint_verifier>& verifier) {
    auto checkpoints = file ? read_checkpoint_file(*file) : s.checkpoints();
    if (!verifier) return checkpoints;
    for (const auto& cp : checkpoints) {
        if (!verifier->verify(cp)) {
            throw checkpoint_error("chain " + s.chain() + ": checkpoint at seq " +
                                   std::to_string(cp.seq) + ": signature does not verify");
        }
    }
    return checkpoints;
}

void report(std::ostream& out, const std::string& prefix, const verify_result& r) {
    if (r.ok()) {
        out << prefix << "OK " << r.count << " events, head seq=" << r.head.seq
            << " hash=" << r.head.hash << "\n";
    } else {
        out << prefix << "BROKEN at seq " << r.broken_seq << ": " << to_string(r.status) << " ("
            << r.detail << ")\n";
    }
}

int verify_postgres(const store_target& target, const std::optional<std::string>& checkpoint_file,
                    const std::optional<std::string>& public_key_file, std::ostream& out,
                    std::ostream& err) {
    if (checkpoint_file && !target.chain) {
        err << "sidelight: audit verify: --checkpoints with a Postgres store needs --chain (a "
               "checkpoint file belongs to one chain)\n";
        return 2;
    }
    pg_store s(target.store, target.chain.value_or(""), false);
    const auto chains = target.chain ? std::vector<std::string>{*target.chain} : s.chains();
    std::optional<checkpoint_verifier> verifier;
    if (public_key_file) {
        verifier.emplace(*public_key_file);
    } else {
        err << "sidelight: audit verify: warning: checkpoints not authenticated (no "
               "--public-key given)\n";
    }
    if (chains.empty()) {
        out << "OK 0 events (no chain in this store)\n";
        return 0;
    }
    bool broken = false;
    for (const auto& chain : chains) {
        s.set_chain(chain);
        const auto checkpoints = chain_checkpoints(s, checkpoint_file, verifier);
        const auto r = verify(s, checkpoints);
        broken = broken || !r.ok();
        report(out, "chain " + chain + ": ", r);
    }
    return broken ? 1 : 0;
}

// The store a command reads, positioned on target.chain (Postgres).
std::unique_ptr<store> open_target(const store_target& target) {
    if (is_postgres_target(target.store))
        return std::make_unique<pg_store>(target.store, target.chain.value_or(""), false);
    if (target.chain) throw store_error("--chain applies to a Postgres store only");
    return std::make_unique<sqlite_store>(existing_store(target.store), open_mode::existing);
}

}  // namespace

int audit_verify_main(const store_target& target, const std::optional<std::string>& checkpoint_file,
                      const std::optional<std::string>& public_key_file, std::ostream& out,
                      std::ostream& err) {
    try {
        if (is_postgres_target(target.store))
            return verify_postgres(target, checkpoint_file, public_key_file, out, err);
        if (target.chain) throw store_error("--chain applies to a Postgres store only");
        std::vector<checkpoint> checkpoints;
        if (checkpoint_file) checkpoints = load_checkpoints(*checkpoint_file, public_key_file, err);
        sqlite_store s(existing_store(target.store), open_mode::existing);
        const auto r = verify(s, checkpoints);
        report(out, "", r);
        return r.ok() ? 0 : 1;
    } catch (const checkpoint_error& e) {
        err << "sidelight: audit verify: " << e.what() << "\n";
        return 2;
    } catch (const store_error& e) {
        err << "sidelight: audit verify: " << e.what() << "\n";
        return 2;
    }
}

int audit_query_main(const store_target& target, const query_filter& filter, std::ostream& out,
                     std::ostream& err) {
    try {
        auto s = open_target(target);
        json::array rows;
        for (const auto& row : s->query(filter)) rows.push_back(to_json(row));
        out << escape_line_separators(json::serialize(rows)) << "\n";
        return 0;
    } catch (const std::exception& e) {  // a store_error, or SQLite's own on a damaged file
        out.flush();  // what was exported before the failure stays ahead of the error
        err << "sidelight: audit query: " << e.what() << "\n";
        return 2;
    }
}

int audit_export_main(const store_target& target, std::ostream& out, std::ostream& err) {
    try {
        auto s = open_target(target);
        auto write = [&](const stored_event& row) {
            out << to_json_line(row) << '\n';
            return true;
        };
        auto* pg = dynamic_cast<pg_store*>(s.get());
        if (pg && !target.chain) {
            for (const auto& chain : pg->chains()) {  // chain by chain, each in seq order
                pg->set_chain(chain);
                for_each_row(*pg, write);
            }
        } else {
            for_each_row(*s, write);
        }
        return 0;
    } catch (const std::exception& e) {  // a store_error, or SQLite's own on a damaged file
        out.flush();  // what was exported before the failure stays ahead of the error
        err << "sidelight: audit export: " << e.what() << "\n";
        return 2;
    }
}

int audit_pg_grants_main(const std::string& role, const std::string& store, std::ostream& out,
                         std::ostream& err) {
    try {
        const auto sql = pg_grants_sql(role);
        if (store.empty()) {
            out << sql;
            return 0;
        }
        pg::connection conn(store);
        pg_migrate(conn);
        conn.exec(sql);
        out << "granted " << role << " SELECT and INSERT on the audit tables at " << conn.where()
            << "\n";
        return 0;
    } catch (const store_error& e) {
        err << "sidelight: audit pg-grants: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace sidelight::audit
