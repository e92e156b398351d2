#pragma once
// Strict audit delivery: for a request a strict rule may fire on (its route and method, per
// phase: capture_plan), the session asks the gate before it goes on, and goes on only when
// the gate says the events are durably committed.
//
//  - request phase: before the request is forwarded (its body, if the rules need it, is read
//    up to the capture cap first). Refused: the client gets 503 and the app never sees the
//    request.
//  - response phase: once the app's response header is in, before anything is written to the
//    client. Refused: the client gets 503 instead of the app's response.
//
// `done` must be called exactly once, from any thread, with true to proceed. The session marks
// the record (`held_request`, `held_response`) so that the observer does not record the strict
// events of a phase a second time.

#include <functional>

#include "routes/request_record.hpp"

namespace sidelight::routes {

enum class audit_phase { request, response };

class audit_gate {
  public:
    virtual ~audit_gate() = default;
    virtual void hold(const request_record& record, audit_phase phase,
                      std::function<void(bool ok)> done) = 0;
};

}  // namespace sidelight::routes
