#pragma once
// The byte tunnel an upgraded connection (WebSocket, or any `Upgrade` the app accepts with 101)
// becomes: two symmetric pumps, client side to upstream side and back, each through its own
// fixed buffer, so a slow reader on one side slows the writer on the other (backpressure).
// When one side ends its stream, the other side's write half is shut down and the other
// direction keeps going until it ends too; an error on either side closes both. The tunnel
// closes when no read or write has completed either way for `idle` (checked by a timer per
// tunnel, not per operation).
// Runs on the session's worker thread.

#include <chrono>

#include <boost/beast/core/flat_buffer.hpp>

#include "proxy/io.hpp"

namespace sidelight::proxy {

struct tunnel_result {
    std::uint64_t client_to_upstream = 0;
    std::uint64_t upstream_to_client = 0;
    bool idle_timeout = false;
};

// Bytes already read past the HTTP exchange (`client_pending`, `upstream_pending`) are sent
// first.
task<tunnel_result> run_tunnel(tcp_socket& client, boost::beast::flat_buffer& client_pending,
                               tcp_socket& upstream, boost::beast::flat_buffer& upstream_pending,
                               std::chrono::milliseconds idle);

}  // namespace sidelight::proxy
