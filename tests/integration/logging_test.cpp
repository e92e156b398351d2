// Logs a platform can ingest: JSON log lines on stderr (log_format: json), the text format as
// before, and the access log's route, upstream and user_agent on stdout.

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <regex>
#include <sstream>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string with_log_format(std::string yaml, const std::string& format) {
    yaml.replace(yaml.find("log_format: text\n"), 17, "log_format: " + format + "\n");
    return yaml;
}

// Every line parses as a JSON object: the access log on stdout, the log lines on stderr.
std::vector<boost::json::object> json_lines(const std::string& text) {
    std::vector<boost::json::object> out;
    for (const auto& line : lines_of(text)) {
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        EXPECT_FALSE(ec) << "not JSON: " << line;
        if (!ec) {
            EXPECT_TRUE(v.is_object()) << line;
            if (v.is_object()) out.push_back(v.as_object());
        }
    }
    return out;
}

std::string str(const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string("<missing>");
}

TEST(LoggingTest, JsonLinesCarryTsLevelMsgAndFields) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, with_log_format(test_config(app.port(), "access_log: true\n"), "json"));
    {  // refused at the head check (debug line event=bad_request)
        auto c = connection::connect(proc->proxy_port());
        c.send(
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
        auto res = c.read_message(true);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400);
    }
    ASSERT_TRUE(proc->wait_for_log("\"event\":\"bad_request\"")) << proc->stderr_text();
    proc->signal(SIGTERM);
    ASSERT_EQ(proc->wait_exit(15s), 0);

    const auto logs = json_lines(proc->stderr_text());
    ASSERT_FALSE(logs.empty());
    const std::regex ts(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    const boost::json::object* started = nullptr;
    const boost::json::object* bad = nullptr;
    for (const auto& o : logs) {
        EXPECT_TRUE(std::regex_match(str(o, "ts"), ts)) << o;
        const auto level = str(o, "level");
        EXPECT_TRUE(level == "debug" || level == "info" || level == "warn" || level == "error")
            << o;
        EXPECT_NE(str(o, "msg"), "<missing>") << o;
        if (str(o, "msg").ends_with(" started")) started = &o;
        if (str(o, "event") == "bad_request") bad = &o;
    }
    ASSERT_TRUE(started) << proc->stderr_text();
    EXPECT_EQ(str(*started, "level"), "info");
    EXPECT_EQ(str(*started, "upstream"), "127.0.0.1:" + std::to_string(app.port()));
    EXPECT_EQ(str(*started, "workers"), "2");
    ASSERT_TRUE(bad) << proc->stderr_text();
    EXPECT_EQ(str(*bad, "level"), "debug");
    EXPECT_EQ(str(*bad, "reason"), "content-length with transfer-encoding");
    // The log line and the access log line of the refused request share its id.
    const auto access = json_lines(proc->stdout_text());
    ASSERT_EQ(access.size(), 1u) << proc->stdout_text();
    EXPECT_EQ(access[0].at("status").as_int64(), 400);
    EXPECT_TRUE(std::regex_match(str(*bad, "request_id"), std::regex("[0-9a-f]{32}"))) << *bad;
    EXPECT_EQ(str(access[0], "request_id"), str(*bad, "request_id"));
    EXPECT_EQ(str(access[0], "upstream"), "");  // the proxy answered itself
}

TEST(LoggingTest, TextFormatIsUnchanged) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    proc->signal(SIGTERM);
    ASSERT_EQ(proc->wait_exit(15s), 0);
    const auto lines = lines_of(proc->stderr_text());
    ASSERT_FALSE(lines.empty());
    const std::regex started(
        R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info sidelight \S+ started )"
        R"(proxy=127\.0\.0\.1:\d+ admin=127\.0\.0\.1:\d+ upstream=127\.0\.0\.1:\d+ workers=2)");
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                            [&](const std::string& l) { return std::regex_match(l, started); }),
              1)
        << proc->stderr_text();
    for (const auto& line : lines)
        EXPECT_TRUE(std::regex_search(line, std::regex(R"(^\S+Z level=(debug|info|warn|error) )")))
            << line;
}

TEST(LoggingTest, AccessLogHasRouteUpstreamAndACutEscapedUserAgent) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "access_log: true\nroutes:\n  - GET /api/products/{id}\n"));
    const std::string hostile_start = "Mozilla/5.0 \"quoted\" \\back\tslash \xff\xfe ";
    const std::string user_agent = hostile_start + std::string(300, 'a');
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\nUser-Agent: " + user_agent +
           "\r\nX-Request-Id: r\"1\\x\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(eventually([&] { return proc->stdout_text().find('\n') != std::string::npos; }));
    const auto lines = json_lines(proc->stdout_text());
    ASSERT_EQ(lines.size(), 1u) << proc->stdout_text();
    const auto& o = lines[0];
    EXPECT_EQ(str(o, "route"), "/api/products/{id}");
    EXPECT_EQ(str(o, "path"), "/api/products/7");
    EXPECT_EQ(str(o, "upstream"), "127.0.0.1:" + std::to_string(app.port()));
    EXPECT_EQ(str(o, "request_id"), "r\"1\\x");
    // The first 256 bytes, the two invalid bytes replaced by U+FFFD.
    const std::string cut = user_agent.substr(0, 256);
    std::string expected = cut;
    expected.replace(expected.find("\xff\xfe"), 2, "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(str(o, "user_agent"), expected);
}

}  // namespace
}  // namespace sidelight::test
