#pragma once
// Which statement each server answer belongs to, for one client connection: the client's
// messages say what is asked (a simple query's statements, or Parse/Bind/Describe/Execute/
// Close/Sync of the extended protocol, pipelined or not), the server's say how each ended.
// A statement is timed from the message that starts it (Q for a string's first statement;
// Execute in the extended protocol) to its CommandComplete, EmptyQueryResponse or ErrorResponse.
// A portal read in chunks (Execute with a row limit, answered PortalSuspended: a cursor) is one
// statement, timed by the sum of its Executes (not the client's time between them); it ends at
// its CommandComplete or error, or, read only in part, when the portal goes: Close, a Bind
// that reuses its name (or, for the unnamed portal, a simple Query), or the end of the
// transaction (ReadyForQuery idle or failed). A statement
// queued behind another (the next of a string, or Executes pipelined before the server answered the
// first) starts no earlier than the previous one ended: the server runs them one after the other,
// and a batch of 256 inserts is 256 short statements, not 256 that each took the whole batch's
// time.
//
//   simple query:  an error ends the string: the statements after it are not timed.
//   extended:      an error skips everything up to Sync (the server does, a pipelined Q
//                  included); a Parse, Bind or Describe error is the error of the Execute
//                  queued behind it, if there is one; alone (a PQprepare, or postgres.js's
//                  Parse/Describe/Flush before it binds), it is that statement's error. A
//                  named statement keeps its SQL's operation and table until Close; a portal
//                  its statement's.
//   COPY IN:       the server ignores a Sync sent while it takes the data (the extended
//                  protocol's own, sent with the Execute, and any other before CopyDone or
//                  CopyFail): the answer to COPY's Sync is the one sent after CopyDone.
//   FunctionCall:  a statement other/none (the large-object calls), ended by its
//                  FunctionCallResponse or error, answered up to its ReadyForQuery.
//   NOTIFY, notices, ParameterStatus: no effect (a statement ends with its 'C').
//
// Bounded whatever the client sends: at most max_pending client messages awaiting the server's
// answer, max_pending_parses of them Parses (one more and on_frontend reports too_many_pending:
// the session closes the connection; a batch of Bind/Execute pairs, asyncpg's executemany, may
// hold tens of thousands, a flood of Parses is cut sooner); at most max_string_statements
// statements of one simple-query string are timed (the server's answers to the rest are dropped at
// its ReadyForQuery); at most max_names named statements and max_names portals are remembered,
// names cut at 63 bytes as the server cuts them (NAMEDATALEN): one more evicts the least recently
// used, whose later Executes are labelled other/none. Evicting instead of closing: a statement
// dropped with SQL (DEALLOCATE, DISCARD ALL) or a portal ended with its transaction is never seen
// to go, so a well-behaved client that runs for days would cross any cap. SQL texts are lexed
// through the listener's statement_cache.
//
// Pure state, no I/O; not thread-safe (one per connection, driven from the database thread).

#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dbproxy/sql_lexer.hpp"
#include "dbproxy/statement_cache.hpp"
#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {

class query_tracker {
  public:
    using clock = std::chrono::steady_clock;

    static constexpr std::size_t max_pending = 100'000;
    static constexpr std::size_t max_pending_parses = 10'000;
    static constexpr std::size_t max_string_statements = 1'000;
    static constexpr std::size_t max_names = 4'096;

    // Which statements keep their SQL text until they finish (the database's audit rules ask
    // for some); none without it. Called once per statement as it is parsed or queued.
    using text_filter = std::function<bool(const statement_info&)>;

    explicit query_tracker(statement_cache& cache, text_filter keep_text = {})
        : cache_(cache), keep_text_(std::move(keep_text)) {}

    // What a statement is, and its SQL when keep_text asked for it (else empty). Shared, not
    // copied, between a named statement, its portals and their queued Executes: a kept text of
    // 64 KiB is held once however often it is bound and executed.
    struct named {
        statement_info info;
        std::string text;
        lex_mode mode{};  // how `text` is read (normalize it so)
    };
    using named_ptr = std::shared_ptr<const named>;  // null: unknown (other/none, no text)

    struct finished {
        named_ptr statement;
        clock::duration elapsed{};
        bool ok = true;
        bool answered = true;       // ended by the server's answer (not by its portal going)
        clock::duration earlier{};  // of `elapsed`, a cursor's runs before the last one
        const statement_info& info() const { return statement ? statement->info : unknown_info; }
        std::string_view text() const { return statement ? statement->text : std::string_view(); }
        lex_mode mode() const { return statement ? statement->mode : lex_mode{}; }
    };

    // A complete client message (type and, up to the splitter's cap, its body); too_many_pending
    // when it makes more than max_pending messages, or max_pending_parses Parses, await an
    // answer (the tracker then stops).
    std::optional<protocol_error> on_frontend(char type, std::string_view body,
                                              clock::time_point now);
    // A complete server message; statements it ends are appended to `out`.
    void on_backend(char type, std::string_view body, clock::time_point now,
                    std::vector<finished>& out);
    // The statements of `chunk` (what one read from the server ended) that its answers ended
    // share their time equally (a cursor's earlier runs stay its own). The server sends a
    // pipeline's or a string's answers when its output buffer fills or at Sync, so they arrive
    // together: without this, the first of them would carry the whole group's time and the rest
    // none (a batch of 1,000 one-millisecond inserts would show a few half-second ones). The sum is
    // unchanged.
    static void share_time(std::vector<finished>& chunk);

    // Nothing asked and not yet answered, no COPY, no open cursor, and the server's last
    // ReadyForQuery said idle (not in a transaction block): the connection may end now without
    // cutting anything short (a shutdown's drain).
    // Also: no extended-protocol message sent since the last Sync's answer (postgres.js's
    // Parse/Describe/Flush waits for its Bind/Execute/Sync; an Execute with Flush leaves its
    // implicit transaction open), and a ReadyForQuery seen (not while authenticating).
    bool idle() const {
        return queue_.empty() && suspended_.empty() && !copy_in_ && !unsynced_ && !skipping_ &&
               transaction_ == 'I';
    }

    std::size_t pending() const { return queue_.size(); }  // for tests
    std::size_t names() const {                            // for tests
        return statements_.size() + portals_.size();
    }

  private:
    static const statement_info unknown_info;

    enum class step { parse, bind, describe, execute, close, sync, simple, simple_end };
    // What a PREPARE, DEALLOCATE or DISCARD ALL sent changed in the prepared statements' names,
    // given back when the server refuses or skips it.
    struct sql_change {
        std::string name;  // "" with `all`
        named_ptr previous;
        bool existed = false;
        bool all = false;  // DEALLOCATE ALL, DISCARD ALL: `names` held every name
        std::vector<std::pair<std::string, named_ptr>> names{};
    };
    struct expected {
        step what;
        clock::time_point start;
        named_ptr statement = nullptr;  // what a parse, bind, execute or simple is for
        // parse: the statement's name; bind, execute: the portal's; close: either's
        std::string name{};
        // parse, bind, close: what `name` stood for before, given back when the server refuses
        // or skips the message (a Parse refused as "already exists" leaves the statement).
        named_ptr previous = nullptr;
        bool existed = false;                  // parse, bind, close: `name` stood for something
        bool of_portal = false;                // close: of a portal (else of a statement)
        std::unique_ptr<sql_change> change{};  // simple, execute: a PREPARE's or DEALLOCATE's
    };
    // A portal whose last Execute was answered PortalSuspended: the statement goes on at its
    // next Execute, or ends (ok) when the portal goes.
    struct suspended {
        std::string portal;
        named_ptr statement;
        clock::duration elapsed{};
    };

    // Names to statement_info, at most max_names, least recently used evicted first.
    class name_map {
      public:
        void set(std::string_view name, named_ptr value);
        named_ptr get(std::string_view name);  // null when unknown
        void erase(std::string_view name);
        void clear();
        // Every name, least recently used first (set() them in that order to rebuild the map).
        std::vector<std::pair<std::string, named_ptr>> entries() const;
        // What `name` stands for now, if anything (its place in the order unchanged).
        std::optional<named_ptr> peek(std::string_view name) const;
        std::size_t size() const { return index_.size(); }

      private:
        using list = std::list<std::pair<std::string, named_ptr>>;
        list order_;                                                  // most recently used first
        std::unordered_map<std::string_view, list::iterator> index_;  // views order_'s names
    };

    void simple_query(std::string_view sql, clock::time_point now);
    void finish_front(bool ok, clock::time_point now, std::vector<finished>& out);
    void undo(const expected& e, bool refused);
    void on_error(clock::time_point now, std::vector<finished>& out);
    void pop_front();  // of queue_, keeping parses_
    void pop_through_sync();
    void suspend_front(clock::time_point now, std::vector<finished>& out);
    std::optional<suspended> take_suspended(std::string_view portal);
    // Its statement is finished, ok: into ended_ (reported with the next server message), or
    // into `out`.
    void end_suspended(std::string_view portal);
    void end_suspended(std::string_view portal, std::vector<finished>& out);

    named_ptr describe(const statement_info& info, std::string_view sql);
    // A statement as the client sends it, described: a PREPARE or DEALLOCATE changes the names
    // now (in order with Parse and Close), what it changed into `e`; an EXECUTE is what it runs.
    named_ptr sent(const statement_info& info, std::string_view sql, expected& e);
    void give_back(const sql_change& change);
    void start_next(clock::time_point now);

    statement_cache& cache_;
    text_filter keep_text_;
    std::deque<expected> queue_;
    std::size_t parses_ = 0;  // of queue_, Parse messages
    bool skipping_ = false;   // extended-protocol error seen, Sync not yet sent: the server skips
    bool copy_in_ = false;    // CopyInResponse seen, CopyDone/CopyFail not yet sent
    bool stopped_ = false;    // too_many_pending reported: nothing more is tracked
    char transaction_ = 0;    // the last ReadyForQuery's status (I, T, E); 0 before the first
    lex_mode mode_;           // from the server's ParameterStatus messages
    bool unsynced_ = false;   // P/B/D/E/C sent, not yet answered by a Sync's ReadyForQuery
    name_map statements_;     // prepared, by name (by Parse or by SQL PREPARE: one namespace)
    name_map portals_;
    named_ptr last_label_;              // describe()'s last statement without its text
    std::vector<suspended> suspended_;  // at most max_names, oldest first
    std::vector<finished> ended_;       // portals gone on the client's word, reported next
};

}  // namespace sidelight::dbproxy
