#pragma once
// The status page on the admin port (`admin.status`, on by default):
//   GET /, /status   one self-contained HTML page (agent/status_page.html, embedded at build
//                    time: inline CSS and script, no external URL) that polls /status.json
//   GET /status.json build, health (as /healthz reports it), per-route windows
//                    (status_windows.hpp), the config in force as `sidelight check` prints it
//                    (secrets redacted), and the newest security events — those only with the
//                    admin bearer token, as /v1/events; without it `security_events` is null
//                    and `security_events_note` says why.
// It also runs the windows' sampler on the admin io_context, every 5 s.
// Thread-safety: handle() from the admin thread and from the /v1/ thread (a /status.json with
// a token reads the store there, as the event API does); set_config() from any thread.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "agent/admin_server.hpp"
#include "agent/metrics.hpp"
#include "agent/status_windows.hpp"
#include "config/config.hpp"

namespace sidelight::agent {

class status_endpoint {
  public:
    struct sources {
        std::function<boost::json::object()> health;  // the body /healthz answers
        // The newest n security events, newest first, as a JSON array; throws on a store error.
        std::function<std::string(std::size_t)> security_events;
    };
    static constexpr std::size_t security_events_shown = 20;

    status_endpoint(boost::asio::io_context& ioc, std::shared_ptr<const config::config> cfg,
                    const metrics& m, sources src);

    static bool serves(std::string_view path);
    admin_response handle(const admin_request& req);

    // The config in force, after a reload (shown as `sidelight check` prints it).
    // The config last loaded; `restart_pending` names its settings that are not in force yet
    // (shown as a comment line above it).
    void set_config(const std::shared_ptr<const config::config>& cfg,
                    std::string_view restart_pending = {});
    void start();  // the sampler
    void stop();

  private:
    boost::asio::awaitable<void> sample_loop();
    boost::json::object status_json(const admin_request& req) const;
    boost::json::value security_json(const admin_request& req, boost::json::object& out) const;

    boost::asio::io_context& ioc_;
    sources sources_;
    std::string token_;       // admin.token as started with: the event API's (restart to change)
    std::string started_at_;  // wall clock, as the audit rows write it
    std::chrono::steady_clock::time_point started_;
    status::windows windows_;
    boost::asio::steady_timer timer_;
    std::atomic<bool> stopped_{false};
    mutable std::mutex config_mutex_;
    std::string config_text_;  // dump() of the config in force
};

}  // namespace sidelight::agent
