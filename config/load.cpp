// Entry points (load_file, load_string) and the parsers of the small top-level sections.
#include "config/load.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <istream>
#include <set>
#include <streambuf>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/yaml_walk.hpp"
#include "util/file.hpp"

namespace sidelight::config {
namespace {

using detail::map_reader;
using detail::node_ref;

// Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on `":" + std::to_string(...)`.
std::string format_error(const source_mark& mark, const std::string& key_path,
                         const std::string& message) {
    std::string out = mark.file.str();
    if (mark.line > 0) {
        out.append(":").append(std::to_string(mark.line));
        out.append(":").append(std::to_string(mark.column));
    }
    out.append(": ");
    if (!key_path.empty()) out.append(key_path).append(": ");
    return out.append(message);
}

proxy_config parse_proxy(const node_ref& n) {
    map_reader m(n, {"listen", "workers", "max_connections", "trusted_proxies"});
    proxy_config out;
    if (auto v = m.get("listen")) out.listen = detail::to_listen_address(*v, true);
    if (auto v = m.get("workers")) out.workers = detail::to_uint(*v, 0, 1024);
    if (auto v = m.get("max_connections")) out.max_connections = detail::to_uint(*v, 1, 10'000'000);
    if (auto v = m.get("trusted_proxies")) {
        for (const auto& item : detail::list_items(*v)) {
            std::string cidr = item.scalar();
            if (!detail::is_cidr(cidr))
                item.fail("expected an IPv4 or IPv6 CIDR like 10.0.0.0/8 or ::1/128, got \"" +
                          cidr + "\"");
            out.trusted_proxies.push_back(cidr);
        }
    }
    return out;
}

}  // namespace

namespace detail {

upstream_config parse_upstream(const node_ref& n) {
    map_reader m(n, {"address", "connect_timeout", "response_timeout", "idle_timeout", "max_idle",
                     "tls", "sni", "ca_file"});
    upstream_config out;
    out.address = detail::to_address(m.require("address"), false);
    if (auto v = m.get("connect_timeout")) out.connect_timeout = detail::to_duration(*v, false);
    if (auto v = m.get("response_timeout")) out.response_timeout = detail::to_duration(*v, false);
    if (auto v = m.get("idle_timeout")) out.idle_timeout = detail::to_duration(*v, true);
    if (auto v = m.get("max_idle")) out.max_idle = detail::to_uint(*v, 0, 100'000);
    if (auto v = m.get("tls")) out.tls.enabled = detail::to_bool(*v);
    if (auto v = m.get("sni")) {
        out.tls.sni = detail::to_nonempty_string(*v);
        if (out.tls.sni.find_first_of(" /:") != std::string::npos)
            v->fail("expected a host name like api.example.com, got \"" + out.tls.sni + "\"");
    }
    if (auto v = m.get("ca_file")) {
        out.tls.ca_file = detail::to_nonempty_string(*v);
        out.tls.ca_file_mark = v->mark;
    }
    for (auto key : {"sni", "ca_file"}) {
        if (!out.tls.enabled && m.get(key)) m.get(key)->fail("applies with tls: true only");
    }
    return out;
}

bool is_label_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    if (name.substr(0, 2) == "__") return false;  // reserved for Prometheus internals
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

bool is_metric_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
    return true;
}

std::vector<double> parse_buckets(const node_ref& n) {
    std::vector<double> out;
    for (const auto& item : detail::list_items(n)) {
        std::string text = item.scalar();
        double value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value))
            item.fail("expected a number, got \"" + text + "\"");
        if (value <= 0) item.fail("bucket bounds must be greater than 0");
        if (!out.empty() && value <= out.back())
            item.fail("bucket bounds must be strictly increasing");
        out.push_back(value);
    }
    if (out.empty()) n.fail("must list at least one bucket bound");
    return out;
}

}  // namespace detail

namespace {

admin_config parse_admin(const node_ref& n) {
    map_reader m(n, {"listen", "token", "status"});
    admin_config out;
    if (auto v = m.get("listen")) out.listen = detail::to_listen_address(*v, true);
    if (auto v = m.get("token")) {
        out.token = detail::to_string(*v);
        if (out.token == "<redacted>")
            v->fail("is the placeholder printed by `sidelight check`; set the real token");
    }
    if (auto v = m.get("status")) out.status = detail::to_bool(*v);
    return out;
}

health_config parse_health(const node_ref& n) {
    map_reader m(n, {"interval", "timeout", "path", "unhealthy_threshold", "healthy_threshold"});
    health_config out;
    if (auto v = m.get("interval")) out.interval = detail::to_duration(*v, false);
    if (auto v = m.get("timeout")) out.timeout = detail::to_duration(*v, false);
    if (auto v = m.get("path")) {
        out.path = detail::to_string(*v);
        if (!out.path.empty() && out.path.front() != '/') v->fail("must start with /");
    }
    if (auto v = m.get("unhealthy_threshold"))
        out.unhealthy_threshold = detail::to_uint(*v, 1, 100);
    if (auto v = m.get("healthy_threshold")) out.healthy_threshold = detail::to_uint(*v, 1, 100);
    return out;
}

shutdown_config parse_shutdown(const node_ref& n) {
    map_reader m(n, {"delay", "grace"});
    shutdown_config out;
    if (auto v = m.get("delay")) out.delay = detail::to_duration(*v, true);
    if (auto v = m.get("grace")) out.grace = detail::to_duration(*v, true);
    return out;
}

limits_config parse_limits(const node_ref& n) {
    map_reader m(n, {"header_read_timeout", "keepalive_timeout", "body_idle_timeout",
                     "body_read_timeout", "tunnel_idle_timeout", "max_url_bytes",
                     "max_header_bytes", "max_header_count", "max_body_bytes"});
    limits_config out;
    auto timeout = [&](std::string_view key, duration& field) {
        if (auto v = m.get(key)) field = detail::to_duration(*v, false);
    };
    timeout("header_read_timeout", out.header_read_timeout);
    timeout("keepalive_timeout", out.keepalive_timeout);
    timeout("body_idle_timeout", out.body_idle_timeout);
    timeout("tunnel_idle_timeout", out.tunnel_idle_timeout);
    if (auto v = m.get("body_read_timeout")) out.body_read_timeout = detail::to_duration(*v, true);
    // The HTTP parser counts a request's head in 32 bits: at most 1 GiB.
    constexpr std::uint64_t max_head = 1ULL << 30;
    if (auto v = m.get("max_url_bytes")) out.max_url_bytes = detail::to_size(*v, 1, max_head);
    if (auto v = m.get("max_header_bytes")) out.max_header_bytes = detail::to_size(*v, 1, max_head);
    if (auto v = m.get("max_header_count")) out.max_header_count = detail::to_uint(*v, 1, 100'000);
    if (auto v = m.get("max_body_bytes")) out.max_body_bytes = detail::to_size(*v, 0);
    return out;
}

bool is_metric_prefix(std::string_view prefix) {
    if (!prefix.empty() && std::isdigit(static_cast<unsigned char>(prefix.front()))) return false;
    for (char c : prefix)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
    return true;
}

metrics_config parse_metrics(const node_ref& n) {
    // Every label a family of ours sets: const_labels go on all of them (agent/metrics.cpp).
    static const std::set<std::string, std::less<>> reserved = {
        "method",  "route",  "status_code", "error_type", "type",     "operation", "table", "le",
        "version", "result", "source",      "reason",     "detector", "listener",  "rule"};
    map_reader m(n, {"prefix", "buckets", "const_labels", "traffic", "rules"});
    metrics_config out;
    if (auto v = m.get("prefix")) {
        out.prefix = detail::to_string(*v);
        if (!is_metric_prefix(out.prefix))
            v->fail("expected a metric name prefix like myapp_ (letters, digits, _ and :)");
    }
    if (auto v = m.get("buckets")) out.buckets = detail::parse_buckets(*v);
    if (auto v = m.get("traffic")) out.traffic = detail::to_bool(*v);
    if (auto v = m.get("const_labels")) {
        for (const auto& entry : detail::map_entries(*v)) {
            if (!detail::is_label_name(entry.key))
                throw config_error(entry.key_mark, entry.value.path,
                                   "not a valid Prometheus label name");
            if (reserved.count(entry.key))
                throw config_error(entry.key_mark, entry.value.path,
                                   "collides with a label sidelight sets itself");
            out.const_labels[entry.key] = detail::to_string(entry.value);
        }
    }
    if (auto v = m.get("rules")) {
        out.rules = detail::parse_metric_rules(*v);
        for (std::size_t i = 0; i < out.rules.size(); ++i) {
            const auto& rule = out.rules[i];
            const auto at = v->path + "[" + std::to_string(i) + "].name";
            // The traffic families carry the prefix: a rule must not take one of their names.
            if (!out.prefix.empty() && rule.name.starts_with(out.prefix)) {
                const std::string_view rest = std::string_view(rule.name).substr(out.prefix.size());
                if (rest.starts_with("api_") || rest.starts_with("active_connections"))
                    throw config_error(rule.mark, at,
                                       "\"" + rule.name +
                                           "\" is in the namespace of the traffic "
                                           "families under metrics.prefix (" +
                                           out.prefix + "api_, " + out.prefix +
                                           "active_connections)");
            }
            // A histogram's series are name_bucket, name_sum and name_count; a counter's
            // OpenMetrics family is its name without _total.
            for (const auto& other : out.rules) {
                if (rule.type == metric_rule::kind::counter && other.name + "_total" == rule.name)
                    throw config_error(rule.mark, at,
                                       "\"" + rule.name + "\" and \"" + other.name +
                                           "\" would be one family (" + other.name +
                                           ") in OpenMetrics");
                if (other.type != metric_rule::kind::histogram) continue;
                for (const char* suffix : {"_bucket", "_sum", "_count"}) {
                    if (rule.name == other.name + suffix)
                        throw config_error(rule.mark, at,
                                           "\"" + rule.name + "\" is a series of histogram \"" +
                                               other.name + "\"");
                }
            }
            for (const auto& label : out.rules[i].labels) {
                if (out.const_labels.count(label.name))
                    throw config_error(label.mark,
                                       v->path + "[" + std::to_string(i) + "].labels." + label.name,
                                       "is also a metrics.const_labels key, which goes on every "
                                       "series");
            }
        }
    }
    return out;
}

// Relative paths in the file are relative to the file's directory, not to the working directory.
void resolve_path(std::string& path, const std::filesystem::path& base) {
    if (path.empty() || base.empty()) return;
    std::filesystem::path p(path);
    if (p.is_relative()) path = (base / p).lexically_normal().string();
}

void resolve_paths(config& cfg) {
    auto base = std::filesystem::path(cfg.file).parent_path();
    resolve_path(cfg.routes.openapi_file, base);
    if (cfg.audit.store.type == "sqlite") resolve_path(cfg.audit.store.path, base);
    if (cfg.audit.store.type == "postgres") resolve_path(cfg.audit.store.spool.path, base);
    resolve_path(cfg.audit.checkpoint.key_file, base);
    resolve_path(cfg.audit.jwt.key_file, base);
    resolve_path(cfg.upstream.tls.ca_file, base);
    for (auto& e : cfg.egress) resolve_path(e.upstream.tls.ca_file, base);
    for (auto& d : cfg.databases) resolve_path(d.upstream.ca_file, base);
}

std::string read_file(const std::string& path) {
    auto read = util::read_small_file(path, max_file_bytes);
    const auto refuse = [&](const std::string& message) {
        return config_error(source_mark{path, 0, 0}, "", message);
    };
    using failure = util::file_text::failure;
    switch (read.error) {
        case failure::none:
            return std::move(read.text);
        case failure::cannot_read:
            throw refuse("cannot read: " + read.reason(max_file_bytes));
        case failure::not_regular:
            throw refuse(
                "not a regular file (a device, FIFO or directory is never read as config)");
        case failure::too_large:
            break;
    }
    throw refuse("larger than " + std::to_string(max_file_bytes >> 20) +
                 " MiB, the limit for a configuration file");
}

// `section.key` positioned at that value, else at the section, else at the root: for errors
// found after parsing.
node_ref locate(const node_ref& root, const std::string& section, const std::string& key) {
    node_ref at{root.node, section + "." + key, root.mark};
    const YAML::Node& top = root.node;
    if (!top.IsMap() || !top[section]) return at;
    const YAML::Node sub = top[section];
    at.mark = detail::to_mark(root.mark.file, sub.Mark());
    if (sub.IsMap() && sub[key]) at.mark = detail::to_mark(root.mark.file, sub[key].Mark());
    return at;
}

// A database listener shares no port with the proxy, the admin server, an egress listener or
// another database listener.
template <class Clash>
void check_database_listeners(const config& cfg, const Clash& clash) {
    for (std::size_t i = 0; i < cfg.databases.size(); ++i) {
        const auto& d = cfg.databases[i];
        const auto at = [&](const std::string& what) {
            throw config_error(d.mark, "databases[" + std::to_string(i) + "].listen", what);
        };
        if (clash(d.listen, cfg.proxy.listen))
            at("same port as proxy.listen (" + cfg.proxy.listen.to_string() + ")");
        if (clash(d.listen, cfg.admin.listen))
            at("same port as admin.listen (" + cfg.admin.listen.to_string() + ")");
        for (const auto& e : cfg.egress)
            if (clash(d.listen, e.listen)) at("same port as egress " + e.name);
        for (std::size_t j = 0; j < i; ++j)
            if (clash(d.listen, cfg.databases[j].listen))
                at("same port as databases[" + std::to_string(j) + "] (" + cfg.databases[j].name +
                   ")");
        if (d.upstream.address == d.listen) at("its upstream is this listener: it would loop");
    }
}

// Two listeners on one port, or an upstream that is sidelight itself, fail at bind time or loop
// forever; say so while the position in the file is still known.
void check_listeners(const node_ref& root, const config& cfg) {
    auto any = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
    auto local = [&](const std::string& host) {
        return any(host) || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
    };
    const address& proxy = cfg.proxy.listen;
    const address& admin = cfg.admin.listen;
    if (proxy.port != 0 && admin.port == proxy.port &&
        (admin.host == proxy.host || any(admin.host) || any(proxy.host)))
        locate(root, "admin", "listen")
            .fail("same port as proxy.listen (" + proxy.to_string() + ")");
    const address& upstream = cfg.upstream.address;
    if (upstream.port == proxy.port &&
        (upstream.host == proxy.host || (any(proxy.host) && local(upstream.host))))
        locate(root, "upstream", "address")
            .fail("points at proxy.listen (" + proxy.to_string() + "): requests would loop");
    const auto clash = [&](const address& a, const address& b) {
        return a.port != 0 && a.port == b.port && (a.host == b.host || any(a.host) || any(b.host));
    };
    for (std::size_t i = 0; i < cfg.egress.size(); ++i) {
        const auto& e = cfg.egress[i];
        const auto at = [&](const std::string& what) {
            throw config_error(e.mark, "egress[" + std::to_string(i) + "].listen", what);
        };
        if (clash(e.listen, proxy)) at("same port as proxy.listen (" + proxy.to_string() + ")");
        if (clash(e.listen, admin)) at("same port as admin.listen (" + admin.to_string() + ")");
        for (std::size_t j = 0; j < i; ++j)
            if (clash(e.listen, cfg.egress[j].listen))
                at("same port as egress[" + std::to_string(j) + "] (" + cfg.egress[j].name + ")");
        if (e.upstream.address.port == e.listen.port &&
            (e.upstream.address.host == e.listen.host ||
             (any(e.listen.host) && local(e.upstream.address.host))))
            at("its upstream is this listener: requests would loop");
    }
    check_database_listeners(cfg, clash);
}

// A rule's `listener` names an egress listener of the file.
void check_rule_listeners(const config& cfg) {
    const auto check = [&](const rule_match& m, const std::string& key) {
        if (m.listener.empty()) return;
        for (const auto& e : cfg.egress)
            if (e.name == m.listener) return;
        std::string known;
        for (const auto& e : cfg.egress) known += (known.empty() ? "" : ", ") + e.name;
        throw config_error(
            m.listener_mark, key + ".listener",
            "no egress listener is named \"" + m.listener + "\"" +
                (known.empty() ? " (there is no egress section)" : " (egress: " + known + ")"));
    };
    for (std::size_t i = 0; i < cfg.audit.rules.size(); ++i)
        check(cfg.audit.rules[i].match, "audit.rules[" + std::to_string(i) + "]");
    for (std::size_t i = 0; i < cfg.security.rules.size(); ++i)
        check(cfg.security.rules[i].match, "security.rules[" + std::to_string(i) + "]");
    for (std::size_t i = 0; i < cfg.metrics.rules.size(); ++i)
        check(cfg.metrics.rules[i].match, "metrics.rules[" + std::to_string(i) + "]");
}

// A second document (after `---`) is most likely a second config pasted into the file, or a
// Kubernetes manifest's next object: refuse it rather than ignore half of what was written. An
// empty one (a trailing `---`, as template tools emit) holds nothing to ignore.
[[noreturn]] void refuse_second_document(const std::string& file, const YAML::Node& second) {
    throw config_error(detail::to_mark(file, second.Mark()), "",
                       "a second YAML document (after ---): the configuration is one document");
}

void parse_root(const node_ref& root, config& cfg) {
    map_reader m(root, {"proxy", "upstream", "admin", "health", "shutdown", "limits", "metrics",
                        "routes", "audit", "security", "egress", "databases", "slos", "tracing",
                        "database_io", "access_log", "log_level", "log_format", "config_watch"});
    auto section = [&](std::string_view key) {
        if (auto v = m.get(key)) return *v;
        return node_ref{YAML::Node(), std::string(key), root.mark};
    };
    cfg.proxy = parse_proxy(section("proxy"));
    cfg.upstream = detail::parse_upstream(section("upstream"));
    cfg.admin = parse_admin(section("admin"));
    cfg.health = parse_health(section("health"));
    cfg.shutdown = parse_shutdown(section("shutdown"));
    cfg.limits = parse_limits(section("limits"));
    cfg.metrics = parse_metrics(section("metrics"));
    cfg.routes = detail::parse_routes(section("routes"));
    cfg.audit = detail::parse_audit(section("audit"));
    cfg.security = detail::parse_security(section("security"));
    if (auto v = m.get("egress")) cfg.egress = detail::parse_egress(*v);
    if (auto v = m.get("databases")) cfg.databases = detail::parse_databases(*v);
    if (auto v = m.get("slos")) cfg.slos = detail::parse_slos(*v, cfg.metrics);
    if (auto v = m.get("tracing")) cfg.tracing = detail::parse_tracing(*v);
    if (auto v = m.get("database_io")) {
        const auto io = detail::to_choice(*v, {"auto", "io_uring", "epoll"});
        cfg.database_io = io == "io_uring" ? database_io::io_uring
                          : io == "epoll"  ? database_io::epoll
                                           : database_io::automatic;
    }
    if (auto v = m.get("access_log")) cfg.access_log = detail::to_bool(*v);
    if (auto v = m.get("log_level"))
        cfg.log_level =
            detail::to_choice(*v, {"trace", "debug", "info", "warn", "error", "critical", "off"});
    if (auto v = m.get("log_format")) {
        const auto f = detail::to_choice(*v, {"auto", "text", "json"});
        cfg.log_format = f == "json"   ? log_format::json
                         : f == "text" ? log_format::text
                                       : log_format::automatic;
    }
    if (auto v = m.get("config_watch")) cfg.config_watch = detail::to_bool(*v);
}

// Reads text in place: YAML::LoadAll of a std::string first copies it into a stringstream, and
// a config of 100k routes is a 4 MB file. Only reads (no put-back writes into the text).
class view_streambuf : public std::streambuf {
  public:
    explicit view_streambuf(std::string_view text) {
        char* p = const_cast<char*>(text.data());
        setg(p, p, p + text.size());
    }
};

}  // namespace

config_error::config_error(source_mark mark, std::string key_path, const std::string& message)
    : std::runtime_error(format_error(mark, key_path, message)),
      mark_(std::move(mark)),
      key_path_(std::move(key_path)) {}

std::shared_ptr<const config> load_string(std::string_view yaml, const std::string& file_name) {
    YAML::Node root;
    try {
        // Every document is parsed: YAML::Load would read the first and silently drop the rest.
        view_streambuf buffer(yaml);
        std::istream in(&buffer);
        std::vector<YAML::Node> documents = YAML::LoadAll(in);
        for (std::size_t i = 1; i < documents.size(); ++i)
            if (!documents[i].IsNull()) refuse_second_document(file_name, documents[i]);
        if (!documents.empty()) root = std::move(documents.front());
    } catch (const YAML::ParserException& e) {
        throw config_error(detail::to_mark(file_name, e.mark), "", "invalid YAML: " + e.msg);
    }
    auto cfg = std::make_shared<config>();
    cfg->file = file_name;
    node_ref top{root, "", detail::to_mark(file_name, root.Mark())};
    if (!top.is_null() && !root.IsMap())
        top.fail("the document must be a map of sections (proxy, upstream, ...)");
    parse_root(top, *cfg);
    check_listeners(top, *cfg);
    check_rule_listeners(*cfg);
    resolve_paths(*cfg);
    return cfg;
}

std::shared_ptr<const config> load_file(const std::string& path) {
    return load_string(read_file(path), path);
}

}  // namespace sidelight::config
