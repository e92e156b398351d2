#include "agent/admin_server.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace sidelight::agent {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::uint64_t max_body = 4 * 1024 * 1024;  // event API batches
// Connections served at once (scrapes, probes, API clients): beyond it a new one is closed at
// accept, so that slow clients cannot hold unbounded memory (a body each).
constexpr std::size_t max_connections = 256;

// The event API, and /status.json with a token (its security events): they read the store.
bool reads_store(const admin_request& in) {
    const auto path = in.target.substr(0, in.target.find('?'));
    return path.starts_with("/v1/") || (path == "/status.json" && !in.authorization.empty());
}

net::awaitable<admin_response> call(const admin_handler& handler, admin_request in) {
    co_return handler(in);
}

// The answer to a request that could not be read: 413 (JSON, as the event API answers) for a
// body over max_body, else 400.
http::response<http::string_body> refusal(const beast::error_code& ec) {
    const bool too_large = ec == http::error::body_limit;
    http::response<http::string_body> res{
        too_large ? http::status::payload_too_large : http::status::bad_request, 11};
    res.set(http::field::content_type,
            too_large ? "application/json" : "text/plain; charset=utf-8");
    res.body() = too_large
                     ? "{\"error\":\"body: more than " + std::to_string(max_body) + " bytes\"}\n"
                     : "bad request\n";
    res.keep_alive(false);
    res.prepare_payload();
    return res;
}

// After a refusal the client may still be sending: read and drop what comes (bounded) so that
// closing does not reset the connection before the client has read the answer.
net::awaitable<void> drain(beast::tcp_stream& stream) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    char sink[16 * 1024];
    std::uint64_t left = 2 * max_body;
    // One deadline for the whole drain: a client trickling bytes does not keep it going.
    stream.expires_after(std::chrono::seconds(5));
    while (left > 0) {
        auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
        if (ec) break;
        left -= std::min<std::uint64_t>(left, n);
    }
}

net::awaitable<void> serve(tcp::socket socket, const admin_handler& handler,
                           net::thread_pool& api_thread) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
        // A client that asks before sending its body (curl does past 1 MiB) is told to go on;
        // one whose Content-Length is over the limit has its error above instead.
        if (!ec && !parser.is_done() &&
            beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
            std::tie(ec, n) = co_await http::async_write(stream, go_on, use_tuple);
        }
        if (!ec && !parser.is_done())
            std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (ec) {
            if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                ec != net::error::connection_reset && ec != net::error::eof) {
                auto res = refusal(ec);
                auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
                if (!wec) co_await drain(stream);
            }
            break;
        }
        const auto& req = parser.get();
        admin_request in{req.method_string(),
                         req.target(),
                         req[http::field::authorization],
                         req[http::field::content_type],
                         req.body(),
                         req[http::field::accept],
                         req[http::field::accept_encoding]};
        // The event API may wait for a commit: on its own thread, while this one serves on.
        // (An if, not ?: — GCC 12 mishandles co_await inside a conditional expression.)
        admin_response out;
        if (reads_store(in))
            out = co_await net::co_spawn(api_thread, call(handler, in), net::use_awaitable);
        else
            out = handler(in);
        http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
        res.set(http::field::content_type, out.content_type);
        res.set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : out.headers) res.set(name, value);
        res.body() = std::move(out.body);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        beast::error_code wec;
        if (req.method() == http::verb::head) {
            // The GET's headers, Content-Length included, and no body.
            http::response_serializer<http::string_body> head{res};
            std::tie(wec, n) = co_await http::async_write_header(stream, head, use_tuple);
        } else {
            std::tie(wec, n) = co_await http::async_write(stream, res, use_tuple);
        }
        if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, const admin_handler& handler,
                                 net::thread_pool& api_thread) {
    auto open = std::make_shared<std::size_t>(0);  // the admin thread's only
    bool full = false;                             // logged once per time it fills up
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;
        if (*open >= max_connections) {
            if (!full) spdlog::warn("admin: {} connections open, closing new ones", *open);
            full = true;
            continue;  // the socket closes here
        }
        full = false;
        ++*open;
        net::co_spawn(acceptor.get_executor(), serve(std::move(socket), handler, api_thread),
                      [open](std::exception_ptr e) {
                          --*open;
                          if (e) spdlog::warn("admin: connection ended by exception");
                      });
    }
}

}  // namespace

admin_server::admin_server(net::io_context& ioc, const config::address& listen,
                           admin_handler handler)
    : ioc_(ioc), acceptor_(ioc), handler_(std::move(handler)) {
    beast::error_code ec;
    const auto addr = net::ip::make_address(listen.host, ec);
    if (ec)
        throw std::runtime_error("admin.listen: cannot listen on " + listen.to_string() +
                                 ": not an IP");
    const tcp::endpoint ep(addr, listen.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("admin.listen: cannot listen on " + listen.to_string() + ": " +
                                 ec.message());
    port_ = acceptor_.local_endpoint().port();
}

admin_server::~admin_server() {
    api_thread_.join();  // a /v1/ call in progress finishes (bounded by audit.strict_timeout)
}

void admin_server::start() {
    net::co_spawn(ioc_, accept_loop(acceptor_, handler_, api_thread_), [](std::exception_ptr e) {
        if (e) spdlog::error("admin: acceptor stopped by exception");
    });
}

void admin_server::stop() {
    net::post(ioc_, [this] {
        beast::error_code ec;
        acceptor_.close(ec);
    });
}

}  // namespace sidelight::agent
