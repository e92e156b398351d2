#pragma once
// One client connection of a database listener: the startup (SSLRequest and GSSENCRequest
// answered 'N', a CancelRequest forwarded to the server that issued the key, the
// StartupMessage relayed), then two pumps that forward the bytes unmodified both ways while a
// query_tracker reads the message boundaries and times every statement. Authentication
// (trust, password, md5, SCRAM) is between the client and the server: sidelight relays it.
//
// A peer that breaks the protocol (dbproxy/wire.hpp's protocol_error: a bad length or type, a
// bad startup packet, a message cut by a close, too many messages awaiting an answer) ends the
// connection on both sides, no half-open socket left: the chunk that held the violation is not
// forwarded, the client gets a FATAL ErrorResponse with SQLSTATE 08P01 when the bytes it was
// sent so far end at a message boundary, and the observer counts the reason.
//
// Runs on the database thread; a session is owned by its coroutine (shared_ptr).

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dbproxy/cancel_keys.hpp"
#include "dbproxy/database_link.hpp"
#include "dbproxy/io.hpp"
#include "dbproxy/observer.hpp"
#include "dbproxy/query_tracker.hpp"
#include "dbproxy/statement_cache.hpp"
#include "dbproxy/table_labels.hpp"
#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {

// One configured database, as its sessions use it. Built once at start.
struct database {
    std::size_t index = 0;
    config::database_config cfg;
    std::shared_ptr<net::ssl::context> tls;  // null: tls disable
    table_labels tables;
    statement_cache cache;  // used on the database thread only

    database(std::size_t i, config::database_config c, std::shared_ptr<net::ssl::context> t)
        : index(i), cfg(std::move(c)), tls(std::move(t)), tables(cfg.max_tables) {}
};

// What every session shares: the databases (by index), the cancel keys, the observer.
struct shared_state {
    std::vector<std::unique_ptr<database>> databases;
    cancel_keys keys;
    observer& obs;
};

class session : public std::enable_shared_from_this<session> {
  public:
    session(tcp_socket client, database& db, shared_state& shared);
    ~session();

    task<void> run();
    void close();  // both sides; the pumps end

  private:
    task<bool> read_startup(std::string& packet);
    task<void> forward_cancel(const std::string& packet);
    task<void> refuse(const std::string& message);
    task<void> run_pumps();  // both pumps, until both have ended
    task<void> client_to_database();
    task<void> database_to_client();
    void on_database_message(char type, std::string_view body,
                             query_tracker::clock::time_point now);
    void fail(protocol_error reason, std::string_view side);  // the first one counts
    task<void> report_violation();                            // the 08P01 ErrorResponse
    void stop_pumps();
    void read_startup_parameters(std::string_view packet);
    const config::db_audit_rule* audit_rule_for(const query_tracker::finished& f) const;
    void audit(const query_tracker::finished& f, const config::db_audit_rule& rule, double ms);

    tcp_socket client_;
    database& db_;
    shared_state& shared_;
    std::unique_ptr<database_link> link_;
    io_timer pumps_ended_;  // never expires: cancelled when the second pump ends
    int pumps_running_ = 0;
    // SQL text beyond 64 KiB is not classified.
    message_splitter from_client_{direction::frontend, 64 * 1024};
    message_splitter from_database_{direction::backend, 16};
    query_tracker tracker_;
    std::optional<protocol_error> error_;
    std::string_view error_side_;  // "client" or "database server"
    bool stopping_ = false;
    bool client_mid_message_ = false;  // what the client was sent so far ends inside a message
    std::vector<query_tracker::finished> done_;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> key_;
    // For audit rows (`databases[].audit`): from the StartupMessage, and the app's address.
    std::string user_, dbname_, application_, client_ip_;
};

}  // namespace sidelight::dbproxy
