#pragma once
// One HTTP listener of the proxy: `workers` threads, each with its own io_context, SO_REUSEPORT
// acceptor, upstream pool and sessions (see worker.hpp). Which listener — the proxy itself
// (ingress) or an egress listener — comes from its listener_spec (listener.hpp); a server per
// listener. The agent drives its lifecycle:
//   start() -> [serving] -> stop_accepting() -> wait until idle() or grace -> abort() -> join().
// Thread-safety: every public member may be called from any thread (work is posted to the
// workers); the observer is called concurrently from the worker threads.

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "proxy/worker.hpp"

namespace sidelight::proxy {

class server {
  public:
    // The ingress listener (ingress_listener(*cfg)).
    server(std::shared_ptr<const config::config> cfg, observer& obs, published<routing>& routes,
           audit_gate* gate = nullptr);
    // The listener of `spec`; `cfg` still gives the limits, trusted proxies and audit settings.
    server(std::shared_ptr<const config::config> cfg, listener_spec spec, observer& obs,
           published<routing>& routes, audit_gate* gate = nullptr);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Resolves the upstream, builds its TLS context (upstream.tls), binds the listeners and
    // starts the worker threads. Throws std::runtime_error with one clear line (port in use,
    // unresolvable upstream, unreadable tls.ca_file), naming an egress listener.
    void start();
    std::uint16_t port() const { return port_; }

    // Draining: stop accepting, close idle keep-alive connections, let busy ones finish and
    // answer with `Connection: close`.
    void stop_accepting();
    // Number of open client connections.
    std::size_t connections() const;
    // Closes every connection now.
    void abort();
    // Stops the workers and joins their threads.
    void join();

  private:
    void prepare_upstream();
    [[noreturn]] void cannot_listen(const std::string& why) const;
    void bind(worker& w, const tcp::endpoint& ep);
    void refuse_shared_port(const tcp::endpoint& ep);

    shared_state shared_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::uint16_t port_ = 0;
    bool joined_ = false;
};

}  // namespace sidelight::proxy
