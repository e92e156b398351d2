// The startup of a database connection, and the pumps of one with TLS to the server; see
// session.hpp.
#include "dbproxy/session.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "dbproxy/relay.hpp"

namespace sidelight::dbproxy {
namespace {

constexpr std::size_t buffer_bytes = 16 * 1024;

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
      count_(shared),
      pumps_ended_(client_.get_executor(), io_timer::time_point::max()),
      startup_deadline_(client_.get_executor(), shared.startup_timeout) {}

session::~session() = default;

void session::close() {
    error_code ignored;
    client_.close(ignored);
    if (link_) link_->close();
}

// A session still reading its first packet is left to it: a CancelRequest goes through, a
// StartupMessage is refused (read_startup); one connecting to its server is drained by the
// relay, or by its pumps, once idle.
void session::drain_if_idle() {
    if (!watch_ || stopping_ || !watch_->idle()) return;
    drained_ = true;
    stop_pumps();
}

// Ends both pumps but keeps the client socket open, for the ErrorResponse run() may send.
void session::stop_pumps() {
    stopping_ = true;
    error_code ignored;
    client_.cancel(ignored);
    if (link_) link_->close();
}

task<void> session::run() {
    std::string startup;
    // A client that sends nothing (or too little) does not hold a connection: PostgreSQL's
    // authentication_timeout does the same.
    startup_deadline_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || self->startup_read_) return;  // the packets came in time
        spdlog::warn("event=db_startup_timeout database={}", self->db_.cfg.name);
        error_code ignored;
        self->client_.close(ignored);
    });
    const bool started = co_await read_startup(startup);
    startup_read_ = true;
    startup_deadline_.cancel();
    if (!started) co_return;
    std::string reason;
    link_ = co_await database_link::open(db_.cfg, db_.tls.get(), reason);
    if (!link_) {
        spdlog::warn("event=db_connect_failed database={} upstream={} reason=\"{}\"", db_.cfg.name,
                     db_.cfg.upstream.address.to_string(), reason);
        co_await refuse("sidelight: cannot reach database " + db_.cfg.name + ": " + reason);
        co_return;
    }
    if (auto ec = co_await link_->write(net::buffer(startup)); ec) co_return;
    std::string client_ip;
    if (!db_.cfg.audit.empty()) {
        error_code ec;
        const auto peer = client_.remote_endpoint(ec);
        if (!ec) client_ip = peer.address().to_string();
    }
    const bool tls = link_->encrypted();
    auto observed = std::make_unique<watch>(db_, shared_, tls ? db_.tls_cache : db_.cache, startup,
                                            std::move(client_ip));
    if (!tls) {
        const int server = link_->release();
        error_code ec;
        const int client = client_.release(ec);
        if (server < 0 || ec) {
            if (server >= 0) ::close(server);
            co_return;
        }
        shared_.pumps->adopt(client, server, std::move(observed), std::move(count_));
        co_return;
    }
    watch_ = std::move(observed);
    co_await run_pumps();
    // Both pumps are done: nothing else writes to the client now.
    if ((watch_->failed() || drained_) && !client_mid_message_) {
        const auto farewell = watch_->failed() ? watch_->farewell() : admin_shutdown();
        co_await net::async_write(client_, net::buffer(farewell), use_tuple);
    }
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

task<void> session::refuse_startup(protocol_error reason, bool answer) {
    count_protocol_error(db_, shared_, reason, "client");
    if (!answer) co_return;
    const auto error = violation_farewell(reason, "client");
    co_await net::async_write(client_, net::buffer(error), use_tuple);
}

// SSLRequest and GSSENCRequest get 'N' (the client then sends its StartupMessage in plain
// text); a CancelRequest is forwarded and ends the connection. True with a StartupMessage.
// Reads exactly the packets: what the client sends after its StartupMessage stays in the socket
// for the pumps.
task<bool> session::read_startup(std::string& packet) {
    for (int round = 0; round < 3; ++round) {
        char head[4];
        if (auto [ec, n] = co_await net::async_read(client_, net::buffer(head), use_tuple); ec) {
            if (n > 0) co_await refuse_startup(protocol_error::truncated, false);
            co_return false;
        }
        const auto length = read_u32(std::string_view(head, 4), 0);
        if (!startup_length_ok(length)) {
            co_await refuse_startup(protocol_error::bad_startup, true);
            co_return false;
        }
        packet.assign(head, 4);
        packet.resize(length);
        auto [ec, n] = co_await net::async_read(client_, net::buffer(packet.data() + 4, length - 4),
                                                use_tuple);
        if (ec) {
            co_await refuse_startup(protocol_error::truncated, false);
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
        if (kind == startup_type::startup_message) {
            if (!shared_.draining) co_return true;
            // Draining: no new connection (a CancelRequest, above, still goes through).
            co_await net::async_write(client_, net::buffer(shutting_down()), use_tuple);
            co_return false;
        }
        co_await refuse_startup(protocol_error::bad_startup, true);
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

// A read that fails is a truncation when it cuts a message, unless sidelight itself stopped the
// pumps (stop_pumps cancels the reads).
task<void> session::client_to_database() {
    std::vector<char> buffer(buffer_bytes);
    while (!stopping_) {
        auto [ec, n] = co_await client_.async_read_some(net::buffer(buffer), use_tuple);
        if (ec) {
            if (!stopping_) watch_->client_ended();
            break;
        }
        if (!watch_->from_client(std::span<const char>(buffer.data(), n))) break;
        if (co_await link_->write(net::buffer(buffer.data(), n))) break;
    }
    stop_pumps();
}

task<void> session::database_to_client() {
    std::vector<char> buffer(buffer_bytes);
    while (!stopping_) {
        auto [ec, n] = co_await link_->read_some(net::buffer(buffer));
        if (ec) {
            if (!stopping_) watch_->database_ended();
            break;
        }
        if (!watch_->from_database(std::span<const char>(buffer.data(), n))) break;
        auto [wec, written] =
            co_await net::async_write(client_, net::buffer(buffer.data(), n), use_tuple);
        client_mid_message_ = wec || !watch_->database_at_boundary();
        if (wec) break;
        watch_->record();  // once the answer is on its way: the client never waits for telemetry
        if (shared_.draining && watch_->idle()) {
            drained_ = true;
            break;
        }
    }
    stop_pumps();
}

}  // namespace sidelight::dbproxy
