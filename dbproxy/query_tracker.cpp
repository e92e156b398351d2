// The request/answer matching of query_tracker.hpp.
#include "dbproxy/query_tracker.hpp"

#include <algorithm>
#include <iterator>

namespace sidelight::dbproxy {
namespace {

// The server keeps NAMEDATALEN - 1 bytes of a statement's or portal's name.
std::string_view server_name(std::string_view name) {
    return name.substr(0, 63);
}

}  // namespace

const statement_info query_tracker::unknown_info{};

std::optional<protocol_error> query_tracker::on_frontend(char type, std::string_view body,
                                                         clock::time_point now) {
    if (stopped_) return std::nullopt;
    if (type == 'c' || type == 'f') copy_in_ = false;   // CopyDone, CopyFail
    if (skipping_ && type != 'S') return std::nullopt;  // the server discards these until Sync
    cursor c{body};
    switch (type) {
        case 'Q':
            // A simple query destroys the unnamed portal (here, when everything before it has
            // been answered: a Q pipelined behind extended messages leaves the cursor to the
            // transaction's end).
            if (queue_.empty()) end_suspended("");
            simple_query(c.cstring().value_or(body), now);
            break;
        case 'P': {
            const auto name = c.cstring().value_or("");
            // A text longer than the splitter keeps (64 KiB) has lost its NUL: its start is
            // still what the lexer labels it by.
            const auto sql = c.cstring().value_or(body.substr(std::min(c.at, body.size())));
            const auto& parsed = cache_.statements(sql, mode_);
            auto statement = describe(parsed.empty() ? unknown_info : parsed.front(), sql);
            auto before = statements_.peek(name);
            statements_.set(name, statement);
            queue_.push_back({step::parse, now, std::move(statement),
                              std::string(server_name(name)), before.value_or(nullptr),
                              before.has_value()});
            ++parses_;
            unsynced_ = true;
            break;
        }
        case 'B': {
            const auto portal = c.cstring().value_or("");
            const auto statement = statements_.get(c.cstring().value_or(""));
            auto before = portals_.peek(portal);
            portals_.set(portal, statement);
            queue_.push_back({step::bind, now, statement, std::string(server_name(portal)),
                              before.value_or(nullptr), before.has_value()});
            unsynced_ = true;
            break;
        }
        case 'D':
            queue_.push_back({step::describe, now});
            unsynced_ = true;
            break;
        case 'E': {
            const auto portal = server_name(c.cstring().value_or(""));
            expected e{step::execute, now, portals_.get(portal), std::string(portal)};
            if (e.statement && e.statement->info.prepared != sql_prepared::none)
                e.statement = sent(e.statement->info, e.statement->text, e);
            queue_.push_back(std::move(e));
            unsynced_ = true;
            break;
        }
        case 'C': {
            const auto which = c.byte().value_or('S');
            const auto name = c.cstring().value_or("");
            auto& names = which == 'S' ? statements_ : portals_;
            auto before = names.peek(name);
            names.erase(name);
            // A portal's cursor ends when the server has closed it (CloseComplete).
            queue_.push_back({step::close, now, nullptr, std::string(server_name(name)),
                              before.value_or(nullptr), before.has_value(), which != 'S'});
            unsynced_ = true;
            break;
        }
        case 'S':
            skipping_ = false;
            if (!copy_in_) queue_.push_back({step::sync, now});  // else the server ignores it
            break;
        case 'F':  // FunctionCall (large objects): other/none, up to its response or error
            queue_.push_back({step::simple, now});
            queue_.push_back({step::simple_end, now});
            break;
        default:  // Flush, CopyData/Done/Fail, PasswordMessage, Terminate
            break;
    }
    if (queue_.size() <= max_pending && parses_ <= max_pending_parses) return std::nullopt;
    stopped_ = true;
    queue_.clear();
    parses_ = 0;
    return protocol_error::too_many_pending;
}

void query_tracker::simple_query(std::string_view sql, clock::time_point now) {
    const auto& statements = cache_.statements(sql, mode_);
    // An empty string (or only comments) is answered with one EmptyQueryResponse.
    if (statements.empty()) queue_.push_back({step::simple, now});
    const auto timed = std::min(statements.size(), max_string_statements);
    // The statements' own texts, only when some of them are to be kept (the cache holds labels).
    std::vector<std::string_view> pieces;
    if (keep_text_) pieces = split_statements(sql, mode_);
    for (std::size_t i = 0; i < statements.size(); ++i) {
        const auto piece = i < pieces.size() ? pieces[i] : std::string_view();
        if (i >= timed && statements[i].prepared == sql_prepared::none) continue;
        expected e{step::simple, now};
        e.statement = sent(statements[i], piece, e);
        if (i < timed) queue_.push_back(std::move(e));  // (past them, only the names change)
    }
    queue_.push_back({step::simple_end, now});
}

query_tracker::named_ptr query_tracker::describe(const statement_info& info, std::string_view sql) {
    const bool keep = keep_text_ && keep_text_(info);
    if (keep) return std::make_shared<const named>(named{info, std::string(sql), mode_});
    if (info == unknown_info) return nullptr;
    // Without its text a statement is only its labels: the last one is handed out again (a
    // connection mostly repeats its statements), not allocated per statement.
    if (!last_label_ || last_label_->info != info)
        last_label_ = std::make_shared<const named>(named{info, std::string()});
    return last_label_;
}

void query_tracker::on_backend(char type, std::string_view body, clock::time_point now,
                               std::vector<finished>& out) {
    if (!ended_.empty()) {  // portals the client closed or replaced while suspended
        std::move(ended_.begin(), ended_.end(), std::back_inserter(out));
        ended_.clear();
    }
    const auto front_is = [&](step s) { return !queue_.empty() && queue_.front().what == s; };
    switch (type) {
        case 'S': {  // ParameterStatus: how the text that follows is read
            cursor c{body};
            const auto name = c.cstring();
            const auto value = c.cstring();
            if (name && value) apply_parameter(mode_, *name, *value);
            break;
        }
        case '1':  // ParseComplete
            if (front_is(step::parse)) pop_front();
            break;
        case '2':  // BindComplete: a portal bound again is a new one
            if (front_is(step::bind)) {
                end_suspended(queue_.front().name, out);
                pop_front();
            }
            break;
        case '3':  // CloseComplete
            if (front_is(step::close)) {
                if (queue_.front().of_portal) end_suspended(queue_.front().name, out);
                pop_front();
            }
            break;
        case 'T':  // RowDescription: a Describe's answer, or a simple query's rows ahead
        case 'n':  // NoData
            if (front_is(step::describe)) pop_front();
            break;
        case 'C':  // CommandComplete
        case 'I':  // EmptyQueryResponse
        case 'V':  // FunctionCallResponse
            if (front_is(step::execute) || front_is(step::simple)) finish_front(true, now, out);
            break;
        case 's':  // PortalSuspended: the Execute's row limit reached, the portal goes on
            if (front_is(step::execute)) suspend_front(now, out);
            break;
        case 'G':  // CopyInResponse: the server takes data, ignoring Syncs, until CopyDone
            copy_in_ = true;
            // The Sync sent with the COPY's Execute is ignored; the one after CopyDone answers.
            if (front_is(step::execute)) {
                auto it = queue_.begin() + 1;
                while (it != queue_.end() && it->what == step::sync) it = queue_.erase(it);
            }
            break;
        case 'E':
            copy_in_ = false;  // an error ends COPY IN too: what the client sends next is skipped
            on_error(now, out);
            break;
        case 'Z':  // ReadyForQuery: the end of a Sync or of a simple query string
            pop_through_sync();
            if (!body.empty()) transaction_ = body[0];
            if (queue_.empty()) unsynced_ = false;
            // Idle or failed: the transaction is over, and with it every portal it held.
            if (!body.empty() && body[0] != 'T') {
                for (auto& p : suspended_)
                    out.push_back({std::move(p.statement), p.elapsed, true, false});
                suspended_.clear();
            }
            break;
        default:
            break;
    }
}

void query_tracker::finish_front(bool ok, clock::time_point now, std::vector<finished>& out) {
    auto& e = queue_.front();
    clock::duration earlier{};  // a cursor's runs before this one
    if (e.what == step::execute) {
        if (auto s = take_suspended(e.name)) earlier = s->elapsed;
    }
    out.push_back({std::move(e.statement), earlier + (now - e.start), ok, true, earlier});
    pop_front();
    start_next(now);
}

// The prepared statements of SQL (PREPARE name AS ..., EXECUTE name) share their names with the
// protocol's (a Bind may name a statement PREPARE made, EXECUTE one Parse made), and the server
// runs them in the order sent: a PREPARE names its statement's labels, a DEALLOCATE or DISCARD
// ALL forgets, as they are sent (as Parse and Close do; given back when the server refuses or
// skips them), and an EXECUTE is labelled as the statement it runs (it is the DELETE it runs,
// not other/none; under EXPLAIN ANALYZE or CREATE TABLE AS, what it runs is in the writes).
// They outlive transactions, as the server's do.
query_tracker::named_ptr query_tracker::sent(const statement_info& info, std::string_view sql,
                                             expected& e) {
    const auto change_of = [&](std::string_view name) {
        auto before = statements_.peek(name);
        e.change = std::make_unique<sql_change>(
            sql_change{std::string(name), before.value_or(nullptr), before.has_value()});
    };
    switch (info.prepared) {
        case sql_prepared::none:
            break;
        case sql_prepared::prepare:
            if (!info.prepared_targets.empty()) {
                const auto& targets = info.prepared_targets;
                statement_info runs;
                runs.operation = targets.front().operation;
                runs.table = targets.front().table;
                runs.writes.assign(targets.begin() + 1, targets.end());
                change_of(info.prepared_name);
                statements_.set(info.prepared_name,
                                std::make_shared<const named>(named{std::move(runs), {}, mode_}));
            }
            break;
        case sql_prepared::deallocate:
            change_of(info.prepared_name);
            statements_.erase(info.prepared_name);
            break;
        case sql_prepared::deallocate_all:
            e.change = std::make_unique<sql_change>(
                sql_change{{}, nullptr, false, true, statements_.entries()});
            statements_.clear();
            break;
        case sql_prepared::execute:
            if (auto runs = statements_.peek(info.prepared_name); runs && *runs)
                return describe((*runs)->info, sql);
            break;
        case sql_prepared::execute_inside:
            if (auto runs = statements_.peek(info.prepared_name); runs && *runs) {
                auto with = info;
                add_writes(with, (*runs)->info);
                return describe(with, sql);
            }
            break;
    }
    return describe(info, sql);
}

void query_tracker::give_back(const sql_change& change) {
    if (change.all) {
        statements_.clear();
        for (const auto& [name, statement] : change.names) statements_.set(name, statement);
    } else if (change.existed) {
        statements_.set(change.name, change.previous);
    } else {
        statements_.erase(change.name);
    }
}

void query_tracker::share_time(std::vector<finished>& chunk) {
    std::size_t answered = 0;
    clock::duration total{};
    for (const auto& f : chunk) {
        if (!f.answered) continue;
        ++answered;
        total += f.elapsed - f.earlier;
    }
    if (answered < 2) return;
    const auto each = total / static_cast<clock::duration::rep>(answered);
    for (auto& f : chunk)
        if (f.answered) f.elapsed = f.earlier + each;
}

// A Parse, Bind or Close the server refused, or skipped after an earlier error: its name stands
// for what it did before. A refused Parse or Bind of the unnamed statement or portal has dropped
// that first.
void query_tracker::undo(const expected& e, bool refused) {
    const bool statement = e.what == step::parse || (e.what == step::close && !e.of_portal);
    auto& names = statement ? statements_ : portals_;
    if (e.existed && !(refused && e.name.empty()))
        names.set(e.name, e.previous);
    else
        names.erase(e.name);
}

// The Execute's run joins the earlier ones of its portal (pipelined Executes of one portal are
// answered in order, each adding its time).
void query_tracker::suspend_front(clock::time_point now, std::vector<finished>& out) {
    auto& e = queue_.front();
    const auto ran = now - e.start;
    if (auto it = std::find_if(suspended_.begin(), suspended_.end(),
                               [&](const suspended& x) { return x.portal == e.name; });
        it != suspended_.end()) {
        it->elapsed += ran;
    } else {
        if (suspended_.size() >= max_names) {  // the oldest ends here: bounded whatever is sent
            auto& oldest = suspended_.front();
            out.push_back({std::move(oldest.statement), oldest.elapsed, true, false});
            suspended_.erase(suspended_.begin());
        }
        suspended_.push_back({std::move(e.name), std::move(e.statement), ran});
    }
    pop_front();
    start_next(now);
}

std::optional<query_tracker::suspended> query_tracker::take_suspended(std::string_view portal) {
    if (suspended_.empty()) return std::nullopt;
    portal = server_name(portal);
    for (auto it = suspended_.begin(); it != suspended_.end(); ++it) {
        if (it->portal != portal) continue;
        auto found = std::move(*it);
        suspended_.erase(it);
        return found;
    }
    return std::nullopt;
}

void query_tracker::end_suspended(std::string_view portal) {
    if (auto s = take_suspended(portal))
        ended_.push_back({std::move(s->statement), s->elapsed, true, false});
}

void query_tracker::end_suspended(std::string_view portal, std::vector<finished>& out) {
    if (auto s = take_suspended(portal))
        out.push_back({std::move(s->statement), s->elapsed, true, false});
}

// The next statement queued (of the same string, or an Execute pipelined behind this one)
// starts when this one ended, if it arrived before: until then the server was busy with this.
void query_tracker::start_next(clock::time_point now) {
    for (auto& e : queue_) {
        if (e.what == step::execute || e.what == step::simple) {
            e.start = std::max(e.start, now);
            return;
        }
    }
}

void query_tracker::on_error(clock::time_point now, std::vector<finished>& out) {
    if (queue_.empty()) return;  // during startup or authentication, or a FATAL at any time
    if (queue_.front().what == step::simple) {
        // The string ends here: what this statement and the rest of it (never run) changed in
        // the names is given back, the last first.
        std::size_t run = 0;
        while (run < queue_.size() && queue_[run].what == step::simple) ++run;
        for (auto i = run; i-- > 0;)
            if (queue_[i].change) give_back(*queue_[i].change);
        finish_front(false, now, out);
        while (!queue_.empty() && queue_.front().what == step::simple) pop_front();
        return;
    }
    // A statement of a long string beyond the timed ones: its ReadyForQuery ends it.
    if (queue_.front().what == step::simple_end) return;
    // Extended protocol: the Execute that failed, or the one a failed Parse/Bind/Describe was
    // for; with none queued, the Parse, Bind or Describe itself. Then everything up to Sync is
    // skipped by the server (a pipelined Q too).
    std::vector<expected> gone;  // the refused message, then those the server skips
    while (!queue_.empty() && queue_.front().what != step::sync) {
        gone.push_back(std::move(queue_.front()));
        pop_front();
    }
    // An error in answer to the Sync itself (a deferred constraint or a serialization failure at
    // the implicit COMMIT): the statements were answered already, and nothing is skipped.
    if (gone.empty()) return;
    for (auto i = gone.size(); i-- > 0;) {  // the last given back first
        const auto what = gone[i].what;
        if (what == step::parse || what == step::bind || what == step::close) undo(gone[i], i == 0);
        if (gone[i].change) give_back(*gone[i].change);
    }
    // The error is the Execute's it was for; with none queued, a refused Parse's or Bind's own.
    const auto execute = std::find_if(gone.begin(), gone.end(),
                                      [](const expected& e) { return e.what == step::execute; });
    if (execute != gone.end()) {
        // A cursor's runs before the one that failed; not when a Bind before it named the same
        // portal (refused: the portal exists; that cursor goes on, or ends with its transaction).
        const bool rebound = std::any_of(gone.begin(), execute, [&](const expected& e) {
            return e.what == step::bind && e.name == execute->name;
        });
        clock::duration earlier{};
        if (!rebound)
            if (auto s = take_suspended(execute->name)) earlier = s->elapsed;
        out.push_back({std::move(execute->statement), earlier + (now - execute->start), false, true,
                       earlier});
    } else if (gone.front().what == step::parse || gone.front().what == step::bind) {
        out.push_back({gone.front().statement, now - gone.front().start, false});
    }
    start_next(now);
    if (queue_.empty()) skipping_ = true;
}

void query_tracker::pop_front() {
    if (queue_.front().what == step::parse) --parses_;
    queue_.pop_front();
}

void query_tracker::pop_through_sync() {
    for (std::size_t i = 0; i < queue_.size(); ++i) {
        const auto s = queue_[i].what;
        if (s == step::sync || s == step::simple_end) {
            const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(i) + 1;
            parses_ -= static_cast<std::size_t>(std::count_if(
                queue_.begin(), end, [](const expected& e) { return e.what == step::parse; }));
            queue_.erase(queue_.begin(), end);
            return;
        }
    }
}

void query_tracker::name_map::set(std::string_view name, named_ptr value) {
    name = server_name(name);
    if (auto it = index_.find(name); it != index_.end()) {
        it->second->second = std::move(value);
        order_.splice(order_.begin(), order_, it->second);
        return;
    }
    if (index_.size() >= max_names) {
        index_.erase(order_.back().first);
        order_.pop_back();
    }
    order_.emplace_front(std::string(name), std::move(value));
    index_.emplace(order_.front().first, order_.begin());
}

query_tracker::named_ptr query_tracker::name_map::get(std::string_view name) {
    auto it = index_.find(server_name(name));
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
}

std::optional<query_tracker::named_ptr> query_tracker::name_map::peek(std::string_view name) const {
    auto it = index_.find(server_name(name));
    if (it == index_.end()) return std::nullopt;
    return it->second->second;
}

std::vector<std::pair<std::string, query_tracker::named_ptr>> query_tracker::name_map::entries()
    const {
    return {order_.rbegin(), order_.rend()};
}

void query_tracker::name_map::clear() {
    index_.clear();
    order_.clear();
}

void query_tracker::name_map::erase(std::string_view name) {
    auto it = index_.find(server_name(name));
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
}

}  // namespace sidelight::dbproxy
