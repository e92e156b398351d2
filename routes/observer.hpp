#pragma once
// What the proxy reports to: one record per finished request, and connection counts.
// Implemented by the agent (metrics, access log, audit pipeline). Observers are called on the
// session's worker thread, after the response was written, and must not block; they copy what
// they keep. Thread-safety: called concurrently from every worker thread.

#include "routes/request_record.hpp"

namespace sidelight::routes {

class observer {
  public:
    virtual ~observer() = default;
    virtual void on_request(const request_record& record) = 0;
    virtual void on_connection(connection_type type, int delta) = 0;
};

}  // namespace sidelight::routes
