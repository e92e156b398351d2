// A real Prometheus server scrapes sidelight's admin port while traffic flows through the proxy;
// the test then asks Prometheus (its HTTP API) for the p95 latency per route template, as a
// dashboard would. Needs /usr/bin/prometheus (scripts/install-deps installs it).

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

constexpr const char* prometheus_binary = "/usr/bin/prometheus";

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// The Prometheus server as a child process; killed and reaped on destruction.
class prometheus_server {
  public:
    // `features`: --enable-feature values (exemplar-storage: Prometheus then asks for
    // OpenMetrics and keeps exemplars).
    prometheus_server(const temp_dir& dir, std::uint16_t scrape_port,
                      const std::string& features = "") {
        const auto config = dir.write("prometheus.yml",
                                      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                      "scrape_configs:\n  - job_name: sidelight\n"
                                      "    static_configs:\n      - targets: ['127.0.0.1:" +
                                          std::to_string(scrape_port) + "']\n");
        const auto storage = dir.path() + "/tsdb";
        log_ = dir.path() + "/prometheus.log";
        // Its port is one found free and then closed: another process may take it before
        // Prometheus binds it, which Prometheus answers by exiting. Then again on another.
        for (int attempt = 1;; ++attempt) {
            port_ = free_port();
            std::vector<std::string> args = {
                prometheus_binary, "--config.file=" + config, "--storage.tsdb.path=" + storage,
                "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
            if (!features.empty()) args.push_back("--enable-feature=" + features);
            start(args);
            bool exited = false;
            const bool ready = eventually(
                [&] {
                    exited = ::waitpid(pid_, nullptr, WNOHANG) == pid_;
                    const auto res = exited ? std::nullopt : http_get(port_, "/-/ready");
                    return exited || (res && res->status == 200);
                },
                30s);
            if (ready && !exited) return;
            if (!exited) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
            }
            pid_ = -1;
            if (attempt == 3 || log().find("address already in use") == std::string::npos) {
                throw std::runtime_error("prometheus did not start: " + log());
            }
        }
    }
    ~prometheus_server() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        const bool exited =
            eventually([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, 10s);
        if (!exited) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    prometheus_server(const prometheus_server&) = delete;
    prometheus_server& operator=(const prometheus_server&) = delete;

    std::uint16_t port() const { return port_; }
    std::string log() const {
        std::ifstream in(log_);
        return {std::istreambuf_iterator<char>(in), {}};
    }

    // The `data.result` vector of an instant query; empty while Prometheus is not answering.
    boost::json::array query(const std::string& promql) const {
        auto res = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
        if (!res || res->status != 200) return {};
        boost::system::error_code ec;
        auto doc = boost::json::parse(res->body, ec);
        if (ec || !doc.is_object()) return {};
        const auto* data = doc.as_object().if_contains("data");
        if (!data || !data->is_object()) return {};
        const auto* result = data->as_object().if_contains("result");
        return result && result->is_array() ? result->as_array() : boost::json::array{};
    }

    // The `data` array of /api/v1/query_exemplars over the last five minutes.
    boost::json::array query_exemplars(const std::string& promql) const {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        auto res = http_get(port_, "/api/v1/query_exemplars?query=" + url_encode(promql) +
                                       "&start=" + std::to_string(now - 300) +
                                       "&end=" + std::to_string(now + 60));
        if (!res || res->status != 200) return {};
        boost::system::error_code ec;
        auto doc = boost::json::parse(res->body, ec);
        if (ec || !doc.is_object()) return {};
        const auto* data = doc.as_object().if_contains("data");
        return data && data->is_array() ? data->as_array() : boost::json::array{};
    }

  private:
    void start(std::vector<std::string>& args) {
        std::vector<char*> argv;  // before fork: the child may not allocate
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
            ::execv(prometheus_binary, argv.data());
            ::_exit(127);
        }
    }

    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
    std::string log_;
};

// The numeric value of a vector sample `{"metric": {...}, "value": [ts, "1.5"]}`.
std::optional<double> sample(const boost::json::value& s) {
    const auto* v = s.as_object().if_contains("value");
    if (!v || !v->is_array() || v->as_array().size() != 2 || !v->as_array()[1].is_string())
        return std::nullopt;
    return std::stod(std::string(v->as_array()[1].as_string()));
}

std::string label(const boost::json::value& s, const char* name) {
    const auto* m = s.as_object().if_contains("metric");
    if (!m || !m->is_object()) return "";
    const auto* l = m->as_object().if_contains(name);
    return l && l->is_string() ? std::string(l->as_string()) : "";
}

TEST(PrometheusE2ETest, P95PerRouteTemplateFromARealPrometheus) {
    ASSERT_TRUE(std::filesystem::exists(prometheus_binary))
        << prometheus_binary << " is missing: run scripts/install-deps (it installs prometheus)";
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "routes:\n  entries:\n    - GET /api/products/{id}\n"));
    prometheus_server prom(dir, proc->admin_port());

    auto c = connection::connect(proc->proxy_port());
    int sent = 0;
    auto traffic = [&] {
        for (int i = 0; i < 20; ++i, ++sent) {
            c.send("GET /api/products/" + std::to_string(sent) + " HTTP/1.1\r\nHost: a\r\n\r\n");
            auto res = c.read_message(true);
            ASSERT_TRUE(res);
            ASSERT_EQ(res->status, 200);
        }
    };

    const std::string p95 =
        "histogram_quantile(0.95, sum(rate(api_latency_ms_bucket[1m])) by (le, route))";
    std::optional<double> value;
    const bool found = eventually(
        [&] {
            traffic();
            for (const auto& s : prom.query(p95)) {
                if (label(s, "route") != "/api/products/{id}") continue;
                value = sample(s);
                if (value && std::isfinite(*value)) return true;
            }
            return false;
        },
        30s);
    // eventually() sleeps 10ms between polls; traffic() and the query pace it further.
    ASSERT_TRUE(found) << "no finite p95 for /api/products/{id} after " << sent
                       << " requests; last result: " << boost::json::serialize(prom.query(p95))
                       << "\nprometheus log:\n"
                       << prom.log();
    EXPECT_GE(*value, 0.0);
    EXPECT_LE(*value, 5000.0);  // within the configured buckets

    const auto up = prom.query("up{job=\"sidelight\"}");
    ASSERT_EQ(up.size(), 1u) << boost::json::serialize(up);
    EXPECT_EQ(sample(up[0]), 1.0) << boost::json::serialize(up);
    // Never a raw path as a label value.
    for (const auto& s : prom.query("api_requests_total"))
        EXPECT_EQ(label(s, "route").find("/api/products/1"), std::string::npos);
}

// Exemplars: with exemplar storage on, Prometheus asks for OpenMetrics (gzip-encoded, as it
// always asks), and keeps the trace ids sidelight leaves on api_latency_ms buckets; its
// /api/v1/query_exemplars then returns the caller's trace id on the route's series.
TEST(PrometheusE2ETest, ExemplarsCarryTheTraceIdIntoARealPrometheus) {
    ASSERT_TRUE(std::filesystem::exists(prometheus_binary))
        << prometheus_binary << " is missing: run scripts/install-deps (it installs prometheus)";
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(),
                         "routes:\n  entries:\n    - GET /api/products/{id}\n"
                         "tracing: {enabled: true}\n"));
    prometheus_server prom(dir, proc->admin_port(), "exemplar-storage");
    const std::string trace = "0af7651916cd43dd8448eb211c80319c";
    auto c = connection::connect(proc->proxy_port());
    boost::json::array found;
    const bool ok = eventually(
        [&] {
            c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\ntraceparent: 00-" + trace +
                   "-b7ad6b7169203331-01\r\n\r\n");
            auto res = c.read_message(true);
            if (!res || res->status != 200) return false;
            found = prom.query_exemplars("api_latency_ms_bucket{route=\"/api/products/{id}\"}");
            for (const auto& series : found)
                for (const auto& e : series.as_object().at("exemplars").as_array())
                    if (e.as_object().at("labels").as_object().at("trace_id").as_string() == trace)
                        return true;
            return false;
        },
        30s);
    ASSERT_TRUE(ok) << "no exemplar with trace_id " << trace
                    << "; query_exemplars: " << boost::json::serialize(found)
                    << "\nprometheus log:\n"
                    << prom.log();
    const auto up = prom.query("up{job=\"sidelight\"}");
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(sample(up[0]), 1.0);
}

// The original system's business query, answered by a real Prometheus from what the metric
// rules read in the app's responses: every web order is 123.45 USD, in the (100, 500] bucket,
// so the P50 is that bucket's midpoint by Prometheus' linear interpolation: 300.
TEST(PrometheusE2ETest, OrderValueP50ByPlatformFromMetricRules) {
    ASSERT_TRUE(std::filesystem::exists(prometheus_binary))
        << prometheus_binary << " is missing: run scripts/install-deps (it installs prometheus)";
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(201, R"({"id":1,"total":123.45,"platform":"web"})",
                                          "Content-Type: application/json\r\n")};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port(), R"(routes: [POST /api/orders]
metrics:
  rules:
    - name: order_value_usd
      type: histogram
      buckets: [10, 50, 100, 500, 1000, 5000, 10000]
      match: {routes: [/api/orders], methods: [POST], status: [2xx]}
      value: "response:/total"
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
)"));
    prometheus_server prom(dir, proc->admin_port());
    auto c = connection::connect(proc->proxy_port());
    const auto traffic = [&] {
        for (int i = 0; i < 10; ++i) {
            c.send(json_request("POST", "/api/orders", R"({"sku":"a"})"));
            auto res = c.read_message(true);
            ASSERT_TRUE(res);
            ASSERT_EQ(res->status, 201);
        }
    };
    const std::string p50 =
        "histogram_quantile(0.50, sum(rate(order_value_usd_bucket[1h])) by (le, platform))";
    std::optional<double> value;
    const bool found = eventually(
        [&] {
            traffic();
            for (const auto& s : prom.query(p50)) {
                if (label(s, "platform") != "web") continue;
                value = sample(s);
                if (value && std::isfinite(*value)) return true;
            }
            return false;
        },
        30s);
    ASSERT_TRUE(found) << boost::json::serialize(prom.query(p50)) << "\n" << prom.log();
    EXPECT_NEAR(*value, 300.0, 1e-9);
    const auto count = prom.query("sum(order_value_usd_count) by (platform)");
    ASSERT_EQ(count.size(), 1u) << boost::json::serialize(count);
    EXPECT_EQ(label(count[0], "platform"), "web");
}

}  // namespace
}  // namespace sidelight::test
