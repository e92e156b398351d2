#pragma once
// The client side: one coroutine per accepted connection, serving requests in a keep-alive
// loop. Each request is validated (header_check), rewritten (header_rewrite), relayed to the
// app over a pooled connection with bodies streamed through one fixed buffer, and its
// response streamed back; then one request_record goes to the observer. The session itself is
// client_session (client_session.hpp), defined by part across the proxy's session files.
//
// Runs on its worker's thread only.

#include "proxy/io.hpp"

namespace sidelight::proxy {

struct worker;

// Serves one client connection until it closes. Never throws.
task<void> serve_client(worker& w, tcp_socket socket);

// Called on the worker's thread when draining starts: idle keep-alive connections are closed,
// busy ones finish their current exchange with `Connection: close`.
void close_idle_sessions(worker& w);

// The worker's watchdog, every io_deadline::period: enforces the I/O deadlines of every
// session (the timeouts), and watches the clients of exchanges slower than 100 ms, so that a
// client that leaves is noticed while the app is still working (see client_session).
void run_watchdog(worker& w);

// Closes every session of the worker at once (grace period over).
void abort_sessions(worker& w);

}  // namespace sidelight::proxy
