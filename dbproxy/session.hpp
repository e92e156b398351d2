#pragma once
// One client connection of a database listener, on the database thread: the startup
// (SSLRequest and GSSENCRequest answered 'N', a CancelRequest forwarded to the server that issued
// the key, the StartupMessage relayed), then the pumps that forward the bytes unmodified both ways
// while a watch (dbproxy/watch.hpp) reads the message boundaries and times every statement.
// Authentication (trust, password, md5, SCRAM) is between the client and the server: sidelight
// relays it.
//
// With a server reached in plain TCP the session hands both sockets and the watch to the relay
// (dbproxy/relay.hpp) and ends; with TLS to the server it runs the two pumps itself, as Asio
// coroutines over the TLS stream. Either way a peer that breaks the protocol ends the connection
// on both sides, no half-open socket left: the chunk that held the violation is not forwarded,
// the client gets a FATAL ErrorResponse with SQLSTATE 08P01 when the bytes it was sent so far
// end at a message boundary, and the observer counts the reason.
//
// A session is owned by its coroutine (shared_ptr).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dbproxy/cancel_keys.hpp"
#include "dbproxy/database_link.hpp"
#include "dbproxy/io.hpp"
#include "dbproxy/observer.hpp"
#include "dbproxy/statement_cache.hpp"
#include "dbproxy/table_labels.hpp"
#include "dbproxy/watch.hpp"
#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {

// One configured database, as its sessions use it. Built once at start.
struct database {
    std::size_t index = 0;
    config::database_config cfg;
    std::shared_ptr<net::ssl::context> tls;  // null: tls disable
    table_labels tables;
    statement_cache cache;      // the relay thread's: connections to the server in plain TCP
    statement_cache tls_cache;  // the database thread's: connections with TLS to the server

    database(std::size_t i, config::database_config c, std::shared_ptr<net::ssl::context> t)
        : index(i), cfg(std::move(c)), tls(std::move(t)), tables(cfg.max_tables) {}
};

class relay;

// What every session shares: the databases (by index), the cancel keys, the observer, and the
// relay that takes over plain-TCP connections.
struct shared_state {
    std::vector<std::unique_ptr<database>> databases;
    cancel_keys keys;
    observer& obs;
    relay* pumps = nullptr;
    // The first packets (SSLRequest, StartupMessage or CancelRequest) must arrive within this
    // of the connection's start (limits.header_read_timeout): else it is closed.
    std::chrono::milliseconds startup_timeout{10'000};
    std::atomic<std::size_t> open{0};  // connections counted (connection_count), either thread
    bool draining = false;             // server::drain() was called; the database thread's
};

class session : public std::enable_shared_from_this<session> {
  public:
    session(tcp_socket client, database& db, shared_state& shared);
    ~session();

    task<void> run();
    void close();  // both sides; the pumps end
    // A drain: a connection whose pumps run and whose watch is idle ends now, its client sent
    // admin_shutdown(); a busy one ends once its answer makes it idle.
    void drain_if_idle();

  private:
    task<bool> read_startup(std::string& packet);
    task<void> refuse_startup(protocol_error reason, bool answer);  // counted; 08P01 if answer
    task<void> forward_cancel(const std::string& packet);
    task<void> refuse(const std::string& message);
    task<void> run_pumps();  // both TLS pumps, until both have ended
    task<void> client_to_database();
    task<void> database_to_client();
    void stop_pumps();

    tcp_socket client_;
    database& db_;
    shared_state& shared_;
    connection_count count_;
    std::unique_ptr<database_link> link_;
    std::unique_ptr<watch> watch_;  // with TLS to the server, once the startup has gone
    io_timer pumps_ended_;          // never expires: cancelled when the second pump ends
    io_timer startup_deadline_;     // closes the client when its first packets are late
    bool startup_read_ = false;     // (a deadline handler already queued then does nothing)
    int pumps_running_ = 0;
    bool stopping_ = false;
    bool drained_ = false;             // ended by a drain: the client gets admin_shutdown()
    bool client_mid_message_ = false;  // what the client was sent so far ends inside a message
};

}  // namespace sidelight::dbproxy
