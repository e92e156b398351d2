#pragma once
// The error table: every answer the proxy gives itself instead of relaying the app's, each
// with the status the client gets and the error_type the request is recorded with, so that a
// session answers an error in one call (client_session::send_error). Also which answer fits
// a refused request head (header_check) and a request body that could not be read.
// Pure functions over constant data: thread-safe.

#include <cstdint>
#include <optional>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/status.hpp>

#include "proxy/header_check.hpp"
#include "proxy/vocabulary.hpp"

namespace sidelight::proxy {

enum class proxy_answer : std::uint8_t {
    // The request is refused (error_type::bad_request); the app never sees it.
    bad_request,         // 400: malformed head or body, an ambiguous header
    method_not_allowed,  // 405: CONNECT
    request_timeout,     // 408: the head or the body came too slowly
    payload_too_large,   // 413: a body over limits.max_body_bytes (or a held body's cap)
    uri_too_long,        // 414
    expectation_failed,  // 417: an Expect other than 100-continue
    header_too_large,    // 431: a head over limits.max_header_bytes or the field count
    // The app could not be reached or did not answer usably.
    upstream_connect,       // 502
    upstream_reset,         // 502
    upstream_bad_response,  // 502
    upstream_timeout,       // 504
    upstream_tls,           // 502: no TLS session (certificate, name, handshake)
    // A strict audit rule's event could not be committed.
    audit_unavailable,  // 503
};

struct proxy_answer_row {
    boost::beast::http::status status;
    error_type error;
};

// The table itself: what the client gets and what the record says, per answer.
constexpr proxy_answer_row answer_row(proxy_answer a) {
    using boost::beast::http::status;
    switch (a) {
        case proxy_answer::bad_request:
            return {status::bad_request, error_type::bad_request};
        case proxy_answer::method_not_allowed:
            return {status::method_not_allowed, error_type::bad_request};
        case proxy_answer::request_timeout:
            return {status::request_timeout, error_type::bad_request};
        case proxy_answer::payload_too_large:
            return {status::payload_too_large, error_type::bad_request};
        case proxy_answer::uri_too_long:
            return {status::uri_too_long, error_type::bad_request};
        case proxy_answer::expectation_failed:
            return {status::expectation_failed, error_type::bad_request};
        case proxy_answer::header_too_large:
            return {status::request_header_fields_too_large, error_type::bad_request};
        case proxy_answer::upstream_connect:
            return {status::bad_gateway, error_type::upstream_connect};
        case proxy_answer::upstream_reset:
            return {status::bad_gateway, error_type::upstream_reset};
        case proxy_answer::upstream_bad_response:
            return {status::bad_gateway, error_type::upstream_bad_response};
        case proxy_answer::upstream_timeout:
            return {status::gateway_timeout, error_type::upstream_timeout};
        case proxy_answer::upstream_tls:
            return {status::bad_gateway, error_type::upstream_tls};
        case proxy_answer::audit_unavailable:
            return {status::service_unavailable, error_type::audit_unavailable};
    }
    return {status::internal_server_error, error_type::none};  // not reached
}

// The answer to a request head the head check refused (not head_verdict::ok).
proxy_answer head_answer(head_verdict v);

// The answer to a request body that could not be read: 413 over the body limit, 400 when it
// is malformed, 408 when it came too slowly; none when the client went away (or no error).
std::optional<proxy_answer> body_answer(const boost::beast::error_code& ec);

}  // namespace sidelight::proxy
