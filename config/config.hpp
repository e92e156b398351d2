#pragma once
// sidelight's configuration as plain data: one struct per YAML section, every field with its
// documented default. A `config` is immutable once loaded and is shared between threads as
// `std::shared_ptr<const config>`; a reload builds a new one and swaps the pointer.
//
// The YAML shape (every key optional unless marked):
//
//   proxy:    {listen, workers, max_connections, trusted_proxies}
//   upstream: {address (required), connect_timeout, response_timeout, idle_timeout, max_idle}
//   admin:    {listen, token}
//   health:   {interval, timeout, path, unhealthy_threshold, healthy_threshold}
//   shutdown: {delay, grace}
//   limits:   {header_read_timeout, keepalive_timeout, body_idle_timeout, body_read_timeout,
//              tunnel_idle_timeout,
//              max_url_bytes, max_header_bytes, max_header_count, max_body_bytes}
//   metrics:  {prefix, buckets, const_labels, traffic, rules}
//   egress:   list of {name, listen, upstream, routes, workers}
//   databases: list of {name, listen, upstream {address, tls, ca_file, sni, connect_timeout},
//              tables {max}, slow_query}
//   slos:     list of {name, route, objective, latency, window}
//   tracing:  {enabled, service_name, sampler, ratio, otlp {endpoint, encoding, timeout,
//              queue_size, batch_max, batch_interval}}
//   routes:   list of entries, or {openapi, unmatched, max_routes, case_sensitive, entries}
//   audit:    {store, queue_size, batch_max, batch_interval, strict_timeout, max_body_bytes,
//              redact_keys, checkpoint, jwt, rules}
//   security: {builtin, brute_force, rules}
//   database_io, access_log, log_level, log_format, config_watch
//
// docs/CONFIG.md is the reference; `sidelight check` prints the effective config.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/trace_context.hpp"

namespace sidelight::config {

using duration = std::chrono::milliseconds;

// The name of a file values came from, shared by every mark of that file (a config of 100k
// routes has 100k marks: each with its own copy of the name cost 3 MB and more).
class source_file {
  public:
    source_file() = default;
    source_file(std::string name)  // NOLINT: implicit, a name is a file
        : name_(std::make_shared<const std::string>(std::move(name))) {}
    source_file(const char* name) : source_file(std::string(name)) {}  // NOLINT

    const std::string& str() const { return name_ ? *name_ : empty_name(); }
    operator const std::string&() const { return str(); }  // NOLINT
    bool empty() const { return str().empty(); }
    const char* c_str() const { return str().c_str(); }

    friend bool operator==(const source_file& a, const source_file& b) {
        return a.name_ == b.name_ || a.str() == b.str();
    }
    friend bool operator==(const source_file& a, const std::string& b) { return a.str() == b; }
    friend bool operator==(const source_file& a, const char* b) { return a.str() == b; }
    friend std::ostream& operator<<(std::ostream& out, const source_file& f) {
        return out << f.str();
    }

  private:
    static const std::string& empty_name() {
        static const std::string empty;
        return empty;
    }
    std::shared_ptr<const std::string> name_;
};

// Where a value came from in the YAML file, for errors raised after parsing
// (e.g. the route table rejecting a duplicate template).
//
// Two marks always compare equal: a mark says where a setting was written, not what it is, so
// the structs that hold one compare by their settings alone. A reload that only moved lines (a
// key added above) changes nothing; compare file, line and column to tell marks apart.
struct source_mark {
    source_file file;
    int line = 0;    // 1-based; 0 when the value is a default
    int column = 0;  // 1-based

    bool operator==(const source_mark&) const { return true; }
};

// `host:port`, `[v6]:port` or `dns-name:port`. The host is kept as written and resolved when
// the listener or the upstream pool starts.
struct address {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;  // round-trips through the parser ("[::1]:80" for IPv6)

    bool operator==(const address&) const = default;
};

struct proxy_config {
    address listen{"0.0.0.0", 8080};
    unsigned workers = 0;                 // 0: the cgroup CPU limit, capped by hardware_concurrency
    std::size_t max_connections = 10000;  // beyond it new clients are accepted and closed at once
    std::vector<std::string> trusted_proxies;  // CIDRs, validated at load ("10.0.0.0/8", "::1/128")

    bool operator==(const proxy_config&) const = default;
};

// TLS from sidelight to its upstream (`tls: true`): the certificate is verified against
// `ca_file` (PEM), or the system's trust store when it is empty, for the name `sni` (default:
// the address's host); the same name goes out as SNI. There is no switch to skip verification.
struct upstream_tls {
    bool enabled = false;
    std::string sni;
    std::string ca_file;
    source_mark ca_file_mark;

    bool operator==(const upstream_tls&) const = default;
};

struct upstream_config {
    config::address address{"127.0.0.1", 3000};  // qualified: GCC rejects `address address`
    duration connect_timeout{1000};
    duration response_timeout{30000};  // request fully sent -> response header received
    duration idle_timeout{60000};      // a pooled idle connection is closed after this
    std::size_t max_idle = 64;         // idle pooled connections kept per worker
    upstream_tls tls;

    bool operator==(const upstream_config&) const = default;
};

struct admin_config {
    address listen{"0.0.0.0", 9901};
    std::string token;   // bearer token for /v1/*; empty: the event API answers 401 to everyone
    bool status = true;  // the status page (/, /status, /status.json) and its sampler

    bool operator==(const admin_config&) const = default;
};

struct health_config {
    duration interval{5000};
    duration timeout{1000};
    std::string path;  // empty: a TCP connect; otherwise `GET path` must answer 2xx/3xx
    unsigned unhealthy_threshold = 3;  // consecutive failed probes before reachable -> not
    unsigned healthy_threshold = 1;    // consecutive good probes before not -> reachable

    bool operator==(const health_config&) const = default;
};

struct shutdown_config {
    duration delay{2000};   // keep serving after SIGTERM while /readyz is 503
    duration grace{20000};  // in-flight requests get this long to finish after the delay

    bool operator==(const shutdown_config&) const = default;
};

struct limits_config {
    duration header_read_timeout{10000};  // slowloris: whole request header within this
    duration keepalive_timeout{60000};    // idle client connection between requests
    duration body_idle_timeout{60000};    // no body byte either way for this long
    duration body_read_timeout{60000};    // whole request body, from its head; 0: no bound
    duration tunnel_idle_timeout{3600000};
    std::size_t max_url_bytes = 8 * 1024;      // request line target -> 414
    std::size_t max_header_bytes = 64 * 1024;  // whole header block -> 431
    std::size_t max_header_count = 100;        // -> 431
    std::uint64_t max_body_bytes = 0;          // 0: unlimited; otherwise -> 413

    bool operator==(const limits_config&) const = default;
};

// One `routes` entry: "GET /api/products/{id}" or {template, methods, name}.
struct route_spec {
    std::string path_template;         // "/api/products/{id}", ":id" accepted too
    std::vector<std::string> methods;  // upper case; empty: any method
    std::string name;                  // optional label for `sidelight routes`
    source_mark mark;

    bool operator==(const route_spec&) const = default;
};

enum class unmatched_mode { label, normalize };

struct routes_config {
    std::string openapi_file;  // OpenAPI 3 / Swagger 2, YAML or JSON; relative to the config file
    source_mark openapi_mark;  // where `openapi` was written, for a file that cannot be read
    unmatched_mode unmatched = unmatched_mode::label;
    // Literal segments match case-insensitively (ASCII) unless true, as Express's router does;
    // labels stay the configured template and parameter values keep the client's case.
    bool case_sensitive = false;
    std::size_t max_routes = 100;  // cap on normalized templates before falling back to label
    std::vector<route_spec> entries;

    bool operator==(const routes_config&) const = default;
};

// Where a value is taken from: `path:id`, `header:X-User`, `query:page`, `jwt:sub`,
// `request:/user/id` (JSON pointer into the request body), `response:/id` (into the response
// body); metric rules also read the exchange itself: `status` (201), `status_class` (2xx),
// `method` and `route` (the template).
struct value_source {
    enum class kind {
        none,
        path_param,
        header,
        query_param,
        jwt_claim,
        request_body,
        response_body,
        status,
        status_class,
        method,
        route
    };
    kind from = kind::none;
    std::string key;
    source_mark mark;  // where it was written: a `path:` name no matched route has is refused

    // What is read, not where it was written.
    bool operator==(const value_source& o) const { return from == o.from && key == o.key; }
};

// A status matcher: exact codes, ranges and classes ("2xx"), as written in `status:`.
struct status_range {
    int low = 0;
    int high = 0;  // inclusive

    bool operator==(const status_range&) const = default;
};

struct rule_match {
    std::string listener;              // the rule's `listener`: "" the proxy, or an egress name
    std::vector<std::string> routes;   // route templates as configured; empty: any route
    std::vector<std::string> methods;  // empty: any method
    std::vector<status_range> status;  // empty: any status
    source_mark listener_mark;

    bool operator==(const rule_match&) const = default;
};

// One label of a metric rule, always over a closed set of values, so that no rule can grow the
// number of series without bound: `values` (a value read as one of them is kept, anything else,
// a missing one included, becomes `other`) or `map` (read value -> label value; anything else
// becomes `other`, or without `other` the request is skipped and counted).
struct metric_label {
    std::string name;
    value_source from;
    std::vector<std::string> values;
    std::vector<std::pair<std::string, std::string>> map;
    std::optional<std::string> other;
    source_mark mark;

    bool operator==(const metric_label&) const = default;
};

// A business metric read from the traffic: a counter (+1 per matching request, or + `value`)
// or a histogram of `value`, a number read from the request (a JSON number or numeric string).
struct metric_rule {
    enum class kind { counter, histogram };
    std::string name;
    std::string help;
    kind type = kind::counter;
    std::vector<double> buckets;  // histogram; empty: metrics.buckets
    rule_match match;             // match.listener: the rule's `listener`
    value_source value;
    std::vector<metric_label> labels;
    source_mark mark;

    bool operator==(const metric_rule&) const = default;
};

struct metrics_config {
    std::string prefix;  // prepended to every traffic metric name ("" keeps api_latency_ms ...)
    std::vector<double> buckets{10, 50, 100, 200, 500, 1000, 2000, 5000};
    std::map<std::string, std::string> const_labels;  // values may use ${ENV}
    bool traffic = true;  // record the per-request api_* families (off: only for comparisons)
    std::vector<metric_rule> rules;  // business metrics from the traffic (rules/metric_rules)

    bool operator==(const metrics_config&) const = default;
};

enum class delivery_mode { batch, strict };

struct audit_rule {
    std::string name;
    rule_match match;
    std::string action;
    std::string entity_type;
    value_source entity_id;
    value_source user;
    bool changes = false;  // keep the (redacted) request body as `changes`
    delivery_mode mode = delivery_mode::batch;
    source_mark mark;

    bool operator==(const audit_rule&) const = default;
};

struct security_rule {
    std::string name;
    rule_match match;
    std::string event_type;  // the user's name, e.g. LOGIN_ATTEMPT
    std::string owasp;       // OWASP logging vocabulary name, e.g. authn_login_fail
    std::vector<status_range> success_status{{200, 399}};
    value_source user;
    bool login = false;  // feeds the brute-force detector
    delivery_mode mode = delivery_mode::batch;
    source_mark mark;

    bool operator==(const security_rule&) const = default;
};

// `type: postgres`: every event is committed to the local spool first (a SQLite store at
// spool.path, with the settings above), then forwarded to Postgres (docs/AUDIT.md, "Fleet store").
struct spool_config {
    std::string path = "sidelight-spool.db";
    std::uint64_t max_bytes = 1024ull * 1024 * 1024;  // past it, new events are refused

    bool operator==(const spool_config&) const = default;
};

struct store_config {
    std::string type = "sqlite";  // sqlite | postgres (memory is accepted but not built)
    std::string path = "sidelight-audit.db";
    std::string synchronous = "full";  // off | normal | full | extra
    // SQLite: the WAL is checkpointed once it holds this many bytes of pages, and its file is
    // cut back to this size after the checkpoint (docs/AUDIT.md, "Disk sizing").
    std::uint64_t wal_max_bytes = 4 * 1024 * 1024;
    // Postgres: the libpq connection string or URI (after ${VAR} expansion; it may then hold a
    // password, which is never printed: see redact_dsn), this writer's chain and its spool.
    std::string dsn;
    std::string chain = "sidelight";
    spool_config spool;
    std::size_t forward_batch = 2000;  // events per Postgres transaction
    source_mark dsn_mark;
    source_mark type_mark;  // where `type` was written (the file, when it was not)

    bool operator==(const store_config&) const = default;
};

// A libpq connection string or URI as libpq parses it (keyword, value), in libpq's keyword
// order; none when libpq refuses it. redact_dsn: the same with any password replaced by "***",
// for logs, errors and `sidelight check` (keyword=value form).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_dsn(const std::string& dsn);
std::string redact_dsn(const std::string& dsn);
// password and sslpassword (the client key's passphrase): never printed, never in the file.
bool is_secret_dsn_keyword(std::string_view keyword);

struct checkpoint_config {
    std::size_t every_events = 1000;  // 0: off
    duration every{60000};            // 0: off
    std::string key_file;             // Ed25519 private key (PEM); empty: checkpoints are unsigned
    source_mark key_file_mark;        // read (and checked by `sidelight check`) at these marks

    bool operator==(const checkpoint_config&) const = default;
};

// How `jwt:<claim>` value sources treat the `Authorization: Bearer` token. Without a key
// (neither key_file nor hmac_secret_env) a token is only decoded, NOT verified. With one, a claim
// is read only from a token whose signature verifies with that key (the header's `alg` must be
// one the key allows) and whose exp/nbf hold; anything else reads as "". The key itself is read
// when the audit rules are built (rules/jwt_verifier.hpp), which reports errors at these marks.
struct jwt_config {
    std::string key_file;         // PEM public key or certificate (RSA, EC P-256/384/521, Ed25519)
    std::string hmac_secret_env;  // name of the environment variable holding an HS* secret
    std::vector<std::string> algorithms;  // empty: every algorithm the configured keys allow
    duration leeway{60000};               // clock skew allowed on exp and nbf
    std::string issuer;                   // non-empty: `iss` must equal it
    std::string audience;                 // non-empty: `aud` must be or contain it
    source_mark key_file_mark;
    source_mark hmac_secret_env_mark;
    source_mark algorithms_mark;

    bool verifies() const { return !key_file.empty() || !hmac_secret_env.empty(); }
    bool operator==(const jwt_config&) const = default;
};

struct audit_config {
    store_config store;
    std::size_t queue_size = 10000;
    std::size_t batch_max = 256;
    duration batch_interval{20};
    duration strict_timeout{2000};
    std::size_t max_body_bytes = 64 * 1024;
    std::vector<std::string> redact_keys{"password", "passwd",      "token",
                                         "secret",   "api_key",     "card_number",
                                         "cvv",      "private_key", "authorization"};
    checkpoint_config checkpoint;
    jwt_config jwt;
    std::vector<audit_rule> rules;

    bool operator==(const audit_config&) const = default;
};

struct builtin_security {
    bool authn_fail = true;  // 401
    bool authz_fail = true;  // 403
    bool rate_limit = true;  // 429 -> excess_rate_limit_exceeded

    bool operator==(const builtin_security&) const = default;
};

struct brute_force_config {
    bool enabled = true;
    std::size_t threshold = 5;
    duration window{600000};

    bool operator==(const brute_force_config&) const = default;
};

struct security_config {
    builtin_security builtin;
    brute_force_config brute_force;
    std::vector<security_rule> rules;

    bool operator==(const security_config&) const = default;
};

// A second kind of HTTP listener: the app's calls to an outside API (its mail provider) go
// through it when the app is pointed at `listen`. The same proxy as `proxy`, with its own
// upstream (usually `tls: true`), routes and rules (`listener: <name>`); it adds no forwarding
// headers and sends the upstream's own Host.
struct egress_config {
    std::string name;
    address listen;
    upstream_config upstream;
    std::vector<route_spec> routes;
    unsigned workers = 1;
    source_mark mark;

    bool operator==(const egress_config&) const = default;
};

// A PostgreSQL wire listener (`databases` entry, docs/CONFIG.md): the app's DATABASE_URL points
// at `listen`; the bytes go to `upstream` unmodified both ways and every query is timed by
// operation and table (dbproxy/). `tls` is the server side only: sidelight answers the client's
// SSLRequest with 'N' (the app talks plain text to its sidecar on localhost), and with
// prefer/require/verify-full it asks the database for TLS itself; verify-full checks the
// certificate against `ca_file` (or the system's trust store) for the name `sni` (default: the
// address's host).
enum class db_tls { disable, prefer, require, verify_full };
std::string_view to_string(db_tls t);  // "disable", "prefer", "require", "verify-full"

struct database_upstream {
    config::address address{"127.0.0.1", 5432};
    db_tls tls = db_tls::disable;
    std::string ca_file;
    std::string sni;
    duration connect_timeout{5000};
    source_mark ca_file_mark;

    bool operator==(const database_upstream&) const = default;
};

// The closed set of `operation` label values of the database metrics (dbproxy/sql_lexer.hpp
// maps every statement to one of them); audit rules of databases name operations from it.
inline constexpr std::array<std::string_view, 8> db_operations = {
    "select", "insert", "update", "delete", "copy", "ddl", "tx", "other"};

// An audit rule over a database's statements (`databases[].audit`): a statement whose operation
// and table match, with the outcome asked for, becomes an audit_log row carrying the database
// user and the client's address, and its SQL normalized (literals replaced by $n), never a value.
struct db_audit_rule {
    std::string name;
    std::vector<std::string> operations;  // from db_operations; empty: any
    std::vector<std::string> tables;      // compared with the `table` label; empty: any
    std::string outcome = "ok";           // ok | error | any
    std::string action;                   // empty: "db.<operation>"
    std::string entity_type;              // empty: the table
    source_mark mark;

    bool operator==(const db_audit_rule&) const = default;
};

struct database_config {
    std::string name;
    address listen{"127.0.0.1", 6432};
    database_upstream upstream;
    std::size_t max_tables = 200;      // distinct `table` label values; beyond: "other"
    duration slow_query{100};          // a statement slower than this is counted and logged
    std::vector<db_audit_rule> audit;  // first match wins
    source_mark mark;

    bool operator==(const database_config&) const = default;
};

// One service level objective (`slos` entry, docs/SLO.md): for the requests of one configured
// route and method, `objective` percent are good over `window`. Good means faster than
// `latency` (a latency SLO, read from api_latency_ms), or not a 5xx (an availability SLO, read
// from api_requests_total). `sidelight slo rules` turns it into Prometheus rules
// (agent/slo_rules.hpp); the route is checked against the route table by the preflight.
struct slo_spec {
    std::string name;                 // label value `slo`, unique in the file
    std::string method;               // "GET": one method, upper case
    std::string path_template;        // "/api/products": a configured route template, as written
    double objective = 99.9;          // percent, strictly between 0 and 100
    std::optional<duration> latency;  // set: a latency SLO; the bound is a metrics.buckets bound
    unsigned window_days = 28;
    source_mark mark;        // the entry
    source_mark route_mark;  // the `route` value

    bool is_latency() const { return latency.has_value(); }
    bool operator==(const slo_spec&) const = default;
};

// `tracing` (docs/TRACING.md): W3C trace context continued or started per request, the app
// given sidelight's span as its parent, and spans exported with OTLP/HTTP when an endpoint is
// set. Off by default: then `traceparent` passes through untouched, as it always did.
using trace_sampler = util::sampler;
std::string_view to_string(trace_sampler s);  // "parent-based", "always", "never", "ratio"
enum class otlp_encoding { protobuf, json };

struct otlp_config {
    std::string endpoint;  // as written: http://HOST:PORT[/PATH]; empty: spans are not exported
    address target;        // HOST:PORT of the endpoint
    std::string path = "/v1/traces";  // its path; /v1/traces when it has none
    otlp_encoding encoding = otlp_encoding::protobuf;
    duration timeout{2000};         // one export: connect, send, answer
    std::size_t queue_size = 4096;  // requests whose spans wait for export; beyond: dropped
    std::size_t batch_max = 512;    // requests (two spans each) per export
    duration batch_interval{1000};  // the longest a span waits for its batch

    bool operator==(const otlp_config&) const = default;
};

// The endpoint as shown in logs, errors, `sidelight check` and the status page: a userinfo part
// (refused by the loader) as ***, and every query value as *** (`?api-key=***`).
std::string redact_endpoint(std::string_view url);

struct tracing_config {
    bool enabled = false;
    std::string service_name = "sidelight";  // the resource's service.name
    trace_sampler sampler = trace_sampler::parent_based;
    double ratio = 1.0;  // of new traces (parent_based), or of all (ratio); 0..1
    otlp_config otlp;

    bool operator==(const tracing_config&) const = default;
};

// How log lines are written to stderr: `text` (`<time> level=<level> <message>`), `json` (one
// object per line) or `automatic` (the default): json when stderr is not a terminal (a
// container, a pipe to a collector), text when it is.
enum class log_format { automatic, text, json };
std::string_view to_string(log_format f);  // "auto", "text", "json"

// How the database listeners move the bytes of a connection to a server in plain TCP
// (dbproxy/relay.hpp): `io_uring`, `epoll`, or `automatic` (the default): io_uring when the
// kernel gives it (Linux 6.1 and a seccomp profile that allows it), else epoll.
enum class database_io { automatic, io_uring, epoll };
std::string_view to_string(database_io io);  // "auto", "io_uring", "epoll"

struct config {
    std::string file;  // the path it was loaded from ("" for built-in defaults)
    proxy_config proxy;
    upstream_config upstream;
    admin_config admin;
    health_config health;
    shutdown_config shutdown;
    limits_config limits;
    metrics_config metrics;
    routes_config routes;
    audit_config audit;
    security_config security;
    std::vector<egress_config> egress;
    std::vector<database_config> databases;
    std::vector<slo_spec> slos;
    tracing_config tracing;
    sidelight::config::database_io database_io = sidelight::config::database_io::automatic;
    bool access_log = false;
    std::string log_level = "info";  // trace debug info warn error critical off
    sidelight::config::log_format log_format = sidelight::config::log_format::automatic;
    bool config_watch = false;  // reload when the file (or the symlink it is behind) changes

    bool operator==(const config&) const = default;
};

}  // namespace sidelight::config
