#include "audit/event_api.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "audit/cli.hpp"
#include "audit/json_text.hpp"
#include "audit/redact.hpp"
#include "util/percent.hpp"
#include "util/uuid.hpp"

namespace sidelight::audit {
namespace {

namespace json = boost::json;
constexpr std::size_t max_field_bytes = 1024;
constexpr std::size_t max_name_bytes = 64;  // of an unknown field or parameter, in a message

// The body as accepted (audit/json_text.hpp: no duplicate key, no number that overflows a
// double), with the spans of the events' fields, and as a DOM to read the fields from.
struct checked_body {
    json_text text;
    json::value doc;
};

struct field_reader {
    const json::object& o;
    std::string prefix;  // "events[2]." for messages
    std::string path;    // "[2]" for spans of checked_body::text
    const json_text& body;
    const std::vector<std::string>& redact_keys;
    std::string error;

    void fail(std::string message) {
        if (error.empty()) error = std::move(message);
    }
    void refuse_unknown(std::initializer_list<std::string_view> known) {
        for (const auto& member : o) {
            const std::string_view key(member.key().data(), member.key().size());
            if (std::find(known.begin(), known.end(), key) == known.end())
                fail(prefix + sanitize(key, max_name_bytes) + ": unknown field");
        }
    }
    // A string field; `required` ones must be present and non-empty.
    std::string text(const char* name, bool required = false, std::size_t cap = max_field_bytes) {
        const auto* v = o.if_contains(name);
        if (!v || v->is_null()) {
            if (required) fail(prefix + name + ": required");
            return "";
        }
        if (!v->is_string()) {
            fail(prefix + name + ": expected a string");
            return "";
        }
        auto s = sanitize(v->as_string(), cap);
        if (required && s.empty()) fail(prefix + name + ": required");
        return s;
    }
    // `changes` / `details`: an object, stored as compact JSON with its numbers as sent and the
    // values of redacted keys replaced at any depth, as in rule-captured bodies (secrets are
    // never stored, whoever sends them). A string that holds a JSON object (an app's
    // JSON.stringify) is stored as that object; any other string is refused.
    std::string json_object(const char* name) {
        const auto* v = o.if_contains(name);
        if (!v || v->is_null()) return "";
        const auto* span = body.span(path + "." + name);
        std::string_view sent;
        if (v->is_object() && span)
            sent = body.text_of(*span);
        else if (v->is_string())
            sent = std::string_view(v->as_string().data(), v->as_string().size());
        if (sent.empty()) {
            fail(prefix + name + ": expected an object (or a string holding one)");
            return "";
        }
        auto out = canonical_json(sent, redact_keys);
        if (!out.ok())
            fail(out.message(prefix + name));
        else if (!out.text.starts_with('{'))
            fail(prefix + name + ": expected an object (or a string holding one)");
        return std::move(out.text);
    }
    time_point time(const char* name) {
        const auto s = text(name);
        if (s.empty()) return {};
        auto t = parse_client_time(s);
        if (!t) fail(prefix + name + ": expected an ISO-8601 time such as 2026-11-01T12:00:00Z");
        return t.value_or(time_point{});
    }
    std::string event_id() {
        auto id = text("event_id");
        if (!id.empty() && !util::is_uuid(id)) fail(prefix + "event_id: expected a UUID");
        return id;
    }
    // A W3C trace id: 32 lower-case hex digits, not all zero (what tracing itself accepts).
    std::string trace_id() {
        auto id = text("trace_id");
        const bool hex =
            id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!id.empty() && (!hex || id.find_first_not_of('0') == std::string::npos))
            fail(prefix + "trace_id: expected 32 lower-case hex digits, not all zero");
        return id;
    }
};

// Spans for the fields of one event object or of each event in an array.
std::optional<checked_body> check_body(std::string_view body, std::string& error) {
    checked_body out{canonical_json(body, {}, [](const json_tokens& t) { return t.size() <= 2; }),
                     {}};
    if (!out.text.ok()) {
        const auto& where = out.text.error_path;
        error = where.empty() ? "body: " + out.text.error
                              : out.text.message(where.starts_with('[') ? "events" : "");
        return std::nullopt;
    }
    json::error_code ec;
    out.doc = json::parse(out.text.text, ec);
    if (ec) {
        error = "body: not valid JSON (" + ec.message() + ")";
        return std::nullopt;
    }
    return out;
}

template <class Build>
parse_result parse_events(std::string_view body, const std::vector<std::string>& redact_keys,
                          Build build) {
    parse_result out;
    std::string error;
    const auto checked = check_body(body, error);
    if (!checked) return {{}, error};
    const auto& doc = checked->doc;
    std::vector<const json::object*> items;
    if (doc.is_object()) {
        items.push_back(&doc.as_object());
    } else if (doc.is_array()) {
        if (doc.as_array().size() > max_api_batch)
            return {{}, "body: more than " + std::to_string(max_api_batch) + " events"};
        for (const auto& v : doc.as_array()) {
            if (!v.is_object()) return {{}, "events: every item must be an object"};
            items.push_back(&v.as_object());
        }
    } else {
        return {{}, "body: expected an object or an array of objects"};
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto index = "[" + std::to_string(i) + "]";
        field_reader f{*items[i],
                       doc.is_array() ? "events" + index + "." : "",
                       doc.is_array() ? index : "",
                       checked->text,
                       redact_keys,
                       {}};
        auto ev = build(f);
        if (!f.error.empty()) return {{}, f.error};
        normalize(ev);
        out.events.push_back(std::move(ev));
    }
    if (out.events.empty()) out.error = "body: no events";
    return out;
}

// One decoded parameter of GET /v1/events into `f`; false with `error` naming it.
bool apply_parameter(query_filter& f, const std::string& name, const std::string& value,
                     std::string& error) {
    const auto number = [&](auto& out) {
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
        return ec == std::errc{} && p == value.data() + value.size();
    };
    if (name == "table") {
        f.table = parse_table(value);
        if (!f.table) error = "table: expected audit_log or security_audit";
        // Compared with stored values, which are sanitized (a backslash doubled, controls escaped):
        // the filter is spelled the same way, so CORP\alice finds the rows of CORP\alice.
    } else if (name == "user_id") {
        f.user_id = sanitize(value);
    } else if (name == "entity_type") {
        f.entity_type = sanitize(value);
    } else if (name == "entity_id") {
        f.entity_id = sanitize(value);
    } else if (name == "event_type") {
        f.event_type = sanitize(value);
    } else if (name == "since" || name == "until") {
        auto t = parse_client_time(value);
        if (!t) error = name + ": expected an ISO-8601 time such as 2026-11-01T12:00:00Z";
        (name == "since" ? f.since : f.until) = t;
    } else if (name == "after_seq") {
        if (!number(f.after_seq) || f.after_seq < 0)
            error = "after_seq: expected a non-negative integer";
    } else if (name == "limit") {
        if (!number(f.limit) || f.limit == 0)
            error = "limit: expected a positive integer";
        else if (f.limit > query_filter::max_limit)
            error = "limit: at most " + std::to_string(query_filter::max_limit);
    } else {
        error = name + ": unknown parameter";
    }
    return error.empty();
}

}  // namespace

bool token_matches(std::string_view authorization, std::string_view token) {
    // The scheme is case-insensitive (RFC 9110 §11.1).
    constexpr std::string_view bearer = "bearer ";
    if (token.empty() || authorization.size() < bearer.size()) return false;
    for (std::size_t i = 0; i < bearer.size(); ++i) {
        const char c = authorization[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != bearer[i]) return false;
    }
    const auto given = authorization.substr(bearer.size());
    // Length is not secret; the bytes are compared in constant time.
    return given.size() == token.size() &&
           CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

parse_result parse_audit_events(std::string_view json_body,
                                const std::vector<std::string>& redact_keys) {
    return parse_events(json_body, redact_keys, [](field_reader& f) -> event {
        f.refuse_unknown({"user_id", "action", "entity_type", "entity_id", "changes", "ip_address",
                          "user_agent", "event_id", "created_at", "request_id", "trace_id"});
        audit_event ev;
        ev.action = f.text("action", true);
        ev.user_id = f.text("user_id");
        ev.entity_type = f.text("entity_type");
        ev.entity_id = f.text("entity_id");
        ev.changes = f.json_object("changes");
        ev.ip_address = f.text("ip_address", false, 64);
        ev.user_agent = f.text("user_agent", false, max_user_agent_bytes);
        ev.event_id = f.event_id();
        ev.created_at = f.time("created_at");
        ev.request_id = f.text("request_id", false, 128);
        ev.trace_id = f.trace_id();
        ev.source = event_source::api;
        return ev;
    });
}

parse_result parse_security_events(std::string_view json_body,
                                   const std::vector<std::string>& redact_keys) {
    return parse_events(json_body, redact_keys, [](field_reader& f) -> event {
        f.refuse_unknown({"event_type", "user_id", "ip_address", "success", "details", "event_id",
                          "created_at", "request_id", "trace_id"});
        security_event ev;
        ev.event_type = f.text("event_type", true);
        ev.user_id = f.text("user_id");
        ev.ip_address = f.text("ip_address", false, 64);
        if (const auto* s = f.o.if_contains("success")) {
            if (!s->is_bool()) f.fail(f.prefix + "success: expected a boolean");
            ev.success = s->is_bool() && s->as_bool();
        }
        ev.details = f.json_object("details");
        ev.event_id = f.event_id();
        ev.created_at = f.time("created_at");
        ev.request_id = f.text("request_id", false, 128);
        ev.trace_id = f.trace_id();
        ev.source = event_source::api;
        return ev;
    });
}

std::optional<query_filter> parse_query(std::string_view query, std::string& error) {
    query_filter f;
    error.clear();
    std::vector<std::string> seen;
    // '+' is a space in a query string; any '%' must start a valid escape.
    const auto decode = [](std::string_view raw, std::string& out) {
        auto decoded = util::percent_decoded(raw, true);
        if (!decoded) return false;
        out = std::move(*decoded);
        return true;
    };
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        std::string name, value;
        if (!decode(pair.substr(0, eq), name)) {
            error = sanitize(pair.substr(0, eq), max_name_bytes) + ": malformed percent-encoding";
            return std::nullopt;
        }
        name = sanitize(name, max_name_bytes);
        if (eq != std::string_view::npos && !decode(pair.substr(eq + 1), value)) {
            error = name + ": malformed percent-encoding";
            return std::nullopt;
        }
        if (name.empty()) {
            if (value.empty()) continue;  // "a=1&&b=2"
            error = "query: a parameter without a name";
            return std::nullopt;
        }
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
            error = name + ": repeated parameter";
            return std::nullopt;
        }
        seen.push_back(name);
        if (!apply_parameter(f, name, value, error)) return std::nullopt;
    }
    return f;
}

std::string events_json(const std::vector<stored_event>& rows, std::int64_t after_seq) {
    json::array events;
    for (const auto& row : rows) events.push_back(to_json(row));
    json::object o;
    o["events"] = std::move(events);
    // An empty page leaves the client where it was: following next_after_seq never goes back.
    o["next_after_seq"] = rows.empty() ? after_seq : rows.back().seq;
    return json::serialize(o) + "\n";
}

}  // namespace sidelight::audit
