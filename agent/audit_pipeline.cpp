#include "agent/audit_pipeline.hpp"

#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "audit/event_api.hpp"
#include "audit/store_factory.hpp"

namespace sidelight::agent {
namespace {

// Checkpoints go to stdout as one JSON line each, to be shipped off the pod with the logs.
void print_checkpoint(const std::string& line) {
    const std::string out = line + "\n";
    if (::write(STDOUT_FILENO, out.data(), out.size()) < 0) {
        spdlog::warn("audit: could not write a checkpoint line to stdout");
    }
}

admin_response json_response(int status, std::string body) {
    return {status, "application/json", std::move(body)};
}

admin_response json_error(int status, const std::string& message) {
    boost::json::object o;
    o["error"] = message;
    return json_response(status, boost::json::serialize(o) + "\n");
}

admin_response method_not_allowed(const char* allow, const std::string& message) {
    auto res = json_error(405, message);
    res.headers.emplace_back("Allow", allow);
    return res;
}

// Counts down the commits of one event API call, which waits for them (on the API thread).
struct commit_latch {
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t left;
    bool ok = true;
    std::string error;
    explicit commit_latch(std::size_t n) : left(n) {}
    void arrive(const audit::commit_result& r) {
        std::lock_guard lock(mutex);
        if (!r.ok) {
            ok = false;
            error = r.error;
        }
        --left;
        cv.notify_all();
    }
};

}  // namespace

audit_pipeline::audit_pipeline(std::shared_ptr<const config::config> cfg,
                               prometheus::Registry& registry, const rules::jwt_stats& jwt_counts)
    : cfg_(std::move(cfg)),
      store_(audit::open_store(cfg_->audit.store, audit::open_mode::create)),
      reader_(audit::open_store(cfg_->audit.store, audit::open_mode::existing)),
      detector_(cfg_->security.brute_force),
      rules_(nullptr) {
    const auto head = store_->head();
    audit::writer_hooks hooks;
    hooks.on_checkpoint = print_checkpoint;
    hooks.on_duration = [this](std::string_view op, std::string_view table, double ms) {
        if (auto* m = duration_sink_.load()) m->observe_duration(op, table, ms);
    };
    writer_ = std::make_unique<audit::writer>(*store_, cfg_->audit, std::move(hooks));
    metrics_ = std::make_unique<audit_metrics>(writer_->stats(), registry, cfg_->metrics.prefix);
    metrics_->set_detector(&detector_);
    metrics_->set_jwt_stats(&jwt_counts);
    duration_sink_.store(metrics_.get());
    spdlog::info("audit: store={} head_seq={}", cfg_->audit.store.path, head.seq);
}

audit_pipeline::~audit_pipeline() {
    if (writer_) writer_->drain(std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

void audit_pipeline::install(std::shared_ptr<const rules::rule_set> rules) {
    rules_.publish(std::move(rules));
}

bool audit_pipeline::drain(std::chrono::steady_clock::time_point deadline) {
    const bool ok = writer_->drain(deadline);
    if (!ok) spdlog::error("audit: drain deadline passed with events unwritten");
    return ok;
}

// The rule set in force, cached per worker thread: one atomic load per request, the lock of
// `published` only after a reload.
const std::shared_ptr<const rules::rule_set>& audit_pipeline::current_rules() const {
    thread_local std::shared_ptr<const rules::rule_set> rules;
    thread_local std::uint64_t generation = 0;
    rules_.refresh(rules, generation);
    return rules;
}

// A login attempt feeds the brute-force detector; what it detects is recorded (batch mode)
// after the attempt itself.
std::vector<audit::event> audit_pipeline::detect(const rules::derived_event& d) {
    std::vector<audit::event> detections;
    if (const auto* attempt = std::get_if<audit::security_event>(&d.ev); attempt && d.login)
        detector_.observe(*attempt, detections);
    return detections;
}

void audit_pipeline::on_request(const routes::request_record& r) {
    thread_local std::vector<rules::derived_event> events;
    const auto& rules = current_rules();
    if (!rules) return;
    events.clear();
    rules->evaluate(r, events);
    for (auto& d : events) {
        auto detections = detect(d);
        // Batch mode never blocks: a full queue drops and counts (the writer reports the loss).
        writer_->try_submit(std::move(d.ev));
        for (auto& ev : detections) writer_->try_submit(std::move(ev));
    }
}

void audit_pipeline::hold(const routes::request_record& r, routes::audit_phase phase,
                          std::function<void(bool ok)> done) {
    thread_local std::vector<rules::derived_event> events;
    events.clear();
    if (const auto& rules = current_rules()) rules->evaluate_strict(r, phase, events);
    if (events.empty()) {
        done(true);
        return;
    }
    // Counts down this hold's commits; the last one answers the gate.
    struct pending {
        std::atomic<std::size_t> left;
        std::atomic<bool> ok{true};
        std::function<void(bool)> done;
    };
    auto p = std::make_shared<pending>();
    p->left = events.size();
    p->done = std::move(done);
    for (auto& d : events) {
        auto detections = detect(d);  // a strict login attempt still feeds the detector
        writer_->submit_async(std::move(d.ev), cfg_->audit.strict_timeout,
                              [p](audit::commit_result res) {
                                  if (!res.ok) p->ok = false;
                                  if (p->left.fetch_sub(1) == 1) p->done(p->ok.load());
                              });
        for (auto& ev : detections) writer_->try_submit(std::move(ev));
    }
}

admin_response audit_pipeline::handle_api(const admin_request& req) {
    if (!audit::token_matches(req.authorization, cfg_->admin.token)) {
        auto res = json_error(401, "missing or wrong bearer token");
        res.headers.emplace_back("WWW-Authenticate", "Bearer");  // RFC 9110 §11.6.1: required
        return res;
    }
    const auto q = req.target.find('?');
    const auto path = req.target.substr(0, q);
    const auto query = q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1);
    if (path == "/v1/events") {
        if (req.method != "GET") return method_not_allowed("GET", "use GET");
        return list_events(query);
    }
    if (req.method != "POST") return method_not_allowed("POST", "use POST");
    // The keys of the config in force (a reload may change them), as the rules redact with.
    const auto& rules = current_rules();
    const auto& keys = rules ? rules->redact_keys() : cfg_->audit.redact_keys;
    if (path == "/v1/audit") return post_events(audit::parse_audit_events(req.body, keys));
    if (path == "/v1/security") return post_events(audit::parse_security_events(req.body, keys));
    return json_error(404, "not found");
}

// 201 only once every event is durably committed (or was already there: event_id).
admin_response audit_pipeline::post_events(audit::parse_result parsed) {
    if (!parsed.error.empty()) return json_error(400, parsed.error);
    auto latch = std::make_shared<commit_latch>(parsed.events.size());
    boost::json::array ids;
    for (auto& ev : parsed.events) {
        ids.push_back(boost::json::value(audit::event_id_of(ev)));
        writer_->submit_async(std::move(ev), cfg_->audit.strict_timeout,
                              [latch](audit::commit_result r) { latch->arrive(r); });
    }
    std::unique_lock lock(latch->mutex);
    latch->cv.wait_for(lock, cfg_->audit.strict_timeout + std::chrono::seconds(1),
                       [&] { return latch->left == 0; });
    if (latch->left != 0 || !latch->ok)
        return json_error(503, "not committed: " + (latch->left ? "timeout" : latch->error));
    boost::json::object o;
    o["event_ids"] = std::move(ids);
    return json_response(201, boost::json::serialize(o) + "\n");
}

admin_response audit_pipeline::list_events(std::string_view query) {
    std::string error;
    const auto filter = audit::parse_query(query, error);
    if (!filter) return json_error(400, error);
    const auto start = std::chrono::steady_clock::now();
    try {
        auto rows = reader_->query(*filter);
        metrics_->observe_duration(
            "select", filter->table ? audit::table_name(*filter->table) : "both",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
        return json_response(200, audit::events_json(rows));
    } catch (const std::exception& e) {
        return json_error(503, std::string("audit store: ") + e.what());
    }
}

}  // namespace sidelight::agent
