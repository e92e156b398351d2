#pragma once
// An HTTP request and response as plain strings: what the admin server (agent/admin_server,
// the only place that parses them, with Beast) hands to the endpoints behind it and gets back,
// so that those endpoints (the event API in audit/, health and metrics in agent/) need no HTTP
// library. Plain values; no thread-safety concerns.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidelight::util {

struct plain_request {
    std::string_view method;
    std::string_view target;  // path and query
    std::string_view authorization;
    std::string_view content_type;
    std::string_view body;
    std::string_view accept;           // for /metrics: OpenMetrics or the classic text
    std::string_view accept_encoding;  // for /metrics: gzip or not
};

struct plain_response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Further response headers: `WWW-Authenticate` with a 401, `Allow` with a 405.
    std::vector<std::pair<std::string, std::string>> headers = {};
};

}  // namespace sidelight::util
