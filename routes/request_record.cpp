#include "routes/request_record.hpp"

namespace sidelight::routes {

std::string_view error_label(error_type e) {
    switch (e) {
        case error_type::none:
            return "";
        case error_type::client_error:
            return "client_error";
        case error_type::server_error:
            return "server_error";
        case error_type::upstream_connect:
            return "upstream_connect";
        case error_type::upstream_timeout:
            return "upstream_timeout";
        case error_type::upstream_reset:
            return "upstream_reset";
        case error_type::client_abort:
            return "client_abort";
        case error_type::audit_unavailable:
            return "audit_unavailable";
        case error_type::upstream_bad_response:
            return "upstream_bad_response";
        case error_type::upstream_tls:
            return "upstream_tls";
        case error_type::bad_request:
            return "bad_request";
    }
    return "";
}

std::string_view connection_label(connection_type t) {
    switch (t) {
        case connection_type::client:
            return "client";
        case connection_type::upstream:
            return "upstream";
        case connection_type::websocket:
            return "websocket";
        case connection_type::db:
            return "db";
    }
    return "";
}

}  // namespace sidelight::routes
