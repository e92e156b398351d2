#include "audit/cli.hpp"

#include <boost/json.hpp>

#include "audit/checkpoint.hpp"
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

int audit_verify_main(const std::string& store_path,
                      const std::optional<std::string>& checkpoint_file,
                      const std::optional<std::string>& public_key_file, std::ostream& out,
                      std::ostream& err) {
    try {
        std::vector<checkpoint> checkpoints;
        if (checkpoint_file) checkpoints = load_checkpoints(*checkpoint_file, public_key_file, err);
        sqlite_store s(existing_store(store_path), open_mode::existing);
        const auto r = verify(s, checkpoints);
        if (r.ok()) {
            out << "OK " << r.count << " events, head seq=" << r.head.seq << " hash=" << r.head.hash
                << "\n";
            return 0;
        }
        out << "BROKEN at seq " << r.broken_seq << ": " << to_string(r.status) << " (" << r.detail
            << ")\n";
        return 1;
    } catch (const checkpoint_error& e) {
        err << "sidelight: audit verify: " << e.what() << "\n";
        return 2;
    } catch (const store_error& e) {
        err << "sidelight: audit verify: " << e.what() << "\n";
        return 2;
    }
}

int audit_query_main(const std::string& store_path, const query_filter& filter, std::ostream& out,
                     std::ostream& err) {
    try {
        sqlite_store s(existing_store(store_path), open_mode::existing);
        json::array rows;
        for (const auto& row : s.query(filter)) rows.push_back(to_json(row));
        out << escape_line_separators(json::serialize(rows)) << "\n";
        return 0;
    } catch (const std::exception& e) {  // a store_error, or SQLite's own on a damaged file
        out.flush();  // what was exported before the failure stays ahead of the error
        err << "sidelight: audit query: " << e.what() << "\n";
        return 2;
    }
}

int audit_export_main(const std::string& store_path, std::ostream& out, std::ostream& err) {
    try {
        sqlite_store s(existing_store(store_path), open_mode::existing);
        for_each_row(s, [&](const stored_event& row) {
            out << to_json_line(row) << '\n';
            return true;
        });
        return 0;
    } catch (const std::exception& e) {  // a store_error, or SQLite's own on a damaged file
        out.flush();  // what was exported before the failure stays ahead of the error
        err << "sidelight: audit export: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace sidelight::audit
