#pragma once
// The event API served (event_api.hpp has its parsing and the formats): POST /v1/audit and
// /v1/security commit through the writer and answer 201 only once every event is durably
// committed (503 when the store does not commit in time); GET /v1/events reads the store through
// a connection of its own. Every call needs the admin bearer token (401 with
// `WWW-Authenticate: Bearer` without it); a wrong method is a 405 with `Allow`.
//
// Requests come as plain strings (util/plain_http.hpp) from the agent's admin server.
// Thread-safety: handle() blocks until the commit (up to audit.strict_timeout + 1 s) and is
// meant for one thread at a time (the admin server runs /v1/ calls on a thread of their own);
// the writer it submits to may be shared with every worker.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event_api.hpp"
#include "audit/store.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "util/plain_http.hpp"

namespace sidelight::audit {

class event_endpoint {
  public:
    // The redaction keys in force: those of the rules of the config in force (a reload may
    // change them), as rule-captured events are redacted.
    using keys_source = std::function<const std::vector<std::string>&()>;
    // Times a store read: ("select", table or "both", milliseconds).
    using duration_sink = std::function<void(std::string_view, std::string_view, double)>;

    // `writer` and `reader` must outlive the endpoint; `reader` is used by handle()'s thread only.
    event_endpoint(const config::audit_config& audit, std::string token, writer& writer,
                   store& reader, keys_source redact_keys, duration_sink on_read);

    // /v1/audit, /v1/security, /v1/events
    util::plain_response handle(const util::plain_request& req);

    // The newest `n` security events, newest first, as GET /v1/events formats each row (a JSON
    // array). For the status page; the caller checks the token. Throws on a store failure.
    std::string recent_security_events(std::size_t n);

  private:
    util::plain_response post_events(parse_result parsed);
    util::plain_response list_events(std::string_view query);

    std::chrono::milliseconds commit_timeout_;
    std::string token_;
    writer& writer_;
    store& reader_;
    keys_source redact_keys_;
    duration_sink on_read_;
};

}  // namespace sidelight::audit
