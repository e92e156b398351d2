#include "audit/event_api.hpp"

#include <openssl/crypto.h>

#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "audit/cli.hpp"
#include "audit/redact.hpp"
#include "audit/uuid.hpp"

namespace sidelight::audit {
namespace {

namespace json = boost::json;
constexpr std::size_t max_field_bytes = 1024;

struct field_reader {
    const json::object& o;
    std::string prefix;  // "events[2]."
    const std::vector<std::string>& redact_keys;
    std::string error;

    // A string field; `required` ones must be present and non-empty.
    std::string text(const char* name, bool required = false, std::size_t cap = max_field_bytes) {
        const auto* v = o.if_contains(name);
        if (!v || v->is_null()) {
            if (required && error.empty()) error = prefix + name + ": required";
            return "";
        }
        if (!v->is_string()) {
            if (error.empty()) error = prefix + name + ": expected a string";
            return "";
        }
        auto s = sanitize(v->as_string(), cap);
        if (required && s.empty() && error.empty()) error = prefix + name + ": required";
        return s;
    }
    // JSON text, with the values of redacted keys replaced at any depth as in rule-captured
    // bodies (secrets are never stored, whoever sends them). A string is stored as a JSON
    // string; one that holds a JSON object or array (an app's JSON.stringify) is redacted
    // inside. Serializing escapes every control character.
    std::string json_text(const char* name) {
        const auto* v = o.if_contains(name);
        if (!v || v->is_null()) return "";
        if (v->is_string()) {
            json::error_code ec;
            auto inner = json::parse(v->as_string(), ec);
            if (ec || !(inner.is_object() || inner.is_array()))
                return json::serialize(json::value(sanitize(v->as_string())));
            redact_json(inner, redact_keys);
            return json::serialize(json::value(json::serialize(inner)));
        }
        auto copy = *v;
        redact_json(copy, redact_keys);
        return json::serialize(copy);
    }
    time_point time(const char* name) {
        const auto s = text(name);
        if (s.empty()) return {};
        auto t = parse_time(s);
        if (!t && error.empty()) error = prefix + name + ": expected an ISO-8601 UTC time";
        return t.value_or(time_point{});
    }
    std::string event_id() {
        auto id = text("event_id");
        if (!id.empty() && !is_uuid(id) && error.empty())
            error = prefix + "event_id: expected a UUID";
        return id;
    }
};

template <class Build>
parse_result parse_events(std::string_view body, const std::vector<std::string>& redact_keys,
                          Build build) {
    parse_result out;
    json::error_code ec;
    const auto doc = json::parse(body, ec);
    if (ec) return {{}, "body: not valid JSON (" + ec.message() + ")"};
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
        field_reader f{
            *items[i], doc.is_array() ? "events[" + std::to_string(i) + "]." : "", redact_keys, {}};
        auto ev = build(f);
        if (!f.error.empty()) return {{}, f.error};
        normalize(ev);
        out.events.push_back(std::move(ev));
    }
    if (out.events.empty()) out.error = "body: no events";
    return out;
}

}  // namespace

bool token_matches(std::string_view authorization, std::string_view token) {
    constexpr std::string_view bearer = "Bearer ";
    if (token.empty() || !authorization.starts_with(bearer)) return false;
    const auto given = authorization.substr(bearer.size());
    // Length is not secret; the bytes are compared in constant time.
    return given.size() == token.size() &&
           CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

parse_result parse_audit_events(std::string_view json_body,
                                const std::vector<std::string>& redact_keys) {
    return parse_events(json_body, redact_keys, [](field_reader& f) -> event {
        audit_event ev;
        ev.action = f.text("action", true);
        ev.user_id = f.text("user_id");
        ev.entity_type = f.text("entity_type");
        ev.entity_id = f.text("entity_id");
        ev.changes = f.json_text("changes");
        ev.ip_address = f.text("ip_address", false, 64);
        ev.user_agent = f.text("user_agent", false, max_user_agent_bytes);
        ev.event_id = f.event_id();
        ev.created_at = f.time("created_at");
        ev.request_id = f.text("request_id", false, 128);
        ev.source = event_source::api;
        return ev;
    });
}

parse_result parse_security_events(std::string_view json_body,
                                   const std::vector<std::string>& redact_keys) {
    return parse_events(json_body, redact_keys, [](field_reader& f) -> event {
        security_event ev;
        ev.event_type = f.text("event_type", true);
        ev.user_id = f.text("user_id");
        ev.ip_address = f.text("ip_address", false, 64);
        if (const auto* s = f.o.if_contains("success")) {
            if (!s->is_bool() && f.error.empty())
                f.error = f.prefix + "success: expected a boolean";
            ev.success = s->is_bool() && s->as_bool();
        }
        ev.details = f.json_text("details");
        ev.event_id = f.event_id();
        ev.created_at = f.time("created_at");
        ev.request_id = f.text("request_id", false, 128);
        ev.source = event_source::api;
        return ev;
    });
}

std::optional<query_filter> parse_query(std::string_view query, std::string& error) {
    query_filter f;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const auto name = pair.substr(0, eq);
        const auto raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        std::string value;
        for (std::size_t i = 0; i < raw.size(); ++i) {  // percent-decoding
            if (raw[i] == '%' && i + 2 < raw.size()) {
                int byte = 0;
                if (std::from_chars(raw.data() + i + 1, raw.data() + i + 3, byte, 16).ec ==
                    std::errc{}) {
                    value += static_cast<char>(byte);
                    i += 2;
                    continue;
                }
            }
            value += raw[i] == '+' ? ' ' : raw[i];
        }
        const auto number = [&](auto& out) {
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
            return ec == std::errc{} && p == value.data() + value.size();
        };
        if (name == "table") {
            f.table = parse_table(value);
            if (!f.table) error = "table: expected audit_log or security_audit";
        } else if (name == "user_id")
            f.user_id = value;
        else if (name == "entity_type")
            f.entity_type = value;
        else if (name == "entity_id")
            f.entity_id = value;
        else if (name == "event_type")
            f.event_type = value;
        else if (name == "since" || name == "until") {
            auto t = parse_time(value);
            if (!t) error = std::string(name) + ": expected an ISO-8601 UTC time";
            (name == "since" ? f.since : f.until) = t;
        } else if (name == "after_seq") {
            if (!number(f.after_seq)) error = "after_seq: expected an integer";
        } else if (name == "limit") {
            if (!number(f.limit) || f.limit == 0) error = "limit: expected a positive integer";
            f.limit = std::min(f.limit, query_filter::max_limit);
        } else if (!name.empty()) {
            error = std::string(name) + ": unknown parameter";
        }
        if (!error.empty()) return std::nullopt;
    }
    return f;
}

std::string events_json(const std::vector<stored_event>& rows) {
    json::array events;
    for (const auto& row : rows) events.push_back(to_json(row));
    json::object o;
    o["events"] = std::move(events);
    o["next_after_seq"] = rows.empty() ? 0 : rows.back().seq;
    return json::serialize(o) + "\n";
}

}  // namespace sidelight::audit
