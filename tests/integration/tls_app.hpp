#pragma once
// A fake outside API over TLS, for the upstream TLS tests: an Asio SSL server on 127.0.0.1:0,
// one thread, that records what each request carried (its head lines as sent, its body, its
// connection, the SNI of that connection) and answers 202 with a small JSON body. With
// `idle_close`, it ends a keep-alive connection idle that long with a close_notify; with
// `drop_after_response`, it closes the TCP connection after each response (no close_notify,
// no Connection: close): the proxy finds out only when it uses the connection again.
// Its certificates are made by the openssl CLI (test_pki). Header-only: one test file uses it,
// and it links the proxy library's compiled Asio (SSL included).

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <strings.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {

namespace net = boost::asio;

// A CA and a leaf for "mail.test" (SAN DNS:mail.test, IP:127.0.0.1) signed by it, plus a second,
// unrelated CA; PEM files in `dir`.
struct test_pki {
    std::string ca, other_ca, leaf_cert, leaf_key;

    explicit test_pki(const temp_dir& dir) {
        const auto& d = dir.path();
        dir.write("ca.cnf",
                  "[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n[dn]\n"
                  "CN=sidelight test CA\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\n"
                  "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n");
        dir.write("leaf.cnf", "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=mail.test\n");
        dir.write("leaf.ext",
                  "subjectAltName=DNS:mail.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                  "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                  "authorityKeyIdentifier=keyid\n");
        const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        run("cd " + d + " && openssl req -x509 -config ca.cnf" + key +
            " -keyout ca.key -out ca.pem -days 2");
        run("cd " + d + " && openssl req -x509 -config ca.cnf" + key +
            " -keyout other.key -out other.pem -days 2");
        run("cd " + d + " && openssl req -new -config leaf.cnf" + key +
            " -keyout leaf.key -out leaf.csr");
        run("cd " + d +
            " && openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 2"
            " -days 2 -extfile leaf.ext -out leaf.pem");
        ca = d + "/ca.pem";
        other_ca = d + "/other.pem";
        leaf_cert = d + "/leaf.pem";
        leaf_key = d + "/leaf.key";
    }

  private:
    static void run(const std::string& command) {
        if (std::system((command + " >/dev/null 2>&1").c_str()) != 0)
            throw std::runtime_error("failed: " + command);
    }
};

struct tls_request {
    std::string start_line;
    std::vector<std::pair<std::string, std::string>> headers;  // in order, as sent
    std::string body;
    int connection = 0;
    std::string sni;

    std::string header(const std::string& name) const {
        for (const auto& [n, v] : headers)
            if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
        return "";
    }
    bool has(const std::string& name) const {
        for (const auto& [n, v] : headers)
            if (strcasecmp(n.c_str(), name.c_str()) == 0) return true;
        return false;
    }
};

class tls_app {
  public:
    tls_app(const test_pki& pki, std::chrono::milliseconds idle_close = {},
            bool drop_after_response = false)
        : idle_close_(idle_close), drop_after_response_(drop_after_response) {
        ctx_.use_certificate_chain_file(pki.leaf_cert);
        ctx_.use_private_key_file(pki.leaf_key, net::ssl::context::pem);
        acceptor_.open(tcp::v4());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(ioc_, accept_loop(), net::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~tls_app() {
        ioc_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }
    int handshakes() const { return handshakes_.load(); }  // completed, with any client
    int failed_handshakes() const { return failed_.load(); }
    int idle_closes() const { return idle_closes_.load(); }
    std::vector<tls_request> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::size_t request_count() const { return requests().size(); }

  private:
    using tcp = net::ip::tcp;
    using stream = net::ssl::stream<tcp::socket>;
    static constexpr auto tuple = net::as_tuple(net::use_awaitable);

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(tuple);
            if (ec) co_return;
            net::co_spawn(ioc_, serve(stream(std::move(socket), ctx_), ++connections_),
                          net::detached);
        }
    }

    net::awaitable<void> serve(stream s, int id) {
        auto [hec] = co_await s.async_handshake(stream::server, tuple);
        if (hec) {
            ++failed_;
            co_return;
        }
        ++handshakes_;
        const char* sni = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name);
        std::string buf;
        for (bool first = true;; first = false) {
            if (!first && idle_close_.count() != 0 && buf.empty() && co_await idle(s)) {
                ++idle_closes_;
                co_await s.async_shutdown(tuple);  // close_notify; done when the peer closes
                co_return;
            }
            tls_request r;
            r.connection = id;
            r.sni = sni ? sni : "";
            if (!co_await read_request(s, buf, r)) co_return;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(r);
            }
            static const std::string body = "{\"id\":\"msg-1\"}";
            const std::string res =
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
            auto [wec, n] = co_await net::async_write(s, net::buffer(res), tuple);
            if (wec) co_return;
            if (drop_after_response_) {
                boost::system::error_code ignored;
                s.next_layer().close(ignored);
                co_return;
            }
        }
    }

    // True when nothing came for idle_close_.
    net::awaitable<bool> idle(stream& s) {
        using namespace net::experimental::awaitable_operators;
        net::steady_timer timer(ioc_, idle_close_);
        auto got = co_await (s.next_layer().async_wait(tcp::socket::wait_read, tuple) ||
                             timer.async_wait(tuple));
        co_return got.index() == 1;
    }

    // One request with a Content-Length body (or none); false at EOF or on an error.
    static net::awaitable<bool> read_request(stream& s, std::string& buf, tls_request& r) {
        auto [ec, n] =
            co_await net::async_read_until(s, net::dynamic_buffer(buf), "\r\n\r\n", tuple);
        if (ec) co_return false;
        const std::string head = buf.substr(0, n);
        buf.erase(0, n);
        std::size_t pos = head.find("\r\n");
        r.start_line = head.substr(0, pos);
        std::size_t length = 0;
        for (pos += 2; pos < head.size() - 2;) {
            const auto end = head.find("\r\n", pos);
            const auto line = head.substr(pos, end - pos);
            const auto colon = line.find(':');
            auto value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            r.headers.emplace_back(line.substr(0, colon), value);
            if (strcasecmp(r.headers.back().first.c_str(), "content-length") == 0)
                length = std::stoul(value);
            pos = end + 2;
        }
        while (buf.size() < length) {
            char chunk[4096];
            auto [rec, got] = co_await s.async_read_some(net::buffer(chunk), tuple);
            if (rec) co_return false;
            buf.append(chunk, got);
        }
        r.body = buf.substr(0, length);
        buf.erase(0, length);
        co_return true;
    }

    std::chrono::milliseconds idle_close_;
    bool drop_after_response_;
    net::io_context ioc_;
    net::ssl::context ctx_{net::ssl::context::tls_server};
    tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    int connections_ = 0;
    std::atomic<int> handshakes_{0}, failed_{0}, idle_closes_{0};
    mutable std::mutex mutex_;
    std::vector<tls_request> requests_;
};

}  // namespace sidelight::test
