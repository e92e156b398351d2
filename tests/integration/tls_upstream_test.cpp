// TLS origination and the egress listener, in process: a proxy::server for an egress listener
// (or the ingress one) whose upstream is a fake outside API over TLS (tls_app.hpp), with
// certificates made for the test. What the API received, what the client got, what the
// observer recorded and what was logged.

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <thread>

#include "proxy/server.hpp"
#include "routes/routing.hpp"
#include "tests/integration/tls_app.hpp"
#include "tests/support/http_wire.hpp"

namespace sidelight::test {
namespace {

// What the proxy reported of each request.
class record_log : public routes::observer {
  public:
    struct entry {
        int status = 0;
        routes::error_type error = routes::error_type::none;
        int listener = -1;
    };
    void on_request(const routes::request_record& r) override {
        std::lock_guard lock(mutex_);
        entries_.push_back({r.status, r.error, r.listener});
    }
    void on_connection(routes::connection_type, int) override {}
    std::vector<entry> entries() const {
        std::lock_guard lock(mutex_);
        return entries_;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<entry> entries_;
};

// Log lines of the test, captured from spdlog's default logger.
class captured_log {
  public:
    captured_log() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(128)) {
        previous_ = spdlog::default_logger();
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
    }
    ~captured_log() { spdlog::set_default_logger(previous_); }
    std::vector<std::string> lines() const { return sink_->last_formatted(); }
    std::size_t count(const std::string& needle) const {
        std::size_t n = 0;
        for (const auto& l : lines()) n += l.find(needle) != std::string::npos;
        return n;
    }

  private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

// A port that answers its first connection in plain HTTP and closes: not a TLS server.
class plain_http_port {
  public:
    plain_http_port() : fd_(listen_loopback(4, port_)) {
        thread_ = std::thread([this] {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            static constexpr char answer[] =
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
            (void)::send(c, answer, sizeof answer - 1, MSG_NOSIGNAL);
            ::close(c);
        });
    }
    ~plain_http_port() {
        ::shutdown(fd_, SHUT_RDWR);  // wakes the accept when no connection came
        thread_.join();
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_ = 0;
    int fd_;
    std::thread thread_;
};

class TlsUpstreamTest : public ::testing::Test {
  protected:
    // Starts a proxy whose upstream is `app_` over TLS; an egress listener unless `ingress`.
    void start(const std::string& ca_file, const std::string& sni, bool ingress = false,
               std::uint16_t upstream_port = 0) {
        auto cfg = std::make_shared<config::config>();
        config::upstream_config up;
        up.address = {"127.0.0.1", upstream_port ? upstream_port : app().port()};
        up.connect_timeout = connect_timeout_;
        up.tls.enabled = true;
        up.tls.sni = sni;
        up.tls.ca_file = ca_file;
        if (ingress) {
            cfg->proxy.listen = {"127.0.0.1", 0};
            cfg->proxy.workers = 1;
            cfg->upstream = up;
        } else {
            config::egress_config e;
            e.name = "mail";
            e.listen = {"127.0.0.1", 0};
            e.upstream = up;
            e.workers = 1;
            cfg->egress.push_back(e);
        }
        routes_ = std::make_unique<util::published<routes::routing>>(
            std::make_shared<const routes::routing>(*cfg));
        server_ = ingress ? std::make_unique<proxy::server>(cfg, log_, *routes_)
                          : std::make_unique<proxy::server>(cfg, proxy::egress_listener(*cfg, 0),
                                                            log_, *routes_);
        server_->start();
    }
    void TearDown() override {
        if (!server_) return;
        server_->stop_accepting();
        server_->abort();
        server_->join();
    }
    virtual tls_app& app() { return app_; }

    std::optional<wire_message> send(connection& c, const std::string& request) {
        c.send(request);
        return c.read_message(true);
    }
    std::optional<wire_message> post_mail(connection& c) { return send(c, mail_request); }
    // The record of the `n`-th request (1-based), waited for.
    record_log::entry record(std::size_t n) {
        eventually([&] { return log_.entries().size() >= n; });
        const auto e = log_.entries();
        return e.size() >= n ? e[n - 1] : record_log::entry{};
    }

    static inline const std::string mail_body =
        "{\"personalizations\":[{\"to\":[{\"email\":\"a@example.com\"}]}],\"subject\":\"Hi "
        "\\u00e9\"}";
    static inline const std::string mail_request =
        "POST /v3/mail/send HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAuthorization: Bearer SG.secret\r\n"
        "Content-Type: application/json\r\nUser-Agent: sendgrid/6.9;php\r\nX-Custom:  two  "
        "spaces\r\n"
        "Accept: */*\r\nContent-Length: " +
        std::to_string(mail_body.size()) + "\r\n\r\n" + mail_body;

    std::chrono::milliseconds connect_timeout_{2000};  // bounds the TLS handshake too
    temp_dir dir_;
    test_pki pki_{dir_};
    tls_app app_{pki_};
    record_log log_;
    std::unique_ptr<util::published<routes::routing>> routes_;
    std::unique_ptr<proxy::server> server_;
};

// (a) The API gets the app's request as the app wrote it, with its own Host, over TLS with SNI.
TEST_F(TlsUpstreamTest, EgressRelaysTheRequestTransparentlyOverTls) {
    start(pki_.ca, "mail.test");
    auto c = connection::connect(server_->port());
    const auto res = post_mail(c);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    EXPECT_EQ(res->body, "{\"id\":\"msg-1\"}");
    EXPECT_EQ(res->header_count("X-Request-Id"), 0u);
    EXPECT_EQ(res->header("Content-Type"), "application/json");
    ASSERT_EQ(app_.request_count(), 1u);
    const auto got = app_.requests().at(0);
    EXPECT_EQ(got.sni, "mail.test");
    EXPECT_EQ(got.start_line, "POST /v3/mail/send HTTP/1.1");
    EXPECT_EQ(got.header("Host"), "mail.test:" + std::to_string(app_.port()));
    for (const char* added : {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
                              "X-Request-Id", "Forwarded", "Via"})
        EXPECT_FALSE(got.has(added)) << added;
    EXPECT_EQ(got.body, mail_body);
    std::vector<std::pair<std::string, std::string>> others;
    for (const auto& h : got.headers)
        if (strcasecmp(h.first.c_str(), "Host") != 0) others.push_back(h);
    const std::vector<std::pair<std::string, std::string>> sent = {
        {"Authorization", "Bearer SG.secret"},
        {"Content-Type", "application/json"},
        {"User-Agent", "sendgrid/6.9;php"},
        {"X-Custom", "two  spaces"},
        {"Accept", "*/*"},
        {"Content-Length", std::to_string(mail_body.size())}};
    EXPECT_EQ(others, sent);
    const auto r = record(1);
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(r.error, routes::error_type::none);
    EXPECT_EQ(r.listener, 1);
}

// The app's own X-Request-Id and X-Forwarded-For are its business: passed on untouched.
TEST_F(TlsUpstreamTest, EgressKeepsTheAppsOwnForwardingFields) {
    start(pki_.ca, "mail.test");
    auto c = connection::connect(server_->port());
    const auto res = send(c,
                          "GET /v3/scopes HTTP/1.1\r\nHost: x\r\nX-Request-Id: app-7\r\n"
                          "X-Forwarded-For: 10.1.2.3\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    const auto got = app_.requests().at(0);
    EXPECT_EQ(got.header("X-Request-Id"), "app-7");
    EXPECT_EQ(got.header("X-Forwarded-For"), "10.1.2.3");
    EXPECT_FALSE(got.has("Connection"));  // hop-by-hop: still stripped
    EXPECT_EQ(got.header("Host"), "mail.test:" + std::to_string(app_.port()));
}

// (b) Keep-alive TLS connections are pooled: 20 requests, one TLS connection at the API.
TEST_F(TlsUpstreamTest, SequentialRequestsShareOneTlsConnection) {
    start(pki_.ca, "mail.test");
    auto c = connection::connect(server_->port());
    for (int i = 0; i < 20; ++i) {
        const auto res = post_mail(c);
        ASSERT_TRUE(res) << i;
        ASSERT_EQ(res->status, 202) << i;
    }
    EXPECT_EQ(app_.handshakes(), 1);
    const auto got = app_.requests();
    ASSERT_EQ(got.size(), 20u);
    for (const auto& r : got) EXPECT_EQ(r.connection, got.front().connection);
}

// (c) A certificate from another CA: 502, recorded as upstream_tls, logged with its reason.
TEST_F(TlsUpstreamTest, UntrustedCertificateIs502UpstreamTls) {
    captured_log logged;
    start(pki_.other_ca, "mail.test");
    auto c = connection::connect(server_->port());
    const auto res = post_mail(c);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(res->header_count("X-Request-Id"), 0u);
    EXPECT_EQ(app_.request_count(), 0u);
    const auto r = record(1);
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.error, routes::error_type::upstream_tls);
    EXPECT_EQ(logged.count("event=upstream_tls_failed"), 1u);
    EXPECT_EQ(logged.count("unable to get local issuer certificate"), 1u);
    EXPECT_EQ(logged.count("upstream=127.0.0.1:" + std::to_string(app_.port())), 1u);
}

// (d) The right CA, but the certificate is not for the name asked: 502 upstream_tls.
TEST_F(TlsUpstreamTest, NameMismatchIs502UpstreamTls) {
    captured_log logged;
    start(pki_.ca, "other.test");
    auto c = connection::connect(server_->port());
    const auto res = post_mail(c);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(app_.request_count(), 0u);
    EXPECT_EQ(record(1).error, routes::error_type::upstream_tls);
    EXPECT_EQ(logged.count("hostname mismatch"), 1u);
    EXPECT_EQ(logged.count("tls_name=other.test"), 1u);
}

// Without sni, the name is the address's host: the certificate's IP SAN matches 127.0.0.1.
TEST_F(TlsUpstreamTest, WithoutSniTheAddressIsVerified) {
    start(pki_.ca, "");
    auto c = connection::connect(server_->port());
    const auto res = post_mail(c);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    const auto got = app_.requests().at(0);
    EXPECT_EQ(got.sni, "");  // no SNI for an address literal
    EXPECT_EQ(got.header("Host"), "127.0.0.1:" + std::to_string(app_.port()));
}

// A port that does not speak TLS: the handshake fails (502 upstream_tls), once per attempt.
TEST_F(TlsUpstreamTest, PlainUpstreamFailsTheHandshake) {
    captured_log logged;
    plain_http_port plain;
    start(pki_.ca, "mail.test", false, plain.port());
    auto c = connection::connect(server_->port());
    const auto res = post_mail(c);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(record(1).error, routes::error_type::upstream_tls);
    EXPECT_EQ(logged.count("event=upstream_tls_failed"), 1u);
}

// A server that accepts the connection but never answers the ClientHello: the handshake is
// bounded by connect_timeout, and its end is a 502 upstream_tls, logged as a timeout.
TEST_F(TlsUpstreamTest, SilentServerTimesTheHandshakeOut) {
    captured_log logged;
    std::uint16_t port = 0;
    const int silent = listen_loopback(4, port);  // the kernel accepts; nobody reads
    connect_timeout_ = std::chrono::milliseconds(300);
    start(pki_.ca, "mail.test", false, port);
    auto c = connection::connect(server_->port());
    const auto started = std::chrono::steady_clock::now();
    const auto res = post_mail(c);
    const auto took = std::chrono::steady_clock::now() - started;
    ::close(silent);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_GE(took, std::chrono::milliseconds(250));
    EXPECT_LT(took, std::chrono::milliseconds(2000));
    EXPECT_EQ(record(1).error, routes::error_type::upstream_tls);
    EXPECT_EQ(logged.count("reason=\"handshake timed out\""), 1u);
}

// An unreadable ca_file stops the start with a line naming it and the listener.
TEST_F(TlsUpstreamTest, BadCaFileFailsTheStart) {
    const auto bad = dir_.write("bad.pem", "not a certificate\n");
    try {
        start(bad, "mail.test");
        FAIL() << "started";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(bad), std::string::npos) << what;
        EXPECT_NE(what.find("egress mail"), std::string::npos) << what;
    }
    server_.reset();
}

// (f) The ingress listener over TLS keeps its forwarding fields and the client's Host.
TEST_F(TlsUpstreamTest, IngressOverTlsStillForwards) {
    start(pki_.ca, "mail.test", true);
    auto c = connection::connect(server_->port());
    const auto res = send(c, "GET /x HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    EXPECT_EQ(res->header_count("X-Request-Id"), 1u);
    const auto got = app_.requests().at(0);
    EXPECT_EQ(got.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(got.header("Host"), "shop.example");
    EXPECT_EQ(got.sni, "mail.test");
    EXPECT_EQ(record(1).listener, 0);
}

// A WebSocket upgrade cannot be tunnelled over TLS: the API gets a plain request (no Upgrade)
// and answers it, rather than switching protocols and the app then getting a 502.
TEST_F(TlsUpstreamTest, AnUpgradeOverTlsIsSentAsAPlainRequest) {
    start(pki_.ca, "mail.test");
    auto c = connection::connect(server_->port());
    const auto res = send(c,
                          "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: "
                          "websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    const auto got = app_.requests().at(0);
    EXPECT_FALSE(got.has("Upgrade"));
    EXPECT_EQ(got.header("Sec-WebSocket-Key"), "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_EQ(record(1).error, routes::error_type::none);
}

// (e) The API ends idle connections with a close_notify: the next request still succeeds, on a
// new connection.
class TlsIdleCloseTest : public TlsUpstreamTest {
  protected:
    tls_app& app() override { return closing_; }
    tls_app closing_{pki_, std::chrono::milliseconds(100)};
};

TEST_F(TlsIdleCloseTest, ClosedIdleConnectionIsNotReused) {
    start(pki_.ca, "mail.test");
    auto c = connection::connect(server_->port());
    for (int i = 0; i < 3; ++i) {
        const auto res = post_mail(c);
        ASSERT_TRUE(res) << i;
        EXPECT_EQ(res->status, 202) << i;
        ASSERT_TRUE(eventually([&] { return closing_.idle_closes() == i + 1; })) << i;
    }
    EXPECT_EQ(closing_.handshakes(), 3);
    EXPECT_EQ(closing_.request_count(), 3u);
    for (std::size_t n = 1; n <= 3; ++n) EXPECT_EQ(record(n).error, routes::error_type::none);
}

// The API drops each connection right after answering, unannounced: a pooled connection fails
// on its next use (a truncated TLS stream, or a reset) or is found closed by the pool's peek;
// either way an idempotent request is retried once on a new connection and succeeds.
class TlsDroppedConnectionTest : public TlsUpstreamTest {
  protected:
    tls_app& app() override { return dropping_; }
    tls_app dropping_{pki_, {}, true};
};

TEST_F(TlsDroppedConnectionTest, IdempotentRequestsSurviveDroppedConnections) {
    start(pki_.ca, "mail.test");
    auto c = connection::connect(server_->port());
    for (int i = 0; i < 10; ++i) {
        const auto res = send(c, "GET /v3/stats HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_TRUE(res) << i;
        EXPECT_EQ(res->status, 202) << i;
    }
    EXPECT_EQ(dropping_.request_count(), 10u);
    EXPECT_EQ(dropping_.handshakes(), 10);
    for (std::size_t n = 1; n <= 10; ++n) EXPECT_EQ(record(n).error, routes::error_type::none);
}

}  // namespace
}  // namespace sidelight::test

namespace sidelight::test {
namespace {

// The health probe speaks TLS to a TLS app, as the proxy does: with a health.path the app gets
// the GET over TLS (with SNI) and the pod becomes ready; a plain probe was reset by it for good.
TEST(TlsHealthTest, TheProbeOfATlsUpstreamIsMadeOverTls) {
    temp_dir dir;
    test_pki pki(dir);
    tls_app app(pki);
    const auto yaml =
        "proxy:\n  listen: 127.0.0.1:0\n  workers: 1\nadmin:\n  listen: 127.0.0.1:0\n"
        "upstream:\n  address: 127.0.0.1:" +
        std::to_string(app.port()) + "\n  tls: true\n  sni: mail.test\n  ca_file: " + pki.ca +
        "\nhealth:\n  interval: 100ms\n  timeout: 500ms\n  path: /healthz\n"
        "log_format: text\n";
    auto proc = sidelight_process::run(dir, yaml);
    EXPECT_TRUE(eventually([&] {
        const auto r = http_get(proc->admin_port(), "/readyz");
        return r && r->status == 200;
    })) << proc->stderr_text();
    ASSERT_TRUE(eventually([&] { return !app.requests().empty(); }));
    const auto probe = app.requests().front();
    EXPECT_EQ(probe.start_line, "GET /healthz HTTP/1.1");
    EXPECT_EQ(probe.sni, "mail.test");
    EXPECT_EQ(probe.header("User-Agent"), "sidelight-health");
}

}  // namespace
}  // namespace sidelight::test
