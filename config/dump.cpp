// dump(): the effective configuration as YAML that load_string reads back to an equal config.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <ostream>
#include <sstream>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

// A literal `$` would be taken for ${ENV} on reload.
std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        out += c;
        if (c == '$') out += '$';
    }
    return out;
}

std::string format_duration(duration d) {
    auto ms = d.count();
    if (ms == 0) return "0";
    if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
    static constexpr std::pair<const char*, std::uint64_t> units[] = {
        {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}};
    for (const auto& [name, factor] : units)
        if (bytes != 0 && bytes % factor == 0) return std::to_string(bytes / factor) + name;
    return std::to_string(bytes);
}

std::string format_number(double value) {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, end);
}

std::string format_status(const status_range& s) {
    if (s.low == s.high) return std::to_string(s.low);
    if (s.low % 100 == 0 && s.high == s.low + 99) return std::to_string(s.low / 100) + "xx";
    return std::to_string(s.low) + "-" + std::to_string(s.high);
}

std::string format_source(const value_source& v) {
    switch (v.from) {
        case value_source::kind::path_param:
            return "path:" + v.key;
        case value_source::kind::header:
            return "header:" + v.key;
        case value_source::kind::jwt_claim:
            return "jwt:" + v.key;
        case value_source::kind::request_body:
            return "request:" + v.key;
        case value_source::kind::response_body:
            return "response:" + v.key;
        case value_source::kind::query_param:
            return "query:" + v.key;
        case value_source::kind::status:
            return "status";
        case value_source::kind::status_class:
            return "status_class";
        case value_source::kind::method:
            return "method";
        case value_source::kind::route:
            return "route";
        case value_source::kind::none:
            break;
    }
    return "";
}

void put(YAML::Emitter& out, const char* key, const std::string& value) {
    out << YAML::Key << key << YAML::Value << escape(value);
}
void put(YAML::Emitter& out, const char* key, duration value) {
    put(out, key, format_duration(value));
}
void put_bool(YAML::Emitter& out, const char* key, bool value) {
    out << YAML::Key << key << YAML::Value << (value ? "true" : "false");
}
void put_count(YAML::Emitter& out, const char* key, std::uint64_t value) {
    out << YAML::Key << key << YAML::Value << std::to_string(value);
}
void put_size(YAML::Emitter& out, const char* key, std::uint64_t value) {
    put(out, key, format_size(value));
}

void put_list(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& item : items) out << escape(item);
    out << YAML::EndSeq;
}

void put_status(YAML::Emitter& out, const char* key, const std::vector<status_range>& items) {
    if (items.empty()) return;  // any status: the key left out (an empty list is refused)
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& item : items) out << format_status(item);
    out << YAML::EndSeq;
}

void put_source(YAML::Emitter& out, const char* key, const value_source& v) {
    if (v.from != value_source::kind::none) put(out, key, format_source(v));
}

void begin(YAML::Emitter& out, const char* key) {
    out << YAML::Key << key << YAML::Value << YAML::BeginMap;
}

void emit_match(YAML::Emitter& out, const rule_match& m) {
    begin(out, "match");
    put_list(out, "routes", m.routes);
    put_list(out, "methods", m.methods);
    put_status(out, "status", m.status);
    out << YAML::EndMap;
}

void emit_upstream(YAML::Emitter& out, const upstream_config& u) {
    begin(out, "upstream");
    put(out, "address", u.address.to_string());
    put(out, "connect_timeout", u.connect_timeout);
    put(out, "response_timeout", u.response_timeout);
    put(out, "idle_timeout", u.idle_timeout);
    put_count(out, "max_idle", u.max_idle);
    put_bool(out, "tls", u.tls.enabled);
    if (!u.tls.sni.empty()) put(out, "sni", u.tls.sni);
    if (!u.tls.ca_file.empty()) put(out, "ca_file", u.tls.ca_file);
    out << YAML::EndMap;
}

void emit_servers(YAML::Emitter& out, const config& cfg) {
    begin(out, "proxy");
    put(out, "listen", cfg.proxy.listen.to_string());
    put_count(out, "workers", cfg.proxy.workers);
    put_count(out, "max_connections", cfg.proxy.max_connections);
    put_list(out, "trusted_proxies", cfg.proxy.trusted_proxies);
    out << YAML::EndMap;
    emit_upstream(out, cfg.upstream);
    begin(out, "admin");
    put(out, "listen", cfg.admin.listen.to_string());
    out << YAML::Key << "token" << YAML::Value << (cfg.admin.token.empty() ? "" : "<redacted>");
    put_bool(out, "status", cfg.admin.status);
    out << YAML::EndMap;
    begin(out, "health");
    put(out, "interval", cfg.health.interval);
    put(out, "timeout", cfg.health.timeout);
    put(out, "path", cfg.health.path);
    put_count(out, "unhealthy_threshold", cfg.health.unhealthy_threshold);
    put_count(out, "healthy_threshold", cfg.health.healthy_threshold);
    out << YAML::EndMap;
    begin(out, "shutdown");
    put(out, "delay", cfg.shutdown.delay);
    put(out, "grace", cfg.shutdown.grace);
    out << YAML::EndMap;
}

void emit_limits_metrics(YAML::Emitter& out, const config& cfg) {
    const auto& l = cfg.limits;
    begin(out, "limits");
    put(out, "header_read_timeout", l.header_read_timeout);
    put(out, "keepalive_timeout", l.keepalive_timeout);
    put(out, "body_idle_timeout", l.body_idle_timeout);
    put(out, "body_read_timeout", l.body_read_timeout);
    put(out, "tunnel_idle_timeout", l.tunnel_idle_timeout);
    put_size(out, "max_url_bytes", l.max_url_bytes);
    put_size(out, "max_header_bytes", l.max_header_bytes);
    put_count(out, "max_header_count", l.max_header_count);
    put_size(out, "max_body_bytes", l.max_body_bytes);
    out << YAML::EndMap;
    begin(out, "metrics");
    put(out, "prefix", cfg.metrics.prefix);
    out << YAML::Key << "buckets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (double b : cfg.metrics.buckets) out << format_number(b);
    out << YAML::EndSeq;
    put_bool(out, "traffic", cfg.metrics.traffic);
    begin(out, "const_labels");
    for (const auto& [name, value] : cfg.metrics.const_labels) put(out, name.c_str(), value);
    out << YAML::EndMap;
    out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const auto& r : cfg.metrics.rules) {
        out << YAML::BeginMap;
        put(out, "name", r.name);
        put(out, "type", r.type == metric_rule::kind::counter ? "counter" : "histogram");
        put(out, "help", r.help);
        if (!r.buckets.empty()) {
            out << YAML::Key << "buckets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (double b : r.buckets) out << format_number(b);
            out << YAML::EndSeq;
        }
        if (!r.match.listener.empty()) put(out, "listener", r.match.listener);
        emit_match(out, r.match);
        put_source(out, "value", r.value);
        begin(out, "labels");
        for (const auto& l : r.labels) {
            begin(out, l.name.c_str());
            put_source(out, "from", l.from);
            if (!l.values.empty()) put_list(out, "values", l.values);
            if (!l.map.empty()) {
                begin(out, "map");
                for (const auto& [from, to] : l.map) put(out, from.c_str(), to);
                out << YAML::EndMap;
            }
            if (l.other) put(out, "other", *l.other);
            out << YAML::EndMap;
        }
        out << YAML::EndMap << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
}

void emit_egress(YAML::Emitter& out, const std::vector<egress_config>& egress) {
    if (egress.empty()) return;
    out << YAML::Key << "egress" << YAML::Value << YAML::BeginSeq;
    for (const auto& e : egress) {
        out << YAML::BeginMap;
        put(out, "name", e.name);
        put(out, "listen", e.listen.to_string());
        emit_upstream(out, e.upstream);
        out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
        for (const auto& r : e.routes) {
            std::string methods;
            for (const auto& m : r.methods) methods += (methods.empty() ? "" : ",") + m;
            out << (methods.empty() ? r.path_template : methods + " " + r.path_template);
        }
        out << YAML::EndSeq;
        put_count(out, "workers", e.workers);
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
}

void emit_databases(YAML::Emitter& out, const std::vector<database_config>& databases) {
    if (databases.empty()) return;
    out << YAML::Key << "databases" << YAML::Value << YAML::BeginSeq;
    for (const auto& d : databases) {
        out << YAML::BeginMap;
        put(out, "name", d.name);
        put(out, "listen", d.listen.to_string());
        begin(out, "upstream");
        put(out, "address", d.upstream.address.to_string());
        put(out, "tls", std::string(to_string(d.upstream.tls)));
        if (!d.upstream.ca_file.empty()) put(out, "ca_file", d.upstream.ca_file);
        if (!d.upstream.sni.empty()) put(out, "sni", d.upstream.sni);
        put(out, "connect_timeout", d.upstream.connect_timeout);
        out << YAML::EndMap;
        begin(out, "tables");
        put_count(out, "max", d.max_tables);
        out << YAML::EndMap;
        put(out, "slow_query", d.slow_query);
        if (!d.audit.empty()) {
            out << YAML::Key << "audit" << YAML::Value << YAML::BeginSeq;
            for (const auto& r : d.audit) {
                out << YAML::BeginMap;
                put(out, "name", r.name);
                begin(out, "match");
                if (!r.operations.empty()) put_list(out, "operations", r.operations);
                if (!r.tables.empty()) put_list(out, "tables", r.tables);
                put(out, "outcome", r.outcome);
                out << YAML::EndMap;
                if (!r.action.empty()) put(out, "action", r.action);
                if (!r.entity_type.empty()) put(out, "entity_type", r.entity_type);
                out << YAML::EndMap;
            }
            out << YAML::EndSeq;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
}

void emit_slos(YAML::Emitter& out, const std::vector<slo_spec>& slos) {
    if (slos.empty()) return;
    out << YAML::Key << "slos" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : slos) {
        out << YAML::BeginMap;
        put(out, "name", s.name);
        put(out, "route", s.method + " " + s.path_template);
        put(out, "objective", format_number(s.objective) + "%");
        if (s.latency) put(out, "latency", *s.latency);
        put(out, "window", std::to_string(s.window_days) + "d");
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
}

void emit_tracing(YAML::Emitter& out, const tracing_config& t) {
    begin(out, "tracing");
    put_bool(out, "enabled", t.enabled);
    put(out, "service_name", t.service_name);
    put(out, "sampler", std::string(to_string(t.sampler)));
    put(out, "ratio", format_number(t.ratio));
    begin(out, "otlp");
    put(out, "endpoint", redact_endpoint(t.otlp.endpoint));
    put(out, "encoding", t.otlp.encoding == otlp_encoding::json ? "json" : "protobuf");
    put(out, "timeout", t.otlp.timeout);
    put_count(out, "queue_size", t.otlp.queue_size);
    put_count(out, "batch_max", t.otlp.batch_max);
    put(out, "batch_interval", t.otlp.batch_interval);
    out << YAML::EndMap << YAML::EndMap;
}

void emit_routes(YAML::Emitter& out, const routes_config& r) {
    begin(out, "routes");
    put(out, "openapi", r.openapi_file);
    put(out, "unmatched", r.unmatched == unmatched_mode::label ? "label" : "normalize");
    put_count(out, "max_routes", r.max_routes);
    put_bool(out, "case_sensitive", r.case_sensitive);
    out << YAML::Key << "entries" << YAML::Value << YAML::BeginSeq;
    for (const auto& e : r.entries) {
        out << YAML::BeginMap;
        put(out, "template", e.path_template);
        put_list(out, "methods", e.methods);
        if (!e.name.empty()) put(out, "name", e.name);
        out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
}

const char* mode_name(delivery_mode m) {
    return m == delivery_mode::batch ? "batch" : "strict";
}

// Only a section that verifies is printed: an empty one is refused on reload. The secret is
// never in the config, only the name of the variable holding it.
void emit_jwt(YAML::Emitter& out, const jwt_config& j) {
    if (!j.verifies()) return;
    begin(out, "jwt");
    if (!j.key_file.empty()) put(out, "key_file", j.key_file);
    if (!j.hmac_secret_env.empty()) put(out, "hmac_secret_env", j.hmac_secret_env);
    if (!j.algorithms.empty()) put_list(out, "algorithms", j.algorithms);
    put(out, "leeway", j.leeway);
    if (!j.issuer.empty()) put(out, "issuer", j.issuer);
    if (!j.audience.empty()) put(out, "audience", j.audience);
    out << YAML::EndMap;
}

void emit_audit(YAML::Emitter& out, const audit_config& a) {
    begin(out, "audit");
    begin(out, "store");
    put(out, "type", a.store.type);
    if (a.store.type == "postgres") {
        put(out, "dsn", redact_dsn(a.store.dsn));
        put(out, "chain", a.store.chain);
        put_count(out, "forward_batch", a.store.forward_batch);
        begin(out, "spool");
        put(out, "path", a.store.spool.path);
        put_size(out, "max_bytes", a.store.spool.max_bytes);
        out << YAML::EndMap;
    } else {
        put(out, "path", a.store.path);
    }
    put(out, "synchronous", a.store.synchronous);
    put_size(out, "wal_max_bytes", a.store.wal_max_bytes);
    out << YAML::EndMap;
    put_count(out, "queue_size", a.queue_size);
    put_count(out, "batch_max", a.batch_max);
    put(out, "batch_interval", a.batch_interval);
    put(out, "strict_timeout", a.strict_timeout);
    put_size(out, "max_body_bytes", a.max_body_bytes);
    put_list(out, "redact_keys", a.redact_keys);
    begin(out, "checkpoint");
    put_count(out, "every_events", a.checkpoint.every_events);
    put(out, "every", a.checkpoint.every);
    put(out, "key_file", a.checkpoint.key_file);
    out << YAML::EndMap;
    emit_jwt(out, a.jwt);
    out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const auto& r : a.rules) {
        out << YAML::BeginMap;
        if (!r.name.empty()) put(out, "name", r.name);
        if (!r.match.listener.empty()) put(out, "listener", r.match.listener);
        emit_match(out, r.match);
        put(out, "action", r.action);
        if (!r.entity_type.empty()) put(out, "entity_type", r.entity_type);
        put_source(out, "entity_id", r.entity_id);
        put_source(out, "user", r.user);
        put_bool(out, "changes", r.changes);
        put(out, "mode", mode_name(r.mode));
        out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
}

void emit_security(YAML::Emitter& out, const security_config& s) {
    begin(out, "security");
    begin(out, "builtin");
    put_bool(out, "authn_fail", s.builtin.authn_fail);
    put_bool(out, "authz_fail", s.builtin.authz_fail);
    put_bool(out, "rate_limit", s.builtin.rate_limit);
    out << YAML::EndMap;
    begin(out, "brute_force");
    put_bool(out, "enabled", s.brute_force.enabled);
    put_count(out, "threshold", s.brute_force.threshold);
    put(out, "window", s.brute_force.window);
    out << YAML::EndMap;
    out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const auto& r : s.rules) {
        out << YAML::BeginMap;
        if (!r.name.empty()) put(out, "name", r.name);
        if (!r.match.listener.empty()) put(out, "listener", r.match.listener);
        emit_match(out, r.match);
        put(out, "event_type", r.event_type);
        if (!r.owasp.empty()) put(out, "owasp", r.owasp);
        begin(out, "success");
        put_status(out, "status", r.success_status);
        out << YAML::EndMap;
        put_source(out, "user", r.user);
        put_bool(out, "login", r.login);
        put(out, "mode", mode_name(r.mode));
        out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
}

}  // namespace

std::string_view to_string(log_format f) {
    switch (f) {
        case log_format::text:
            return "text";
        case log_format::json:
            return "json";
        case log_format::automatic:
            break;
    }
    return "auto";
}

std::string_view to_string(database_io io) {
    switch (io) {
        case database_io::io_uring:
            return "io_uring";
        case database_io::epoll:
            return "epoll";
        case database_io::automatic:
            break;
    }
    return "auto";
}

std::string dump(const config& cfg) {
    std::ostringstream text;
    dump(cfg, text);
    return text.str();
}

void dump(const config& cfg, std::ostream& stream) {
    YAML::Emitter out(stream);  // straight to the stream: no copy of a large config's text
    out << YAML::BeginMap;
    emit_servers(out, cfg);
    emit_limits_metrics(out, cfg);
    emit_routes(out, cfg.routes);
    emit_audit(out, cfg.audit);
    emit_security(out, cfg.security);
    emit_egress(out, cfg.egress);
    emit_databases(out, cfg.databases);
    emit_slos(out, cfg.slos);
    emit_tracing(out, cfg.tracing);
    put(out, "database_io", std::string(to_string(cfg.database_io)));
    put_bool(out, "access_log", cfg.access_log);
    put(out, "log_level", cfg.log_level);
    put(out, "log_format", std::string(to_string(cfg.log_format)));
    put_bool(out, "config_watch", cfg.config_watch);
    out << YAML::EndMap;
    stream << "\n";
}

}  // namespace sidelight::config
