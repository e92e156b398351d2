#pragma once
// What a request must carry to the audit rules that can fire on it. Decided once per route
// when the rules are compiled (rules/rule_set), and per method within a route, since rules
// match on methods too: a route without rules captures nothing and pays nothing, and a strict
// rule for GET does not hold or buffer a PUT on the same template. Bodies are captured up to
// `max_body_bytes` while they still stream to the other side.

#include <cstddef>
#include <string>
#include <vector>

#include "routes/method.hpp"

namespace sidelight::routes {

// A request header the rules read, and the methods whose rules read it. For `unique` methods
// (an audit rule's) a request carrying it twice is refused: the event would take one value and
// the app may take the other. A metric rule alone reads the first.
struct header_want {
    std::string name;  // lower case
    method_set methods;
    method_set unique;
};

struct capture_plan {
    method_set request_body;   // methods whose rules read the request body
    method_set response_body;  // ... the response body
    std::size_t max_body_bytes = 64 * 1024;
    std::vector<header_want> headers;  // request headers to keep
    // Methods a strict rule may fire on. Request phase (a rule decided by the request alone):
    // the request is not forwarded before its event is committed, and its body, when read by
    // the rules, is buffered for that. Response phase: the response is held until then.
    method_set strict_request;
    method_set strict_response;

    bool empty() const {
        return request_body.empty() && response_body.empty() && headers.empty() &&
               strict_request.empty() && strict_response.empty();
    }
};

}  // namespace sidelight::routes
