#include "audit/event_endpoint.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "audit/cli.hpp"

namespace sidelight::audit {
namespace {

util::plain_response json_response(int status, std::string body) {
    return {status, "application/json", std::move(body)};
}

util::plain_response json_error(int status, const std::string& message) {
    boost::json::object o;
    o["error"] = message;
    return json_response(status, boost::json::serialize(o) + "\n");
}

util::plain_response method_not_allowed(const char* allow, const std::string& message) {
    auto res = json_error(405, message);
    res.headers.emplace_back("Allow", allow);
    return res;
}

// Counts down the commits of one call, which waits for them.
struct commit_latch {
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t left;
    bool ok = true;
    std::string error;
    explicit commit_latch(std::size_t n) : left(n) {}
    void arrive(const commit_result& r) {
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

event_endpoint::event_endpoint(const config::audit_config& audit, std::string token, writer& writer,
                               store& reader, keys_source redact_keys, duration_sink on_read)
    : commit_timeout_(audit.strict_timeout),
      token_(std::move(token)),
      writer_(writer),
      reader_(reader),
      redact_keys_(std::move(redact_keys)),
      on_read_(std::move(on_read)) {}

util::plain_response event_endpoint::handle(const util::plain_request& req) {
    if (!token_matches(req.authorization, token_)) {
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
    if (path != "/v1/audit" && path != "/v1/security") return json_error(404, "not found");
    if (req.method != "POST") return method_not_allowed("POST", "use POST");
    if (path == "/v1/audit") return post_events(parse_audit_events(req.body, redact_keys_()));
    return post_events(parse_security_events(req.body, redact_keys_()));
}

// 201 only once every event is durably committed (or was already there: event_id).
util::plain_response event_endpoint::post_events(parse_result parsed) {
    if (!parsed.error.empty()) return json_error(400, parsed.error);
    auto latch = std::make_shared<commit_latch>(parsed.events.size());
    boost::json::array ids;
    for (auto& ev : parsed.events) {
        ids.push_back(boost::json::value(event_id_of(ev)));
        writer_.submit_async(std::move(ev), commit_timeout_,
                             [latch](commit_result r) { latch->arrive(r); });
    }
    std::unique_lock lock(latch->mutex);
    latch->cv.wait_for(lock, commit_timeout_ + std::chrono::seconds(1),
                       [&] { return latch->left == 0; });
    if (latch->left != 0 || !latch->ok)
        return json_error(503, "not committed: " + (latch->left ? "timeout" : latch->error));
    boost::json::object o;
    o["event_ids"] = std::move(ids);
    return json_response(201, boost::json::serialize(o) + "\n");
}

util::plain_response event_endpoint::list_events(std::string_view query) {
    std::string error;
    const auto filter = parse_query(query, error);
    if (!filter) return json_error(400, error);
    const auto start = std::chrono::steady_clock::now();
    try {
        auto rows = reader_.query(*filter);
        on_read_("select", filter->table ? table_name(*filter->table) : "both",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
        return json_response(200, events_json(rows, filter->after_seq));
    } catch (const std::exception& e) {
        return json_error(503, std::string("audit store: ") + e.what());
    }
}

std::string event_endpoint::recent_security_events(std::size_t n) {
    boost::json::array out;
    for (const auto& row : newest_rows(reader_, table_kind::security_audit, n))
        out.push_back(to_json(row));
    return boost::json::serialize(out);
}

}  // namespace sidelight::audit
