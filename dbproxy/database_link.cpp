// Connecting to the database and its TLS negotiation; see database_link.hpp.
#include "dbproxy/database_link.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {
namespace {

using namespace net::experimental::awaitable_operators;

// host_name_verification fails a name mismatch without telling OpenSSL why; the chain had
// passed (preverified), so the reason is the name.
struct verify_name {
    net::ssl::host_name_verification check;

    bool operator()(bool preverified, net::ssl::verify_context& ctx) const {
        if (check(preverified, ctx)) return true;
        if (preverified)
            X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
        return false;
    }
};

bool is_ip_address(const std::string& name) {
    error_code ec;
    net::ip::make_address(name, ec);
    return !ec;
}

std::string tls_name(const config::database_config& db) {
    return db.upstream.sni.empty() ? db.upstream.address.host : db.upstream.sni;
}

task<std::unique_ptr<database_link>> connect_and_negotiate(const config::database_config& db,
                                                           net::ssl::context* tls,
                                                           std::string& reason);

}  // namespace

std::shared_ptr<net::ssl::context> make_db_tls_context(const config::database_config& db,
                                                       const std::string& where) {
    if (db.upstream.tls == config::db_tls::disable) return nullptr;
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    if (db.upstream.tls != config::db_tls::verify_full) {
        ctx->set_verify_mode(net::ssl::verify_none);
        return ctx;
    }
    ctx->set_verify_mode(net::ssl::verify_peer);
    error_code ec;
    if (db.upstream.ca_file.empty()) {
        ctx->set_default_verify_paths(ec);
    } else {
        ctx->load_verify_file(db.upstream.ca_file, ec);
    }
    if (ec)
        throw std::runtime_error(where + ": cannot load CA certificates" +
                                 (db.upstream.ca_file.empty() ? "" : " " + db.upstream.ca_file) +
                                 " (" + ec.message() + ")");
    return ctx;
}

task<std::pair<error_code, std::size_t>> database_link::read_some(net::mutable_buffer buffer) {
    if (tls_) {
        auto [ec, n] = co_await tls_->async_read_some(buffer, use_tuple);
        co_return std::pair{ec, n};
    }
    auto [ec, n] = co_await socket_.async_read_some(buffer, use_tuple);
    co_return std::pair{ec, n};
}

int database_link::release() {
    if (tls_) return -1;
    error_code ec;
    const int fd = socket_.release(ec);
    return ec ? -1 : fd;
}

task<error_code> database_link::write(net::const_buffer buffer) {
    if (tls_) {
        auto [ec, n] = co_await net::async_write(*tls_, buffer, use_tuple);
        co_return ec;
    }
    auto [ec, n] = co_await net::async_write(socket_, buffer, use_tuple);
    co_return ec;
}

void database_link::close() {
    error_code ignored;
    (tls_ ? tls_->next_layer() : socket_).close(ignored);
}

task<bool> database_link::start_tls(const config::database_config& db, net::ssl::context& ctx,
                                    std::string& reason) {
    std::string request;
    put_u32(request, 8);
    put_u32(request, ssl_request_code);
    if (auto [ec, n] = co_await net::async_write(socket_, net::buffer(request), use_tuple); ec) {
        reason = "SSLRequest: " + ec.message();
        co_return false;
    }
    char answer = 0;
    if (auto [ec, n] = co_await net::async_read(socket_, net::buffer(&answer, 1), use_tuple); ec) {
        reason = "SSLRequest: " + ec.message();
        co_return false;
    }
    if (answer == 'N') {
        if (db.upstream.tls == config::db_tls::prefer) co_return true;  // plain text, as asked
        reason = "the server does not offer TLS (tls: " +
                 std::string(config::to_string(db.upstream.tls)) + ")";
        co_return false;
    }
    if (answer != 'S') {
        reason = "unexpected answer to SSLRequest";
        co_return false;
    }
    tls_ = std::make_unique<net::ssl::stream<tcp_socket>>(std::move(socket_), ctx);
    // The server's name goes in SNI in every mode, as libpq sends it (sslsni=1): servers and
    // poolers that route by it (cloud Postgres) refuse a handshake without it.
    const auto name = tls_name(db);
    if (!is_ip_address(name)) SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
    if (db.upstream.tls == config::db_tls::verify_full) {
        tls_->set_verify_mode(net::ssl::verify_peer);
        tls_->set_verify_callback(verify_name{net::ssl::host_name_verification(name)});
    }
    auto [ec] = co_await tls_->async_handshake(net::ssl::stream_base::client, use_tuple);
    if (!ec) co_return true;
    const long verified = SSL_get_verify_result(tls_->native_handle());
    reason = "TLS handshake: " + (verified != X509_V_OK
                                      ? std::string(X509_verify_cert_error_string(verified))
                                      : ec.message());
    co_return false;
}

namespace {

task<std::unique_ptr<database_link>> connect_and_negotiate(const config::database_config& db,
                                                           net::ssl::context* tls,
                                                           std::string& reason) {
    auto ex = co_await net::this_coro::executor;
    net::ip::basic_resolver<tcp, executor> resolver(ex);
    auto [rec, endpoints] = co_await resolver.async_resolve(
        db.upstream.address.host, std::to_string(db.upstream.address.port), use_tuple);
    if (rec) {
        reason = "resolve " + db.upstream.address.host + ": " + rec.message();
        co_return nullptr;
    }
    tcp_socket socket(ex);
    if (auto [ec, ep] = co_await net::async_connect(socket, endpoints, use_tuple); ec) {
        reason = "connect: " + ec.message();
        co_return nullptr;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto link = std::make_unique<database_link>(std::move(socket));
    if (tls && !co_await link->start_tls(db, *tls, reason)) co_return nullptr;
    co_return link;
}

}  // namespace

task<std::unique_ptr<database_link>> database_link::open(const config::database_config& db,
                                                         net::ssl::context* tls,
                                                         std::string& reason) {
    io_timer timer(co_await net::this_coro::executor, db.upstream.connect_timeout);
    auto result = co_await (connect_and_negotiate(db, tls, reason) ||
                            timer.async_wait(net::use_awaitable_t<executor>{}));
    if (result.index() == 0) co_return std::move(std::get<0>(result));
    reason = "no connection within connect_timeout (" +
             std::to_string(db.upstream.connect_timeout.count()) + " ms)";
    co_return nullptr;
}

}  // namespace sidelight::dbproxy
