// Egress listeners through the real binary: the app's call to its mail provider (a local TLS
// server with a certificate made by OpenSSL here) goes through sidelight's egress listener,
// reaches the provider byte-equal but for Host and the hop-by-hop fields, is counted by the
// example's emails_sent_total rule by template and outcome, labelled `listener="mail"` on the
// traffic families, and audited by a rule with `listener: mail`. A wrong CA is a 502 with
// error_type="upstream_tls" and the reason in the log; the mail counts as failed, its template
// as `other` (the body was never read: the call failed before it was relayed).

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tests/integration/tls_app.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

std::string egress_config(std::uint16_t app_port, std::uint16_t egress_port,
                          std::uint16_t provider_port, const std::string& ca_file) {
    auto yaml = test_config(app_port, R"(routes: ["GET /api/products/{id}"]
egress:
  - name: mail
    listen: 127.0.0.1:)" + std::to_string(egress_port) +
                                          R"(
    upstream: {address: 127.0.0.1:)" + std::to_string(provider_port) +
                                          R"(, tls: true, sni: mail.test, ca_file: )" + ca_file +
                                          R"(}
    routes: [POST /v3/mail/send]
metrics:
  rules:
    - name: emails_sent_total
      type: counter
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST]}
      labels:
        template_type: {from: "request:/template_id", map: {d-welcome: welcome, d-receipt: receipt}, other: other}
        status: {from: status_class, map: {2xx: sent, 4xx: rejected, 5xx: failed}}
audit:
  store: {path: audit.db}
  rules:
    - name: mail-sent
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST]}
      action: SEND_EMAIL
      entity_type: email
      entity_id: request:/template_id
      user: request:/from/email
)");
    yaml.insert(yaml.find("admin:\n  listen: 127.0.0.1:0\n") + 29, "  token: mail-t0ken\n");
    return yaml;
}

std::string send_mail(std::uint16_t port, const std::string& template_id) {
    return json_request(
        "POST", "/v3/mail/send",
        R"({"template_id":")" + template_id +
            R"(","from":{"email":"shop@example.test"},"to":[{"email":"a@b.test"}]})",
        "Authorization: Bearer SG.key-of-the-app\r\nX-Trace: t-1\r\n");
}

TEST(EgressTest, TheAppsMailCallsAreCountedAuditedAndReachTheProviderIntact) {
    temp_dir dir;
    test_pki pki(dir);
    tls_app provider(pki);
    fake_upstream app;
    const auto egress_port = free_port();
    auto proc = sidelight_process::run(
        dir, egress_config(app.port(), egress_port, provider.port(), pki.ca));

    auto c = connection::connect(egress_port);
    const std::vector<std::string> templates = {"d-welcome", "d-welcome", "d-welcome",
                                                "d-receipt", "d-receipt", "d-unknown"};
    std::string last_request;
    for (const auto& t : templates) {
        last_request = send_mail(egress_port, t);
        c.send(last_request);
        auto res = c.read_message(true);
        ASSERT_TRUE(res) << proc->stderr_text();
        ASSERT_EQ(res->status, 202) << res->body << proc->stderr_text();
        EXPECT_EQ(res->body, "{\"id\":\"msg-1\"}");
        EXPECT_EQ(res->header("X-Request-Id"), "");  // transparent both ways
    }
    // One request through the proxy too: the traffic families tell the listeners apart.
    ASSERT_EQ(http_get(proc->proxy_port(), "/api/products/7")->status, 200);

    const auto got = provider.requests();
    ASSERT_EQ(got.size(), templates.size());
    EXPECT_EQ(got.front().connection, got.back().connection);  // one pooled TLS connection
    const auto& r = got.back();
    EXPECT_EQ(r.sni, "mail.test");
    EXPECT_EQ(r.start_line, "POST /v3/mail/send HTTP/1.1");
    EXPECT_EQ(r.header("Host"), "mail.test:" + std::to_string(provider.port()));
    EXPECT_EQ(r.header("Authorization"), "Bearer SG.key-of-the-app");
    EXPECT_EQ(r.header("X-Trace"), "t-1");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    for (const char* added : {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
                              "Forwarded", "Via", "X-Request-Id"})
        EXPECT_FALSE(r.has(added)) << added;
    EXPECT_EQ(r.body, last_request.substr(last_request.find("\r\n\r\n") + 4));

    // Recorded after each response is written: wait for the last mail and the proxy's request.
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        // A request's business counter is counted after its request, and scraped after it.
        return sample_value(text, R"(emails_sent_total{status="sent",template_type="other"})") ==
                   1 &&
               sample_count(text, R"(api_requests_total{listener="ingress")") == 1 &&
               sample_value(
                   text,
                   R"(api_requests_total{listener="mail",method="POST",route="/v3/mail/send",status_code="202"})") ==
                   6;
    })) << text;
    EXPECT_EQ(sample_value(text, R"(emails_sent_total{status="sent",template_type="welcome"})"), 3);
    EXPECT_EQ(sample_value(text, R"(emails_sent_total{status="sent",template_type="receipt"})"), 2);
    EXPECT_EQ(
        sample_value(
            text,
            R"(api_requests_total{listener="mail",method="POST",route="/v3/mail/send",status_code="202"})"),
        6);
    EXPECT_EQ(
        sample_value(
            text,
            R"(api_requests_total{listener="ingress",method="GET",route="/api/products/{id}",status_code="200"})"),
        1);

    // The audit rule on the egress listener: who sent which mail; the API key never stored.
    auto api = connection::connect(proc->admin_port());
    std::string body;
    ASSERT_TRUE(eventually([&] {
        api.send(
            "GET /v1/events?table=audit_log HTTP/1.1\r\nHost: a\r\n"
            "Authorization: Bearer mail-t0ken\r\n\r\n");
        auto reply = api.read_message(true);
        body = reply ? reply->body : "";
        return reply && reply->status == 200 &&
               boost::json::parse(body).at("events").as_array().size() == templates.size();
    })) << body
        << proc->stderr_text();
    const auto events = boost::json::parse(body).at("events").as_array();
    EXPECT_EQ(events[0].at("action").as_string(), "SEND_EMAIL");
    EXPECT_EQ(events[0].at("entity_id").as_string(), "d-welcome");
    EXPECT_EQ(events[0].at("user_id").as_string(), "shop@example.test");
    EXPECT_EQ(events[0].at("route").as_string(), "/v3/mail/send");
    EXPECT_EQ(body.find("SG.key-of-the-app"), std::string::npos);
}

TEST(EgressTest, AWrongCaIsA502UpstreamTlsCountedAsAFailedMail) {
    temp_dir dir;
    test_pki pki(dir);
    tls_app provider(pki);
    fake_upstream app;
    const auto egress_port = free_port();
    auto proc = sidelight_process::run(
        dir, egress_config(app.port(), egress_port, provider.port(), pki.other_ca));
    auto c = connection::connect(egress_port);
    c.send(send_mail(egress_port, "d-welcome"));
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(provider.request_count(), 0u);
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        // The error counter is counted after the request, and scraped before the business one.
        return sample_value(text, R"(emails_sent_total{status="failed",template_type="other"})") ==
                   1 &&
               sample_value(
                   text,
                   R"(api_error_total{error_type="upstream_tls",listener="mail",method="POST",route="/v3/mail/send"})") ==
                   1;
    })) << text;
    EXPECT_EQ(
        sample_value(
            text,
            R"(api_error_total{error_type="upstream_tls",listener="mail",method="POST",route="/v3/mail/send"})"),
        1)
        << text;
    EXPECT_TRUE(proc->wait_for_log("reason=\"unable to get local issuer certificate\""))
        << proc->stderr_text();
}

// With egress listeners, each access-log line names its listener (as the metrics' label): the
// app's own outbound calls are told from the requests it serves.
TEST(EgressTest, TheAccessLogNamesTheListener) {
    temp_dir dir;
    fake_upstream app, sms;
    const auto sms_port = free_port();
    auto proc = sidelight_process::run(
        dir, test_config(app.port(),
                         "access_log: true\negress:\n  - name: sms\n    listen: "
                         "127.0.0.1:" +
                             std::to_string(sms_port) + "\n    upstream: {address: 127.0.0.1:" +
                             std::to_string(sms.port()) + "}\n"));
    EXPECT_EQ(http_get(proc->proxy_port(), "/inbound")->status, 200);
    EXPECT_EQ(http_get(sms_port, "/outbound")->status, 200);
    ASSERT_TRUE(eventually([&] {
        return proc->stdout_text().find("\"path\":\"/outbound\"") != std::string::npos &&
               proc->stdout_text().find("\"path\":\"/inbound\"") != std::string::npos;
    }));
    const auto out = proc->stdout_text();
    const auto line_of = [&](const std::string& path) {
        const auto at = out.find("\"path\":\"" + path + "\"");
        const auto start = out.rfind('\n', at);
        return out.substr(start == std::string::npos ? 0 : start + 1,
                          out.find('\n', at) - (start == std::string::npos ? 0 : start + 1));
    };
    EXPECT_NE(line_of("/inbound").find("\"listener\":\"ingress\""), std::string::npos) << out;
    EXPECT_NE(line_of("/outbound").find("\"listener\":\"sms\""), std::string::npos) << out;
}

// Swapping two egress listeners in the file would hand each running listener the other's
// routes and rules: the reload is refused whole, counted, and the running config stays.
TEST(EgressTest, AReloadThatReordersEgressListenersIsRefused) {
    temp_dir dir;
    fake_upstream app, mail, sms;
    const auto mail_port = free_port(), sms_port = free_port();
    const auto egress = [&](bool swapped) {
        const std::string a = "  - name: mail\n    listen: 127.0.0.1:" + std::to_string(mail_port) +
                              "\n    upstream: {address: 127.0.0.1:" + std::to_string(mail.port()) +
                              "}\n";
        const std::string b = "  - name: sms\n    listen: 127.0.0.1:" + std::to_string(sms_port) +
                              "\n    upstream: {address: 127.0.0.1:" + std::to_string(sms.port()) +
                              "}\n";
        return test_config(app.port(), "egress:\n" + (swapped ? b + a : a + b));
    };
    auto proc = sidelight_process::run(dir, egress(false));
    dir.write("sidelight.yaml", egress(true));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: rejected")) << proc->stderr_text();
    EXPECT_NE(proc->stderr_text().find("egress listeners were added, removed, renamed or "
                                       "reordered"),
              std::string::npos);
    EXPECT_EQ(proc->stderr_text().find("reload: ok"), std::string::npos);
    const auto m = http_get(proc->admin_port(), "/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(sample_value(m->body, "sidelight_config_reloads_total{result=\"error\"}"), 1);
    // Each listener still reaches its own upstream.
    EXPECT_EQ(http_get(mail_port, "/v3/mail/send")->status, 200);
    EXPECT_EQ(http_get(sms_port, "/v1/sms")->status, 200);
    EXPECT_EQ(mail.requests().size(), 1u);
    EXPECT_EQ(sms.requests().size(), 1u);
}

}  // namespace
}  // namespace sidelight::test

namespace sidelight::test {
namespace {

// An outside API's name is resolved per connection, not at start: sidelight starts without DNS
// for it, and a call that cannot be resolved is a 502 upstream_connect with the reason logged.
TEST(EgressTest, AnUnresolvableProviderDoesNotStopTheStart) {
    temp_dir dir;
    fake_upstream app;
    const auto egress_port = free_port();
    auto proc = sidelight_process::run(dir, test_config(app.port(), R"(egress:
  - name: mail
    listen: 127.0.0.1:)" + std::to_string(egress_port) + R"(
    upstream: {address: no-such-host.invalid:443, tls: true}
)"));
    auto c = connection::connect(egress_port);
    c.send(send_mail(egress_port, "d-welcome"));
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_TRUE(
        proc->wait_for_log("event=upstream_resolve_failed upstream=no-such-host.invalid:443"))
        << proc->stderr_text();
    ASSERT_EQ(http_get(proc->proxy_port(), "/")->status, 200);  // the proxy serves meanwhile
}

}  // namespace
}  // namespace sidelight::test
