#pragma once
// The database listeners of one config (`databases`): one acceptor per database, all served by
// one io_context on one thread, the database thread, where each accepted connection is a
// session (startup, TLS, CancelRequests); once started, a connection to a server in plain TCP
// moves to the relay's thread (dbproxy/relay.hpp), one with TLS stays.
//
//   The constructor builds the TLS contexts and picks the relay's engine (logged).
//   start(): binds every listener (throws std::runtime_error naming the database on failure),
//            then starts both threads.
//   drain(): (a shutdown, before stop()) new connections are refused with FATAL 57P03 (the
//            listeners still take CancelRequests); each connection ends once it is idle,
//            between statements and outside a transaction, its client sent FATAL 57P01 as
//            PostgreSQL's own shutdown sends it (relay.hpp). connections() counts those still
//            open.
//   stop():  closes the listeners and every open connection, then joins both threads.
//
// Thread-safety: start/stop/port from the owning thread; the observer is called on the
// database thread.

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "dbproxy/io.hpp"
#include "dbproxy/observer.hpp"
#include "dbproxy/relay.hpp"
#include "dbproxy/session.hpp"

namespace sidelight::dbproxy {

class server {
  public:
    // Throws std::runtime_error when `io` names an engine this kernel does not give.
    // `startup_timeout`: see shared_state.
    server(std::vector<config::database_config> databases, config::database_io io, observer& obs,
           std::chrono::milliseconds startup_timeout);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void start();
    void drain();
    void stop();
    std::size_t connections() const { return shared_.open.load(); }
    std::uint16_t port(std::size_t database) const { return ports_.at(database); }
    // The relay's engine ("io_uring" or "epoll") and why it failed ("" while it runs): /healthz.
    std::string_view relay_engine() const { return relay_->engine(); }
    std::string relay_failure() const { return relay_->failure(); }

  private:
    task<void> accept_loop(std::size_t database);
    task<void> serve(std::shared_ptr<session> s);

    // One thread, and every socket used on it only (stop() posts): no locking around each
    // socket's reactor state, the scheduler's own kept for that post.
    net::io_context ioc_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    shared_state shared_;
    std::unique_ptr<relay> relay_;  // after shared_: its connections' watches use it
    std::vector<std::unique_ptr<tcp_acceptor>> acceptors_;
    std::vector<std::uint16_t> ports_;
    std::set<session*> open_;  // touched on the database thread only
    std::thread thread_;
};

}  // namespace sidelight::dbproxy
