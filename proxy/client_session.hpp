#pragma once
// The client side of one connection (see session.hpp): the class behind serve_client(). Its
// members are defined by part, one file each:
//   session.cpp       the keep-alive loop; reading, checking, capturing and rewriting the
//                     request head
//   exchange.cpp      the exchange with the app: connection, retry, 1xx, relaying the response
//   strict_hold.cpp   the strict audit hold of the request or the response
//   client_watch.cpp  the watchdog's part: deadlines, and watching the client of a slow
//                     exchange
//   proxy_answer.cpp  the errors the proxy answers itself, from the error table
//   upgrade.cpp       an accepted upgrade: the 101, then the tunnel
// Private to proxy/. Runs on its worker's thread only.

#include <array>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>

#include "proxy/header_rewrite.hpp"
#include "proxy/http_fields.hpp"
#include "proxy/proxy_answer.hpp"
#include "proxy/relay.hpp"
#include "proxy/worker.hpp"

namespace sidelight::proxy {
namespace session_detail {

namespace http = beast::http;
using steady = std::chrono::steady_clock;
using request_parser = http::request_parser<http::buffer_body, field_allocator<char>>;
using response_parser = http::response_parser<http::buffer_body, field_allocator<char>>;
inline constexpr std::size_t body_buffer_size = 16 * 1024;

}  // namespace session_detail

using namespace session_detail;

class client_session {
  public:
    client_session(worker& w, tcp_socket socket);
    ~client_session();
    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    task<void> run();
    void close_if_idle();
    // Called by the worker's watchdog (every io_deadline::period): cancels the I/O whose
    // deadline passed, and starts watching the client of a slow exchange (client_watch.cpp).
    void on_watchdog(steady::time_point now);
    void arm_slow_watch(steady::time_point now);
    static constexpr std::chrono::milliseconds slow_exchange{100};
    void abort();

  private:
    enum class next { keep_alive, close };
    struct exchange_state;

    // The keep-alive loop and the request head (session.cpp).
    task<next> serve_one();
    task<std::size_t> read_head();
    task<next> forward(request_parser& rp);
    void label_route(std::string_view target);
    bool capture_request(const fields& fields, std::string_view target);
    bool names_captured_field(std::string_view options) const;
    std::optional<proxy_answer> vet_request(request_parser& rp);
    task<next> refuse(const fields& fields, proxy_answer answer);
    void rewrite_request(exchange_state& x);
    task<bool> send_continue();
    void finish(int status, error_type error);
    next client_left();  // the client went away first: recorded as 499, the connection closed
    body_tap tap(method_set wanted, std::string& into, bool& truncated) const {
        if (!wanted.contains(record_.method_id)) return {};
        return {&into, record_.plan->max_body_bytes, &truncated};
    }
    void stamp_start() {
        record_.start = steady::now();
        record_.wall_start = std::chrono::system_clock::now();
    }

    // The exchange with the app (exchange.cpp), over the upstream connections' stream type:
    // tcp_socket, or tls_stream with upstream.tls. forward() picks one, once per exchange, so
    // that a plain exchange reads and writes its socket directly.
    template <class Upstream>
    task<next> respond(exchange_state& x);
    task<bool> connect_upstream(exchange_state& x, upstream_pool::connect_error& err);
    template <class Upstream>
    task<relay_result> send_request(exchange_state& x);
    void fresh_response(exchange_state& x) const;
    template <class Upstream>
    task<beast::error_code> await_response(exchange_state& x);
    template <class Upstream>
    task<beast::error_code> skip_interim(exchange_state& x);
    template <class Upstream>
    task<next> deliver_response(exchange_state& x);
    template <class Upstream>
    task<next> relay_response(exchange_state& x, int status);
    bool transparent() const { return w_.shared.listener.egress; }  // an egress listener

    // The strict audit hold (strict_hold.cpp).
    // Whether a strict rule may fire on this request in `phase` (its route and method).
    bool strict(audit_phase phase) const;
    task<std::optional<next>> strict_request(exchange_state& x);
    task<beast::error_code> prebuffer_body(exchange_state& x);
    task<bool> hold_response(int status);
    task<bool> hold(audit_phase phase);

    // The client watch (client_watch.cpp).
    struct client_watch {
        bool armed = false;  // a wait is pending on the client socket
        bool done = false;   // the upstream answered (or failed) first
        bool gone = false;   // the client closed or reset the connection
    };
    bool unwatch_client();  // ends the watch; whether the client went away meanwhile

    // The proxy's own answers (proxy_answer.cpp).
    task<next> send_error(proxy_answer answer, bool keep_alive);
    task<next> refuse_body(const beast::error_code& ec);
    task<void> lingering_close();

    // An accepted upgrade (upgrade.cpp).
    task<next> tunnel(exchange_state& x);

    worker& w_;
    const config::config& cfg_;
    tcp_socket socket_;
    io_deadline deadline_;  // of the client's I/O; socket_ keeps no timer of its own
    beast::flat_buffer buffer_;
    std::list<client_session*>::iterator link_;
    request_record record_;
    std::string scratch_;
    std::string head_;       // the head being written (relay.hpp), reused
    request_origin origin_;  // what the request said in the fields the proxy sets
    // The header lines the proxy adds to the message it relays: the request's, then (once it
    // is sent) the response's.
    std::string extra_;
    std::array<char, body_buffer_size> body_buf_;
    net::ip::address peer_;
    std::string peer_ip_;
    std::shared_ptr<const routing> routing_;  // refreshed when a reload publishes a new one
    std::uint64_t routing_generation_ = 0;
    bool idle_ = true;
    bool aborted_ = false;                        // abort(): the grace is over, no retry
    bool trusted_peer_ = false;                   // the peer is in proxy.trusted_proxies
    upstream_connection* active_conn_ = nullptr;  // the exchange's, for on_watchdog
    bool awaiting_response_ = false;  // waiting for active_conn_'s response header, since:
    steady::time_point awaited_since_;
    std::shared_ptr<client_watch> watch_;  // the client watch of a slow exchange
};

// What one request/response exchange carries between its steps.
struct client_session::exchange_state {
    request_parser& request;
    std::unique_ptr<upstream_connection> conn;
    std::optional<response_parser> response;
    unsigned client_version = 11;
    bool client_keep_alive = true;
    bool head = false;
    bool body_prebuffered = false;  // strict mode read the body into record_.request_body
    // The prebuffered body as the client sent it, when it has a Content-Encoding: the app gets
    // these bytes, the rules record_.request_body inflated.
    std::optional<std::string> encoded_body{};
    std::string upgrade{};  // the client's Upgrade protocols, when it asked for one
};

}  // namespace sidelight::proxy
