#pragma once
// Which statement each server answer belongs to, for one client connection: the client's
// messages say what is asked (a simple query's statements, or Parse/Bind/Describe/Execute/
// Close/Sync of the extended protocol, pipelined or not), the server's say how each ended.
// A statement is timed from the message that starts it (Q for a string's first statement, the
// previous one's end for the next; Execute in the extended protocol) to its CommandComplete,
// EmptyQueryResponse, PortalSuspended or ErrorResponse.
//
//   simple query:  an error ends the string: the statements after it are not timed.
//   extended:      an error skips everything up to Sync (the server does); a Parse, Bind or
//                  Describe error is the error of the Execute queued behind it, if there is
//                  one (a PQprepare that fails alone times nothing). A named statement keeps
//                  its SQL's operation and table until Close; a portal its statement's.
//   COPY, NOTIFY, notices, ParameterStatus: no effect (the statement ends with its 'C').
//
// Pure state, no I/O; not thread-safe (one per connection, driven from its strand).

#include <chrono>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dbproxy/sql_lexer.hpp"

namespace sidelight::dbproxy {

class query_tracker {
  public:
    using clock = std::chrono::steady_clock;

    struct finished {
        statement_info info;
        clock::duration elapsed{};
        bool ok = true;
    };

    // A complete client message (type and, up to the splitter's cap, its body).
    void on_frontend(char type, std::string_view body, clock::time_point now);
    // A complete server message; statements it ends are appended to `out`.
    void on_backend(char type, std::string_view body, clock::time_point now,
                    std::vector<finished>& out);

    std::size_t pending() const { return queue_.size(); }  // for tests

  private:
    enum class step { parse, bind, describe, execute, close, sync, simple, simple_end };
    struct expected {
        step what;
        statement_info info;
        clock::time_point start;
    };

    void simple_query(std::string_view sql, clock::time_point now);
    void finish_front(bool ok, clock::time_point now, std::vector<finished>& out);
    void on_error(clock::time_point now, std::vector<finished>& out);
    void pop_through_sync();
    void remember(std::unordered_map<std::string, statement_info>& map, std::string_view name,
                  statement_info info);
    statement_info lookup(const std::unordered_map<std::string, statement_info>& map,
                          std::string_view name) const;

    std::deque<expected> queue_;
    bool skipping_ = false;  // extended-protocol error seen, Sync not yet sent: the server skips
    std::unordered_map<std::string, statement_info> statements_;  // prepared, by name
    std::unordered_map<std::string, statement_info> portals_;
};

}  // namespace sidelight::dbproxy
