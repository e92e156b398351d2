#pragma once
// What a request must carry to the audit rules that can fire on its route. Decided once per
// route when the rules are compiled (audit/rule_set), so a route without rules captures
// nothing and pays nothing. Bodies are captured up to `max_body_bytes` while they still stream
// to the other side.

#include <cstddef>
#include <string>
#include <vector>

namespace sidelight::proxy {

struct capture_plan {
    bool request_body = false;
    bool response_body = false;
    std::size_t max_body_bytes = 64 * 1024;
    std::vector<std::string> headers;  // request header names to keep, lower case
    // A strict rule may fire on this route: the response is held until its event is committed
    // (and for rules decided by the request alone, the request is not forwarded before that).
    bool strict = false;

    bool empty() const { return !request_body && !response_body && headers.empty() && !strict; }
};

}  // namespace sidelight::proxy
