#include "agent/app.hpp"

#include "agent/db_audit.hpp"
#include "agent/health_report.hpp"
#include "audit/event_api.hpp"
#include "config/load.hpp"
#include "util/gzip.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <algorithm>

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace sidelight::agent {
namespace {

using namespace std::chrono_literals;

sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

// Waits up to `timeout` for a signal; 0 when none came.
int wait_signal(std::chrono::milliseconds timeout) {
    const auto set = shutdown_signals();
    timespec ts{static_cast<time_t>(timeout.count() / 1000),
                static_cast<long>((timeout.count() % 1000) * 1000000)};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    return sig > 0 ? sig : 0;
}

admin_response text(int status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body)};
}

// Identifies the file behind `path` (following symlinks, as a Kubernetes ConfigMap swaps one).
std::string file_stamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
           std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

void block_signals() {
    auto set = shutdown_signals();
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

app::app(preflight_result checked, rules::jwt_stats& jwt_counts)
    : cfg_(std::move(checked.cfg)),
      jwt_counts_(jwt_counts),
      metrics_(*cfg_),
      audit_(std::make_unique<audit_pipeline>(cfg_, metrics_.registry(), jwt_counts_)),
      routes_(std::move(checked.routes)),
      tracer_(cfg_->tracing.enabled && !cfg_->tracing.otlp.endpoint.empty()
                  ? std::make_unique<span_exporter>(cfg_->tracing, metrics_.registry())
                  : nullptr),
      observer_(metrics_, business_, *audit_, tracer_.get()),
      file_stamp_(file_stamp(cfg_->file)) {
    for (auto& r : checked.egress_routes)
        egress_routes_.push_back(std::make_unique<util::published<routes::routing>>(std::move(r)));
    audit_->install(std::move(checked.rules), *cfg_);
    business_.install(std::move(checked.metric_rules));
    metrics_.apply(*cfg_, *routes_.get());
    metrics_.add_collectable(&business_);
    metrics_.add_collectable(&audit_->metrics());
}

app::~app() {
    if (proxy_) proxy_->join();
    for (auto& e : egress_) e->join();
    admin_ioc_.stop();
    if (admin_thread_.joinable()) admin_thread_.join();
}

void app::start() {
    started_ = std::chrono::steady_clock::now();
    applied_log_level_ = cfg_->log_level;
    admin_ = std::make_unique<admin_server>(
        admin_ioc_, cfg_->admin.listen, [this](const admin_request& r) { return handle_admin(r); });
    proxy_ = std::make_unique<proxy::server>(cfg_, observer_, routes_, &audit_->gate());
    proxy_->start();
    for (std::size_t i = 0; i < cfg_->egress.size(); ++i) {
        egress_.push_back(std::make_unique<proxy::server>(cfg_, proxy::egress_listener(*cfg_, i),
                                                          observer_, *egress_routes_[i],
                                                          &audit_->gate()));
        egress_.back()->start();
        const auto& e = cfg_->egress[i];
        spdlog::info("egress {} listening on {}:{} -> {}{}", e.name, e.listen.host,
                     egress_.back()->port(), e.upstream.address.to_string(),
                     e.upstream.tls.enabled ? " (tls)" : "");
    }
    start_databases();
    listening_ = true;
    health_ = std::make_unique<health_checker>(admin_ioc_, *cfg_,
                                               proxy::resolve_upstream(cfg_->upstream).endpoints);
    if (!cfg_->databases.empty())
        db_health_ = std::make_unique<database_checker>(admin_ioc_, *cfg_);
    // Before the admin server accepts (and its thread starts): no scrape sees the list change.
    reachability_ = std::make_unique<reachability_metrics>(*health_, db_health_.get());
    metrics_.add_collectable(reachability_.get());
    if (cfg_->admin.status) start_status();
    admin_->start();
    health_->start();
    if (db_health_) db_health_->start();
    admin_thread_ = std::thread([this] {
        auto guard = boost::asio::make_work_guard(admin_ioc_);
        admin_ioc_.run();
    });
    const unsigned workers = cfg_->proxy.workers
                                 ? cfg_->proxy.workers
                                 : std::max(1u, std::thread::hardware_concurrency());
    spdlog::info("sidelight {} started proxy={}:{} admin={}:{} upstream={} workers={}",
                 SIDELIGHT_VERSION, cfg_->proxy.listen.host, proxy_->port(),
                 cfg_->admin.listen.host, admin_->port(), cfg_->upstream.address.to_string(),
                 workers);
}

void app::start_status() {
    status_endpoint::sources src;
    src.health = [this] {
        bool unhealthy = false;
        return health_json(unhealthy);
    };
    src.security_events = [this](std::size_t n) { return audit_->recent_security_events(n); };
    status_ = std::make_unique<status_endpoint>(admin_ioc_, cfg_, metrics_, std::move(src));
    status_->start();
}

void app::start_databases() {
    if (cfg_->databases.empty()) return;
    db_metrics_ = std::make_unique<db_metrics>(*cfg_, metrics_.registry(), metrics_);
    db_metrics_->set_audit_sink(
        [this](const dbproxy::statement_audit& a) { audit_->submit(db_audit_event(a)); });
    databases_ = std::make_unique<dbproxy::server>(cfg_->databases, cfg_->database_io, *db_metrics_,
                                                   cfg_->limits.header_read_timeout);
    databases_->start();
    for (std::size_t i = 0; i < cfg_->databases.size(); ++i) {
        const auto& d = cfg_->databases[i];
        spdlog::info("database {} listening on {}:{} -> {}", d.name, d.listen.host,
                     databases_->port(i), d.upstream.address.to_string());
    }
}

int app::run() {
    start();
    for (;;) {
        const int sig = wait_signal(cfg_->config_watch ? 500ms : 1000ms);
        if (sig == SIGTERM || sig == SIGINT) break;
        if (sig == SIGHUP || (cfg_->config_watch && config_file_changed())) reload();
    }
    return drain();
}

bool app::config_file_changed() {
    auto stamp = file_stamp(cfg_->file);
    if (stamp.empty() || stamp == file_stamp_) return false;
    file_stamp_ = std::move(stamp);
    spdlog::info("reload: config file changed file={}", cfg_->file);
    return true;
}

bool app::reload() {
    file_stamp_ = file_stamp(cfg_->file);  // a SIGHUP's reload is not the watch's to repeat
    preflight_result checked;              // the same checks as check and run
    try {
        checked = preflight(cfg_->file, &jwt_counts_);
    } catch (const std::exception& e) {
        metrics_.count_reload(false);
        spdlog::error("reload: rejected, keeping the running config error=\"{}\"", e.what());
        return false;
    }
    const auto& next = checked.cfg;
    const auto& routes = checked.routes;
    // The rules and routes of egress listener i are compiled for the file's listener i: a file
    // that adds, removes, renames or reorders listeners would give a running listener another
    // one's. Refused whole: those changes take a restart.
    bool same_listeners = next->egress.size() == cfg_->egress.size();
    for (std::size_t i = 0; same_listeners && i < next->egress.size(); ++i) {
        same_listeners = next->egress[i].name == cfg_->egress[i].name &&
                         next->egress[i].listen == cfg_->egress[i].listen;
    }
    if (!same_listeners) {
        metrics_.count_reload(false);
        spdlog::error(
            "reload: rejected, keeping the running config error=\"the egress listeners were "
            "added, removed, renamed or reordered: that takes a restart\"");
        return false;
    }
    // Metrics first: a request labelled by the new routing then records into new families.
    // The rules before the routing: until the routing is swapped, they see records labelled
    // by the old table, which they look up by label (rules/rule_set.hpp).
    metrics_.apply(*next, *routes);
    business_.install(std::move(checked.metric_rules));
    audit_->install(std::move(checked.rules), *next);
    routes_.publish(routes);
    // The egress listeners running (the same ones, checked above) take their new routes.
    for (std::size_t i = 0; i < egress_routes_.size(); ++i)
        egress_routes_[i]->publish(checked.egress_routes[i]);
    metrics_.count_reload(true);
    // The log level follows the file at once; every other setting not applied above is the
    // running one until a restart, and the warning names the ones that changed.
    if (!keep_log_level_ && next->log_level != applied_log_level_) {
        spdlog::default_logger()->set_level(spdlog::level::from_str(next->log_level));
        applied_log_level_ = next->log_level;
    }
    // Compared without where each setting was written: a line added above one is no change.
    const auto& now = *cfg_;
    const auto& n = *next;
    bool egress_restart = false;
    for (std::size_t i = 0; i < n.egress.size(); ++i) {
        const auto& a = n.egress[i];
        const auto& b = now.egress[i];
        egress_restart = egress_restart || !(a.upstream == b.upstream) || a.workers != b.workers;
    }
    std::vector<std::string_view> later;
    const auto unless = [&later](bool same, std::string_view name) {
        if (!same) later.push_back(name);
    };
    unless(n.proxy == now.proxy, "proxy");
    unless(n.upstream == now.upstream, "upstream");
    unless(n.admin == now.admin, "admin");
    unless(n.limits == now.limits, "limits");
    unless(n.tracing == now.tracing, "tracing");
    unless(!egress_restart, "egress upstreams and workers");
    unless(n.health == now.health, "health");
    unless(n.shutdown == now.shutdown, "shutdown");
    unless(n.audit.store == now.audit.store, "audit.store");
    unless(n.audit.queue_size == now.audit.queue_size && n.audit.batch_max == now.audit.batch_max &&
               n.audit.batch_interval == now.audit.batch_interval &&
               n.audit.strict_timeout == now.audit.strict_timeout,
           "audit queue_size, batch_max, batch_interval and strict_timeout");
    unless(n.audit.checkpoint == now.audit.checkpoint, "audit.checkpoint");
    unless(n.access_log == now.access_log, "access_log");
    unless(n.log_format == now.log_format, "log_format");
    unless(n.config_watch == now.config_watch, "config_watch");
    unless(n.databases == now.databases && n.database_io == now.database_io,
           "databases and database_io");
    const auto pending = fmt::format("{}", fmt::join(later, ", "));
    if (!later.empty())
        spdlog::warn("reload: these settings changed and take effect at restart: {}", pending);
    if (status_) status_->set_config(next, pending);
    spdlog::info("reload: ok routes={}", routes->table().size());
    return true;
}

int app::drain() {
    draining_ = true;  // /readyz answers 503 from now on
    spdlog::info("shutdown: draining delay_ms={} grace_ms={}", cfg_->shutdown.delay.count(),
                 cfg_->shutdown.grace.count());
    const auto second_signal = [] {
        spdlog::warn("shutdown: second signal, exiting now");
        return 1;
    };
    for (auto until = std::chrono::steady_clock::now() + cfg_->shutdown.delay;
         std::chrono::steady_clock::now() < until;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (const int sig = wait_signal(std::max(left, 1ms)); sig == SIGTERM || sig == SIGINT)
            return second_signal();
    }
    // The proxy first; the egress listeners after it, since a request still in flight may make
    // the app call out.
    proxy_->stop_accepting();
    const auto deadline = std::chrono::steady_clock::now() + cfg_->shutdown.grace;
    const auto wait_idle = [&](proxy::server& s) {
        while (s.connections() > 0 && std::chrono::steady_clock::now() < deadline) {
            if (const int sig = wait_signal(10ms); sig == SIGTERM || sig == SIGINT) return false;
        }
        return true;
    };
    if (!wait_idle(*proxy_)) return second_signal();
    for (auto& e : egress_) {
        e->stop_accepting();
        if (!wait_idle(*e)) return second_signal();
    }
    std::size_t open = proxy_->connections();
    for (auto& e : egress_) open += e->connections();
    if (open > 0) spdlog::warn("shutdown: grace over, closing {} connections", open);
    proxy_->abort();
    for (auto& e : egress_) e->abort();
    // The aborted sessions record their requests as they unwind (metrics, access log, audit):
    // a request the app may have acted on keeps its audit row. A second for that at most.
    const auto unwound = std::chrono::steady_clock::now() + 1s;
    const auto still_open = [&] {
        std::size_t n = proxy_->connections();
        for (auto& e : egress_) n += e->connections();
        return n;
    };
    while (still_open() > 0 && std::chrono::steady_clock::now() < unwound) {
        if (const int sig = wait_signal(10ms); sig == SIGTERM || sig == SIGINT)
            return second_signal();
    }
    proxy_->join();
    for (auto& e : egress_) e->join();
    // The app's database connections last until they are idle (no statement running, no
    // transaction open), within the same grace: a transaction in flight is not cut short.
    if (databases_) {
        databases_->drain();
        // At least a moment, for the idle ones to be told (the grace may be over already).
        const auto db_deadline = std::max(deadline, std::chrono::steady_clock::now() + 200ms);
        while (databases_->connections() > 0 && std::chrono::steady_clock::now() < db_deadline) {
            if (const int sig = wait_signal(10ms); sig == SIGTERM || sig == SIGINT)
                return second_signal();
        }
        if (const auto left = databases_->connections(); left > 0)
            spdlog::warn("shutdown: grace over, closing {} database connections", left);
        databases_->stop();
    }
    // Every request has been recorded by now: commit what the audit queue still holds. Events
    // the store did not take by the deadline are lost (counted, logged): the exit says so.
    const bool audited = audit_->drain(std::chrono::steady_clock::now() + cfg_->shutdown.grace);
    health_->stop();
    if (db_health_) db_health_->stop();
    if (status_) status_->stop();
    admin_->stop();
    if (!audited) {
        spdlog::error("shutdown: done, audit events lost (the store did not take them in time)");
        return 1;
    }
    spdlog::info("shutdown: done");
    return 0;
}

admin_response app::handle_admin(const admin_request& req) {
    const auto path = req.target.substr(0, req.target.find('?'));
    if (path == "/v1/metrics") return handle_metrics_api(req);
    if (path.starts_with("/v1/")) return audit_->handle_api(req);
    if (status_ && status_endpoint::serves(path)) return status_->handle(req);
    const bool known =
        path == "/livez" || path == "/readyz" || path == "/healthz" || path == "/metrics";
    if (!known) return text(404, "not found\n");
    if (req.method != "GET" && req.method != "HEAD") {
        auto res = text(405, "method not allowed\n");
        res.headers.emplace_back("Allow", "GET, HEAD");
        return res;
    }
    if (path == "/livez") return text(200, "ok\n");
    if (path == "/metrics") {
        // OpenMetrics (with exemplars) for a scraper that asks for it, as Prometheus does with
        // exemplar storage on; the classic text otherwise. gzip when accepted.
        const bool open =
            util::prefers_media_type(req.accept, "application/openmetrics-text", "text/plain");
        admin_response res{
            200, open ? openmetrics_content_type : "text/plain; version=0.0.4; charset=utf-8",
            open ? metrics_.render_openmetrics() : metrics_.render()};
        res.headers.emplace_back("Vary", "Accept, Accept-Encoding");
        if (util::accepts_gzip(req.accept_encoding)) {
            res.body = util::gzip(res.body);
            res.headers.emplace_back("Content-Encoding", "gzip");
        }
        return res;
    }
    if (path == "/readyz") {
        const auto up = health_ ? health_->snapshot() : upstream_health{};
        if (draining_) return text(503, "draining\n");
        if (!listening_) return text(503, "not listening yet\n");
        // Ready only once the upstream has answered: not while its state is still unknown.
        if (up.state == upstream_state::unknown) return text(503, "upstream not checked yet\n");
        if (!up.reachable) return text(503, "upstream not reachable\n");
        return text(200, "ready\n");
    }
    bool unhealthy = false;
    auto body = health_json(unhealthy);
    return {unhealthy ? 503 : 200, "application/json", boost::json::serialize(body) + "\n"};
}

// /healthz's body (the status page shows it too); `unhealthy` set when /healthz answers 503.
boost::json::object app::health_json(bool& unhealthy) const {
    health_inputs in;
    if (health_) in.upstream = health_->snapshot();
    if (db_health_) in.databases = db_health_->snapshot();
    if (databases_)
        in.relay =
            relay_health{std::string(databases_->relay_engine()), databases_->relay_failure()};
    in.audit_healthy = audit_healthy();
    if (audit_) {
        in.audit_error = audit_->last_error();
        in.queue_depth = audit_->queue_depth();
        in.forward = audit_->forward_status();
    }
    in.draining = draining_.load();
    in.uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                 started_);
    return health_report(*cfg_, in, unhealthy);
}

// POST /v1/metrics: the event API's token, then the metric rules' own checks.
admin_response app::handle_metrics_api(const admin_request& req) {
    if (!audit::token_matches(req.authorization, cfg_->admin.token)) {
        admin_response res{401, "application/json",
                           "{\"error\":\"missing or wrong bearer token\"}\n"};
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        return res;
    }
    return business_.handle_api(req);
}

}  // namespace sidelight::agent
