#pragma once
// One proxy worker: a thread running its own io_context, with its own acceptor (SO_REUSEPORT),
// its own upstream pool and the list of its client sessions. Everything here is touched only
// from the worker's thread, except `shared` (read-only or atomic) — hence no locks.

#include <atomic>
#include <list>
#include <memory>
#include <optional>
#include <thread>

#include "config/config.hpp"
#include "proxy/client_address.hpp"
#include "proxy/listener.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/vocabulary.hpp"

namespace sidelight::proxy {

class client_session;

// State shared by all workers: immutable after start, or atomic.
struct shared_state {
    std::shared_ptr<const config::config> cfg;
    listener_spec listener;    // what this server serves: its address, upstream, rewrite mode
    upstream_target upstream;  // listener.upstream, resolved (and its TLS context) at start
    observer* obs = nullptr;
    published<routing>* routes = nullptr;  // replaced on reload
    std::vector<cidr> trusted_proxies;     // from proxy.trusted_proxies
    audit_gate* gate = nullptr;            // strict audit delivery; null: none
    std::atomic<std::size_t> client_connections{0};
    std::atomic<bool> draining{false};
};

struct worker {
    explicit worker(shared_state& s) : shared(s), pool(ioc, s.upstream, *s.obs) {}

    shared_state& shared;
    // Declared before ioc: coroutine frames destroyed with the io_context unlink themselves.
    std::list<client_session*> sessions;
    // One thread runs it, and only that thread touches its sockets (other threads post to
    // it), so the reactor's per-descriptor locks are off; posting and timers keep theirs.
    net::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    std::optional<tcp_acceptor> acceptor;
    upstream_pool pool;
    std::thread thread;
};

}  // namespace sidelight::proxy
