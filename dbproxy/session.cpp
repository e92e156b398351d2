// The startup and the two pumps of a database connection; see session.hpp.
#include "dbproxy/session.hpp"

#include <algorithm>
#include <tuple>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "dbproxy/drain_read.hpp"

namespace sidelight::dbproxy {
namespace {

constexpr std::size_t buffer_bytes = 16 * 1024;

bool listed(const std::vector<std::string>& list, std::string_view value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

// Does the rule name this statement's operation and table (its outcome aside)?
bool names(const config::db_audit_rule& r, const statement_info& info) {
    return listed(r.operations, info.operation) && listed(r.tables, info.table);
}

// Could a rule of `rules` match this statement, whatever its outcome? Then it keeps its text.
query_tracker::text_filter text_filter_for(const std::vector<config::db_audit_rule>& rules) {
    if (rules.empty()) return {};
    return [&rules](const statement_info& info) {
        return std::any_of(rules.begin(), rules.end(),
                           [&](const config::db_audit_rule& r) { return names(r, info); });
    };
}

// Writes what the socket (non-blocking) takes at once, and returns the rest for an async write.
// A message or two fit in the send buffer nearly always: no trip through the reactor and the
// scheduler, no coroutine suspension for a write that cannot wait.
net::const_buffer write_now(tcp_socket& socket, net::const_buffer data, error_code& ec) {
    while (data.size() > 0) {
        const auto n = socket.write_some(data, ec);
        if (ec == net::error::would_block || ec == net::error::try_again) {
            ec = {};
            break;
        }
        if (ec) break;
        data += n;
    }
    return data;
}

// After a read that emptied the socket the reactor waits for the next edge, and a reset that
// arrived with the last bytes raises none (drain_read.hpp): where that matters the pump reads
// once without waiting (`look`), and again after each read that found bytes, until one finds
// none (would_block: then the reactor's wait is sound). would_block when not looking.
std::tuple<error_code, std::size_t> read_now(tcp_socket& socket, net::mutable_buffer buffer,
                                             bool& look) {
    if (!look) return {net::error::would_block, 0};
    error_code ec;
    const auto n = socket.read_some(buffer, ec);  // non-blocking: see the session's constructor
    if (ec == net::error::try_again) ec = net::error::would_block;
    look = !ec;
    return {ec, n};
}

void log_pump_exception(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("dbproxy: connection ended by exception: {}", ex.what());
    } catch (...) {
        spdlog::error("dbproxy: connection ended by an unknown exception");
    }
}

}  // namespace

session::session(tcp_socket client, database& db, shared_state& shared)
    : client_(std::move(client)),
      db_(db),
      shared_(shared),
      pumps_ended_(client_.get_executor(), io_timer::time_point::max()),
      tracker_(db_.cache, text_filter_for(db_.cfg.audit)) {
    error_code ignored;
    client_.non_blocking(true, ignored);  // for write_now and read_now
    enable_drain_hint(client_.native_handle());
    if (!db_.cfg.audit.empty()) {
        error_code ec;
        const auto peer = client_.remote_endpoint(ec);
        if (!ec) client_ip_ = peer.address().to_string();
    }
    shared_.obs.on_db_connection(1);
}

session::~session() {
    if (key_) shared_.keys.remove(key_->first, key_->second);
    shared_.obs.on_db_connection(-1);
}

void session::close() {
    error_code ignored;
    client_.close(ignored);
    if (link_) link_->close();
}

// Ends both pumps but keeps the client socket open, for the ErrorResponse run() may send.
void session::stop_pumps() {
    stopping_ = true;
    error_code ignored;
    client_.cancel(ignored);
    if (link_) link_->close();
}

void session::fail(protocol_error reason, std::string_view side) {
    if (error_) return;
    error_ = reason;
    error_side_ = side;
    spdlog::warn("event=db_protocol_error database={} side={} reason={}", db_.cfg.name, side,
                 to_string(reason));
    shared_.obs.on_protocol_error(db_.index, to_string(reason));
}

task<void> session::report_violation() {
    const auto error =
        protocol_violation("sidelight: protocol violation by the " + std::string(error_side_) +
                           " (" + std::string(to_string(*error_)) + ")");
    co_await net::async_write(client_, net::buffer(error), use_tuple);
}

task<void> session::run() {
    std::string startup;
    if (!co_await read_startup(startup)) co_return;
    std::string reason;
    link_ = co_await database_link::open(db_.cfg, db_.tls.get(), reason);
    if (!link_) {
        spdlog::warn("event=db_connect_failed database={} upstream={} reason=\"{}\"", db_.cfg.name,
                     db_.cfg.upstream.address.to_string(), reason);
        co_await refuse("sidelight: cannot reach database " + db_.cfg.name + ": " + reason);
        co_return;
    }
    if (!db_.cfg.audit.empty()) read_startup_parameters(startup);
    if (auto ec = co_await link_->write(net::buffer(startup)); ec) co_return;
    co_await run_pumps();
    // Both pumps are done: nothing else writes to the client now.
    if (error_ && !client_mid_message_) co_await report_violation();
    close();
}

// The pumps run as two coroutines of their own rather than under `&&`: a parallel group hands
// every read and write of both a cancellation slot to fill and clear, work per message that
// stop_pumps (which cancels the sockets) makes useless. One that ends by exception stops both.
task<void> session::run_pumps() {
    pumps_running_ = 2;
    const auto ended = [self = shared_from_this()](std::exception_ptr e) {
        if (e) {
            self->stop_pumps();
            log_pump_exception(e);
        }
        if (--self->pumps_running_ == 0) self->pumps_ended_.cancel();
    };
    net::co_spawn(client_.get_executor(), client_to_database(), ended);
    net::co_spawn(client_.get_executor(), database_to_client(), ended);
    while (pumps_running_ > 0) co_await pumps_ended_.async_wait(use_tuple);
}

// SSLRequest and GSSENCRequest get 'N' (the client then sends its StartupMessage in plain
// text); a CancelRequest is forwarded and ends the connection. True with a StartupMessage.
task<bool> session::read_startup(std::string& packet) {
    for (int round = 0; round < 3; ++round) {
        char head[4];
        if (auto [ec, n] = co_await net::async_read(client_, net::buffer(head), use_tuple); ec) {
            if (n > 0) fail(protocol_error::truncated, "client");
            co_return false;
        }
        const auto length = read_u32(std::string_view(head, 4), 0);
        if (!startup_length_ok(length)) {
            fail(protocol_error::bad_startup, "client");
            co_await report_violation();
            co_return false;
        }
        packet.assign(head, 4);
        packet.resize(length);
        auto [ec, n] = co_await net::async_read(client_, net::buffer(packet.data() + 4, length - 4),
                                                use_tuple);
        if (ec) {
            fail(protocol_error::truncated, "client");
            co_return false;
        }
        const auto kind = startup_kind(packet);
        if (kind == startup_type::ssl_request || kind == startup_type::gssenc_request) {
            static const char no = 'N';
            if (auto [wec, w] = co_await net::async_write(client_, net::buffer(&no, 1), use_tuple);
                wec)
                co_return false;
            continue;
        }
        if (kind == startup_type::cancel_request) {
            co_await forward_cancel(packet);
            co_return false;
        }
        if (kind == startup_type::startup_message) co_return true;
        fail(protocol_error::bad_startup, "client");
        co_await report_violation();
        co_return false;
    }
    co_return false;
}

task<void> session::forward_cancel(const std::string& packet) {
    const auto pid = read_u32(packet, 8);
    const auto secret = read_u32(packet, 12);
    const auto target = shared_.keys.find(pid, secret);
    if (!target) {
        spdlog::debug("event=db_cancel_unknown_key database={}", db_.cfg.name);
        co_return;
    }
    auto& db = *shared_.databases[*target];
    std::string reason;
    auto link = co_await database_link::open(db.cfg, db.tls.get(), reason);
    if (!link) {
        spdlog::warn("event=db_cancel_failed database={} reason=\"{}\"", db.cfg.name, reason);
        co_return;
    }
    co_await link->write(net::buffer(packet));
    // The server closes the connection once it has read the request.
    char byte;
    co_await link->read_some(net::buffer(&byte, 1));
}

task<void> session::refuse(const std::string& message) {
    const auto error = error_response(message);
    co_await net::async_write(client_, net::buffer(error), use_tuple);
}

// A read that fails in the middle of a message is a truncation, unless sidelight itself stopped
// the pumps (stop_pumps cancels the reads).
task<void> session::client_to_database() {
    std::vector<char> buffer(buffer_bytes);
    bool drained = false, look = false;
    while (!stopping_) {
        auto [ec, n] = read_now(client_, net::buffer(buffer), look);
        if (ec == net::error::would_block)
            std::tie(ec, n) = co_await client_.async_read_some(
                drain_buffer{net::buffer(buffer), &drained}, use_tuple);
        if (ec) {
            if (!stopping_ && !from_client_.at_boundary())
                fail(protocol_error::truncated, "client");
            break;
        }
        const auto now = query_tracker::clock::now();
        std::optional<protocol_error> tracked;
        from_client_.feed(std::span<const char>(buffer.data(), n),
                          [&](char type, std::string_view body) {
                              if (auto e = tracker_.on_frontend(type, body, now); e && !tracked)
                                  tracked = e;
                          });
        if (auto e = from_client_.error() ? from_client_.error() : tracked) {
            fail(*e, "client");
            break;  // the chunk with the violation is not forwarded
        }
        const auto chunk = net::buffer(buffer.data(), n);
        if (auto* plain = link_->plain()) {
            error_code wec;
            const auto rest = write_now(*plain, chunk, wec);
            if (!wec && rest.size() > 0)
                std::tie(wec, std::ignore) = co_await net::async_write(*plain, rest, use_tuple);
            if (wec) break;
        } else if (co_await link_->write(chunk)) {
            break;
        }
        // A reset that came with these bytes shows when the answer now due is written to the
        // client; with no answer due, or mid-message, look for one now (read_now).
        look = look || (drained && !(from_client_.at_boundary() && tracker_.pending() > 0));
    }
    stop_pumps();
}

task<void> session::database_to_client() {
    std::vector<char> buffer(buffer_bytes);
    bool drained = false, look = false;
    while (!stopping_) {
        auto* plain = link_->plain();
        auto [ec, n] = plain ? read_now(*plain, net::buffer(buffer), look)
                             : std::tuple<error_code, std::size_t>{net::error::would_block, 0};
        // (if/else, not ?: : GCC 12 mishandles co_await in a conditional expression)
        if (ec == net::error::would_block && plain) {
            std::tie(ec, n) = co_await plain->async_read_some(
                drain_buffer{net::buffer(buffer), &drained}, use_tuple);
        } else if (ec == net::error::would_block) {
            std::tie(ec, n) = co_await link_->read_some(net::buffer(buffer));
        }
        if (ec) {
            if (!stopping_ && !from_database_.at_boundary())
                fail(protocol_error::truncated, "database server");
            break;
        }
        // One clock read per chunk: its messages arrived together (an answer's 2/D/C/Z).
        const auto now = query_tracker::clock::now();
        from_database_.feed(
            std::span<const char>(buffer.data(), n),
            [&](char type, std::string_view body) { on_database_message(type, body, now); });
        if (auto e = from_database_.error()) {
            fail(*e, "database server");
            break;  // the chunk with the violation is not forwarded
        }
        error_code wec;
        const auto rest = write_now(client_, net::buffer(buffer.data(), n), wec);
        if (!wec && rest.size() > 0)
            std::tie(wec, std::ignore) = co_await net::async_write(client_, rest, use_tuple);
        client_mid_message_ = wec || !from_database_.at_boundary();
        if (wec) break;
        // After a whole answer, a reset that came with it shows when the client's next message
        // is written to the server; mid-message, look for one now (read_now).
        look = look || (drained && !from_database_.at_boundary());
        // Recorded once the answer is on its way: the client never waits for telemetry.
        for (const auto& f : done_) {
            const double ms = std::chrono::duration<double, std::milli>(f.elapsed).count();
            const bool slow = f.elapsed > db_.cfg.slow_query;
            const auto table = db_.tables.label(f.info.table);
            shared_.obs.on_query({db_.index, f.info.operation, table, ms, f.ok, slow});
            if (const auto* rule = audit_rule_for(f)) audit(f, *rule, ms);
            if (slow)
                spdlog::warn(
                    "event=db_slow_query database={} operation={} table={} "
                    "duration_ms={:.1f}",
                    db_.cfg.name, f.info.operation, table, ms);
        }
        done_.clear();
    }
    stop_pumps();
}

// StartupMessage: length, protocol, then name/value C strings up to an empty name.
void session::read_startup_parameters(std::string_view packet) {
    cursor c{packet, 8};
    while (auto name = c.cstring()) {
        if (name->empty()) break;
        const auto value = c.cstring();
        if (!value) break;
        if (*name == "user") user_ = *value;
        if (*name == "database") dbname_ = *value;
        if (*name == "application_name") application_ = *value;
    }
    if (dbname_.empty()) dbname_ = user_;
}

const config::db_audit_rule* session::audit_rule_for(const query_tracker::finished& f) const {
    for (const auto& r : db_.cfg.audit) {  // first match wins
        if (names(r, f.info) && (r.outcome == "any" || (r.outcome == "ok") == f.ok)) return &r;
    }
    return nullptr;
}

void session::audit(const query_tracker::finished& f, const config::db_audit_rule& rule,
                    double ms) {
    statement_audit a;
    a.database = db_.index;
    a.database_name = db_.cfg.name;
    a.rule = &rule;
    a.operation = f.info.operation;
    a.table = f.info.table;
    a.ok = f.ok;
    a.duration_ms = ms;
    a.user = user_;
    a.dbname = dbname_;
    a.application = application_;
    a.client_ip = client_ip_;
    a.statement = normalize(f.text);
    a.fingerprint = fingerprint(a.statement);
    shared_.obs.on_statement_audit(a);
}

void session::on_database_message(char type, std::string_view body,
                                  query_tracker::clock::time_point now) {
    if (type == 'K' && body.size() >= 8 && !key_) {  // BackendKeyData
        key_ = {read_u32(body, 0), read_u32(body, 4)};
        shared_.keys.add(key_->first, key_->second, db_.index);
    }
    tracker_.on_backend(type, body, now, done_);
}

}  // namespace sidelight::dbproxy
