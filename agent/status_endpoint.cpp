#include "agent/status_endpoint.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "agent/status_page_html.hpp"
#include "audit/event.hpp"
#include "audit/event_api.hpp"
#include "config/load.hpp"

namespace sidelight::agent {
namespace {

namespace net = boost::asio;
namespace json = boost::json;

status::snapshot read_traffic(const metrics& m, status::clock::time_point at) {
    const auto [traffic, generation] = m.traffic();
    return status::take_snapshot(traffic->collect(), traffic->settings().prefix + "api_latency_ms",
                                 at, generation);
}

json::value number_or_null(const std::optional<double>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

json::object window_json(const status::window& w) {
    return {{"seconds", w.seconds},
            {"requests", w.requests},
            {"rate", w.rate},
            {"p50", number_or_null(w.p50)},
            {"p95", number_or_null(w.p95)},
            {"p99", number_or_null(w.p99)},
            {"error_rate", w.error_rate},
            {"client_abort_rate", w.client_abort_rate}};
}

json::array routes_json(const std::vector<status::route_report>& reports) {
    json::array out;
    for (const auto& r : reports) {
        const auto& [method, route, listener] = r.key;
        json::object o{{"method", method}, {"route", route}};
        if (!listener.empty()) o["listener"] = listener;
        o["last_1m"] = window_json(r.last_1m);
        o["last_5m"] = window_json(r.last_5m);
        json::array spark;
        for (const auto& p : r.sparkline) spark.push_back(number_or_null(p));
        o["sparkline"] = std::move(spark);
        out.push_back(std::move(o));
    }
    return out;
}

// 'sha256-...' of the text between the page's first `open` and `close` tags, for the CSP: the
// browser then runs that inline script (applies that style) and nothing else.
std::string csp_hash(std::string_view page, std::string_view open, std::string_view close) {
    const auto from = page.find(open);
    const auto to = page.find(close, from);
    if (from == std::string_view::npos || to == std::string_view::npos) return "'none'";
    const auto body = page.substr(from + open.size(), to - from - open.size());
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
    unsigned char text[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(text, digest, SHA256_DIGEST_LENGTH);
    return "'sha256-" + std::string(reinterpret_cast<const char*>(text), n) + "'";
}

// Nothing the page needs lives elsewhere, and only its own script runs: said to the browser too.
const std::string& content_security_policy() {
    static const std::string policy =
        "default-src 'none'; script-src " + csp_hash(status_page_html, "<script>", "</script>") +
        "; style-src " + csp_hash(status_page_html, "<style>", "</style>") +
        "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'";
    return policy;
}

admin_response with_headers(admin_response res) {
    res.headers.emplace_back("Content-Security-Policy", content_security_policy());
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
    return res;
}

}  // namespace

status_endpoint::status_endpoint(net::io_context& ioc, std::shared_ptr<const config::config> cfg,
                                 const metrics& m, sources src)
    : ioc_(ioc),
      sources_(std::move(src)),
      token_(cfg->admin.token),
      started_at_(audit::format_time(audit::now())),
      started_(std::chrono::steady_clock::now()),
      windows_([&m](status::clock::time_point at) { return read_traffic(m, at); }),
      timer_(ioc) {
    set_config(cfg);
}

bool status_endpoint::serves(std::string_view path) {
    return path == "/" || path == "/status" || path == "/status.json";
}

void status_endpoint::set_config(const std::shared_ptr<const config::config>& cfg,
                                 std::string_view restart_pending) {
    auto text = config::dump(*cfg);
    if (!restart_pending.empty()) {
        text = "# changed by the last reload, in force after a restart: " +
               std::string(restart_pending) + "\n" + text;
    }
    std::lock_guard lock(config_mutex_);
    config_text_ = std::move(text);
}

void status_endpoint::start() {
    // The first snapshot now, not when the admin thread first runs the loop: it is the base of
    // every window's first minute, and traffic after the startup line must count in full.
    windows_.sample();
    net::co_spawn(ioc_, sample_loop(), [](std::exception_ptr e) {
        if (e) spdlog::error("status: sampler stopped by exception");
    });
}

void status_endpoint::stop() {
    stopped_ = true;
    net::post(ioc_, [this] { timer_.cancel(); });
}

net::awaitable<void> status_endpoint::sample_loop() {
    // On a fixed schedule, so the steps stay 5 s apart whatever one sample costs; each snapshot
    // stamped when it is read. A schedule fallen behind (a stalled admin thread) starts anew
    // rather than sampling several times in a row.
    // The first sample was taken by start().
    auto next = status::clock::now();
    for (;;) {
        next += windows_.step();
        if (next < status::clock::now()) next = status::clock::now() + windows_.step();
        timer_.expires_at(next);
        co_await timer_.async_wait(net::as_tuple(net::use_awaitable));
        if (stopped_) break;
        windows_.sample();
    }
}

admin_response status_endpoint::handle(const admin_request& req) {
    if (req.method != "GET" && req.method != "HEAD") {
        admin_response res{405, "text/plain; charset=utf-8", "method not allowed\n"};
        res.headers.emplace_back("Allow", "GET, HEAD");
        return res;
    }
    const auto path = req.target.substr(0, req.target.find('?'));
    if (path == "/status.json")
        return with_headers({200, "application/json", json::serialize(status_json(req)) + "\n"});
    return with_headers({200, "text/html; charset=utf-8", std::string(status_page_html)});
}

json::object status_endpoint::status_json(const admin_request& req) const {
    json::object o;
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started_);
    o["build"] = {
        {"version", SIDELIGHT_VERSION}, {"started_at", started_at_}, {"uptime_s", uptime.count()}};
    o["health"] = sources_.health();
    o["step_s"] = windows_.step().count();
    o["routes"] = routes_json(windows_.report());
    {
        std::lock_guard lock(config_mutex_);
        o["config"] = config_text_;
    }
    auto events = security_json(req, o);  // may add security_events_note
    o["security_events"] = std::move(events);
    return o;
}

// The event API's gate: the admin bearer token, compared in constant time.
json::value status_endpoint::security_json(const admin_request& req, json::object& out) const {
    const char* note = nullptr;
    if (token_.empty())
        note = "no admin.token configured";
    else if (req.authorization.empty())
        note = "token required";
    else if (!audit::token_matches(req.authorization, token_))
        note = "wrong token";
    if (!note) {
        try {
            return json::parse(sources_.security_events(security_events_shown));
        } catch (const std::exception& e) {
            out["security_events_note"] = std::string("audit store: ") + e.what();
            return nullptr;
        }
    }
    out["security_events_note"] = note;
    return nullptr;
}

}  // namespace sidelight::agent
