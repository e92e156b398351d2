#pragma once
// What sidelight observes of one database connection once its StartupMessage has gone to the
// server: the message boundaries of both directions, the statements they time (query_tracker),
// the backend key a CancelRequest will name, the first protocol violation, and the telemetry and
// audit records of finished statements. The pumps that move the bytes (the relay's for plain
// TCP, the session's for TLS) hand every chunk they read to the watch before forwarding it, and
// call record() once a chunk from the database has gone to the client.
//
// A chunk that breaks the protocol (dbproxy/wire.hpp's protocol_error) is refused: the pump does
// not forward it and ends the connection on both sides; the observer counts the reason once, and
// farewell() is the FATAL ErrorResponse (SQLSTATE 08P01) the client is sent when the bytes it got
// so far end at a message boundary.
//
// Not thread-safe: used by one thread at a time (the session's until the relay adopts it).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "dbproxy/query_tracker.hpp"
#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {

struct database;
struct shared_state;

// The operation and table an audit rule matched: the statement's own, or one of its writes
// (statement_info::writes). Views of the statement's labels.
struct audit_target {
    std::string_view operation;
    std::string_view table;
};

// Counts one open database connection for active_connections{type="db"} while it lives; moves
// with the connection from the session to the relay.
class connection_count {
  public:
    explicit connection_count(shared_state& shared);
    connection_count(connection_count&& other) noexcept
        : shared_(std::exchange(other.shared_, nullptr)) {}
    connection_count& operator=(connection_count&&) = delete;
    ~connection_count() { release(); }

    // Stops counting now: the connection has ended while its owner still holds it.
    void release();

  private:
    shared_state* shared_;
};

// A connection of `db` closed for breaking the protocol, by `side` ("client" or "database
// server"): logged and counted (db_protocol_errors_total). The session calls it for a bad
// startup packet, the watch for everything after.
void count_protocol_error(const database& db, shared_state& shared, protocol_error reason,
                          std::string_view side);
// The FATAL ErrorResponse (SQLSTATE 08P01) the client gets for it.
std::string violation_farewell(protocol_error reason, std::string_view side);

class watch {
  public:
    // `startup`: the StartupMessage (user, database, application_name for audit rows);
    // `client_ip`: the app's address; `cache`: the statement cache of the calling thread.
    watch(database& db, shared_state& shared, statement_cache& cache, std::string_view startup,
          std::string client_ip);
    ~watch();  // forgets the backend key
    watch(const watch&) = delete;
    watch& operator=(const watch&) = delete;

    // A chunk read from the client (or the server), before it is forwarded; false when it breaks
    // the protocol: it must not be forwarded, and the connection ends.
    bool from_client(std::span<const char> bytes);
    bool from_database(std::span<const char> bytes);
    // The client's (or the server's) side ended with a close or an error: a truncation when it
    // ended in the middle of a message.
    void client_ended();
    void database_ended();
    // Records the statements the last chunk from the database finished; called once that chunk
    // was forwarded (the client never waits for telemetry).
    void record();

    bool failed() const { return error_.has_value(); }
    // The ErrorResponse for the client after a violation, empty when there was none.
    std::string farewell() const;
    bool database_at_boundary() const { return from_database_.at_boundary(); }
    // Between statements and outside a transaction, every message of both directions whole:
    // ending the connection now cuts nothing short (a shutdown's drain ends it so).
    bool idle() const {
        return !error_ && from_client_.at_boundary() && from_database_.at_boundary() &&
               tracker_.idle();
    }

  private:
    void fail(protocol_error reason, std::string_view side);  // the first one counts
    void on_database_message(char type, std::string_view body,
                             query_tracker::clock::time_point now);
    // The first audit rule that matches the statement, and the part of it that the rule names.
    struct audit_match {
        const config::db_audit_rule* rule;
        audit_target part;
    };
    std::optional<audit_match> audit_rule_for(const query_tracker::finished& f) const;
    void audit(const query_tracker::finished& f, const audit_match& match, double ms);

    database& db_;
    shared_state& shared_;
    // SQL text beyond 64 KiB is not classified.
    message_splitter from_client_{direction::frontend, 64 * 1024};
    // The server's bodies are read for a few bytes: a ReadyForQuery's status, a BackendKeyData,
    // and a ParameterStatus that says how SQL is read (standard_conforming_strings, the
    // encodings: names and values well under 64 bytes).
    message_splitter from_database_{direction::backend, 64};
    query_tracker tracker_;
    std::optional<protocol_error> error_;
    std::string_view error_side_;  // "client" or "database server"
    std::vector<query_tracker::finished> done_;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> key_;
    // For audit rows (`databases[].audit`): from the StartupMessage, and the app's address.
    std::string user_, dbname_, application_, client_ip_;
};

}  // namespace sidelight::dbproxy
