// Startup failures, `check`, the access log and the SIGTERM drain, on the real binary.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include <boost/json/parse.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

TEST(LifecycleTest, DrainFinishesInFlightRequestsThenExitsZero) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        const bool slow = m.start_line.starts_with("GET /slow");
        return fake_reply{simple_response(200, slow ? "slow done" : "fast"), false,
                          slow ? 2500ms : 0ms};
    });
    // A delay of 1 s (the test reads /readyz and sends a request in it, on a slow sanitizer
    // build too); the slow answer comes after it, once the listener is closed.
    auto yaml = test_config(app.port());
    yaml.replace(yaml.find("delay: 300ms"), 12, "delay: 1s");
    yaml.replace(yaml.find("response_timeout: 2s"), 20, "response_timeout: 5s");
    auto proc = sidelight_process::run(dir, yaml);
    const auto ready = [&](int status) {
        const auto r = http_get(proc->admin_port(), "/readyz");
        return r && r->status == status;
    };
    ASSERT_TRUE(eventually([&] { return ready(200); }));
    auto idle = connection::connect(proc->proxy_port());  // an idle keep-alive client
    idle.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(idle.read_message(true));

    auto busy = connection::connect(proc->proxy_port());
    busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(app.wait_requests(2));  // the slow request is in flight at the app
    proc->signal(SIGTERM);
    ASSERT_TRUE(eventually([&] { return ready(503); }, 1s));
    // During the delay new requests are still served.
    auto during = http_get(proc->proxy_port(), "/fast");
    ASSERT_TRUE(during);
    EXPECT_EQ(during->status, 200);

    auto res = busy.read_message(true, false, 5s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "slow done");
    EXPECT_EQ(res->header("Connection"), "close");
    EXPECT_TRUE(idle.wait_closed(3s));  // idle keep-alive connections are closed
    // After the delay the listener is closed: new connections are refused.
    EXPECT_TRUE(
        eventually([&] { return !connection::connect(proc->proxy_port(), 0ms).valid(); }, 10s));
    EXPECT_EQ(proc->wait_exit(10s), 0);
    EXPECT_NE(proc->stderr_text().find("shutdown: done"), std::string::npos);
}

TEST(LifecycleTest, SecondSignalExitsAtOnce) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port())
                 .replace(test_config(app.port()).find("delay: 300ms"), 12, "delay: 30s"));
    proc->signal(SIGTERM);
    ASSERT_TRUE(proc->wait_for_log("shutdown: draining"));
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_exit(3s), 1);
}

TEST(LifecycleTest, BadConfigExitsTwoWithFileLineColumn) {
    temp_dir dir;
    const auto path = dir.write("bad.yaml",
                                "upstream:\n  address: 127.0.0.1:3000\n"
                                "  connect_timeout: soon\n");
    sidelight_process proc({"run", "--config", path});
    EXPECT_EQ(proc.wait_exit(), 2);
    EXPECT_NE(proc.stderr_text().find("bad.yaml:3:20: upstream.connect_timeout:"),
              std::string::npos)
        << proc.stderr_text();
}

TEST(LifecycleTest, PortInUseExitsTwo) {
    temp_dir dir;
    fake_upstream app;
    fake_upstream squatter;  // holds a port without SO_REUSEPORT
    const auto yaml = "proxy:\n  listen: 127.0.0.1:" + std::to_string(squatter.port()) +
                      "\nadmin:\n  listen: 127.0.0.1:0\nupstream:\n  address: 127.0.0.1:" +
                      std::to_string(app.port()) + "\n";
    sidelight_process proc({"run", "--config", dir.write("s.yaml", yaml)});
    EXPECT_EQ(proc.wait_exit(), 2);
    EXPECT_NE(proc.stderr_text().find("proxy.listen: cannot listen on 127.0.0.1:" +
                                      std::to_string(squatter.port())),
              std::string::npos)
        << proc.stderr_text();
    // The admin port's key is named too.
    const auto admin_taken = "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:" +
                             std::to_string(squatter.port()) +
                             "\nupstream:\n  address: 127.0.0.1:" + std::to_string(app.port()) +
                             "\n";
    sidelight_process admin({"run", "--config", dir.write("a.yaml", admin_taken)});
    EXPECT_EQ(admin.wait_exit(), 2);
    EXPECT_NE(admin.stderr_text().find("admin.listen: cannot listen on 127.0.0.1:" +
                                       std::to_string(squatter.port())),
              std::string::npos)
        << admin.stderr_text();
}

// A request still at the app when the grace runs out is cut, and still recorded (access log,
// metrics, audit) before the process exits: the app may have acted on it.
TEST(LifecycleTest, ARequestCutAtTheEndOfTheGraceIsStillRecorded) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "late"), false, 20000ms};
    });
    auto yaml = test_config(app.port(), "access_log: true\n");
    yaml.replace(yaml.find("grace: 5s"), 9, "grace: 1s");
    // The app answers long after the grace (as with the defaults: 20 s grace, 30 s timeout).
    yaml.replace(yaml.find("response_timeout: 2s"), 20, "response_timeout: 30s");
    auto proc = sidelight_process::run(dir, yaml);
    auto c = connection::connect(proc->proxy_port());
    c.send("POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_TRUE(app.wait_requests(1));
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_exit(6s), 0) << proc->stderr_text();
    EXPECT_NE(proc->stderr_text().find("grace over, closing 1 connections"), std::string::npos)
        << proc->stderr_text();
    EXPECT_NE(proc->stdout_text().find("\"path\":\"/orders\""), std::string::npos)
        << "no access log line for the cut request: " << proc->stdout_text();
}

// The workers share their port through SO_REUSEPORT; a second sidelight on the same port must
// not join them and silently take part of the traffic: it fails to start, and the first one
// keeps every request.
TEST(LifecycleTest, SecondSidelightOnTheSamePortFailsToStart) {
    temp_dir dir;
    fake_upstream app;
    auto first = sidelight_process::run(dir, test_config(app.port()));
    const auto port = std::to_string(first->proxy_port());
    const auto yaml = "proxy:\n  listen: 127.0.0.1:" + port +
                      "\nadmin:\n  listen: 127.0.0.1:0\nupstream:\n  address: 127.0.0.1:" +
                      std::to_string(app.port()) + "\n";
    sidelight_process second({"run", "--config", dir.write("second.yaml", yaml)});
    EXPECT_EQ(second.wait_exit(), 2);
    EXPECT_NE(second.stderr_text().find("cannot listen on 127.0.0.1:" + port +
                                        ": address already in use"),
              std::string::npos)
        << second.stderr_text();
    for (int i = 0; i < 20; ++i) {
        auto res = http_get(first->proxy_port(), "/still-mine");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
    }
    EXPECT_EQ(app.request_count(), 20u);
}

TEST(LifecycleTest, UnresolvableUpstreamExitsTwo) {
    temp_dir dir;
    const auto yaml =
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
        "upstream:\n  address: no-such-host.invalid:3000\n";
    sidelight_process proc({"run", "--config", dir.write("u.yaml", yaml)});
    EXPECT_EQ(proc.wait_exit(), 2);
    EXPECT_NE(proc.stderr_text().find("cannot resolve upstream no-such-host.invalid:3000"),
              std::string::npos)
        << proc.stderr_text();
}

TEST(LifecycleTest, CheckPrintsEffectiveConfig) {
    temp_dir dir;
    const auto path = dir.write("c.yaml", "upstream:\n  address: 127.0.0.1:3000\n");
    sidelight_process proc({"check", "--config", path});
    EXPECT_EQ(proc.wait_exit(), 0);
    const auto out = proc.stdout_text();
    EXPECT_NE(out.find("connect_timeout: 1s"), std::string::npos) << out;
    EXPECT_NE(out.find("127.0.0.1:3000"), std::string::npos) << out;
}

TEST(LifecycleTest, AccessLogLinesAreEscapedJson) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), "access_log: true\n"));
    auto c = connection::connect(proc->proxy_port());
    // A path with a quote and a backslash: still one line of valid JSON.
    c.send("GET /a\"b\\c?secret=1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: r-1\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    ASSERT_TRUE(eventually([&] { return proc->stdout_text().find('\n') != std::string::npos; }));
    const auto line = proc->stdout_text().substr(0, proc->stdout_text().find('\n'));
    const auto doc = boost::json::parse(line).as_object();
    EXPECT_EQ(doc.at("request_id").as_string(), "r-1");
    EXPECT_EQ(doc.at("path").as_string(), "/a\"b\\c");  // no query string
    EXPECT_EQ(doc.at("status").as_int64(), 200);
    EXPECT_EQ(doc.at("client_ip").as_string(), "127.0.0.1");
    EXPECT_EQ(doc.at("method").as_string(), "GET");
    EXPECT_GE(doc.at("duration_us").as_int64(), doc.at("upstream_duration_us").as_int64());
    EXPECT_EQ(doc.at("bytes_out").as_int64(), 6);
}

// An absolute-form target may carry a user and password: the access log (and every record made
// of the request: spans, audit events) has the path only.
TEST(LifecycleTest, AnAbsoluteFormTargetsCredentialsNeverReachTheLog) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), "access_log: true\n"));
    auto c = connection::connect(proc->proxy_port());
    c.send(
        "GET http://alice:s3cret-pw@app.internal/api/x?token=t0k HTTP/1.1\r\nHost: "
        "app.internal\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    ASSERT_TRUE(eventually([&] { return proc->stdout_text().find('\n') != std::string::npos; }));
    const auto line = proc->stdout_text().substr(0, proc->stdout_text().find('\n'));
    EXPECT_EQ(boost::json::parse(line).as_object().at("path").as_string(), "/api/x") << line;
    EXPECT_EQ(proc->stdout_text().find("s3cret-pw"), std::string::npos);
    EXPECT_EQ(proc->stderr_text().find("s3cret-pw"), std::string::npos);
}

}  // namespace
}  // namespace sidelight::test
