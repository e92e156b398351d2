// The upstream TLS client (upstream_tls.hpp). The verification is Asio's host name check;
// what OpenSSL says about a failed certificate is kept for the log line, because "handshake
// failed" alone does not tell an operator whether the CA, the name or the clock is wrong.

#include "proxy/upstream_tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>

namespace sidelight::proxy {
namespace {

// host_name_verification fails a certificate whose names do not match without telling
// OpenSSL why; the chain itself had passed (preverified), so the reason is the name.
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
    boost::system::error_code ec;
    net::ip::make_address(name, ec);
    return !ec;
}

}  // namespace

std::shared_ptr<net::ssl::context> make_tls_context(const config::upstream_tls& tls,
                                                    const std::string& where) {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(net::ssl::verify_peer);
    boost::system::error_code ec;
    if (tls.ca_file.empty()) {
        ctx->set_default_verify_paths(ec);
        if (ec) {
            throw std::runtime_error(where +
                                     ": cannot load the system's CA certificates: " + ec.message());
        }
        return ctx;
    }
    ctx->load_verify_file(tls.ca_file, ec);
    if (ec) {
        throw std::runtime_error(where + ": tls.ca_file " + tls.ca_file +
                                 ": cannot load CA certificates (" + ec.message() + ")");
    }
    return ctx;
}

std::string tls_name(const config::upstream_config& upstream) {
    return upstream.tls.sni.empty() ? upstream.address.host : upstream.tls.sni;
}

task<beast::error_code> tls_handshake(upstream_connection& conn, net::ssl::context& ctx,
                                      const std::string& name, std::string& reason) {
    auto& tls = *(conn.tls = std::make_unique<tls_stream>(conn.socket, ctx));
    // RFC 6066: SNI carries a DNS name, never an address literal.
    if (!is_ip_address(name) && SSL_set_tlsext_host_name(tls.native_handle(), name.c_str()) != 1) {
        reason = "cannot set SNI";
        co_return net::ssl::error::make_error_code(net::ssl::error::unspecified_system_error);
    }
    tls.set_verify_mode(net::ssl::verify_peer);
    tls.set_verify_callback(verify_name{net::ssl::host_name_verification(name)});
    auto [ec] = co_await tls.async_handshake(net::ssl::stream_base::client, use_tuple);
    if (!ec) co_return ec;
    const long verified = SSL_get_verify_result(tls.native_handle());
    reason = verified != X509_V_OK ? X509_verify_cert_error_string(verified) : ec.message();
    co_return ec;
}

}  // namespace sidelight::proxy
