// /healthz reports each configured database (issue 15): a probe with no credentials (connect,
// SSLRequest, TLS when offered) against a real PostgreSQL 15, a closed port and a server that
// is no database; an unreachable database makes /healthz "degraded" (200), never "unhealthy".
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

pg_cluster& cluster() {
    return pg_cluster::shared();
}

// A TCP server that answers whatever it is sent with an HTTP 400 and closes: no database.
class not_a_database {
  public:
    not_a_database() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(fd_, 16);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            while (!stop_) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                const int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0) continue;
                char buf[64];
                (void)::recv(c, buf, sizeof buf, 0);
                const std::string answer = "HTTP/1.1 400 Bad Request\r\n\r\n";
                (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
                ::close(c);
            }
        });
    }
    ~not_a_database() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

std::string database(const std::string& name, std::uint16_t port, const std::string& more = "") {
    return "  - name: " + name +
           "\n    listen: 127.0.0.1:0\n    upstream: {address: 127.0.0.1:" + std::to_string(port) +
           more + "}\n";
}

struct healthz_answer {
    int status = 0;
    boost::json::object body;
};

healthz_answer healthz(std::uint16_t admin_port) {
    healthz_answer h;
    auto res = http_get(admin_port, "/healthz");
    if (!res) return h;
    h.status = res->status;
    boost::system::error_code ec;
    auto v = boost::json::parse(res->body, ec);
    if (!ec && v.is_object()) h.body = v.as_object();
    return h;
}

// The /healthz entry of database `name` (an empty object when there is none).
boost::json::object entry(const healthz_answer& h, const std::string& name) {
    if (const auto* dbs = h.body.if_contains("databases"); dbs && dbs->is_array())
        for (const auto& d : dbs->as_array())
            if (d.as_object().at("name").as_string() == name) return d.as_object();
    return {};
}

std::string state_of(const healthz_answer& h, const std::string& name) {
    const auto e = entry(h, name);
    return e.contains("state") ? std::string(e.at("state").as_string()) : "";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(PgWireHealthTest, EachDatabaseIsReportedAndOneAwayDegrades) {
    fake_upstream app;      // the HTTP app answers: only the databases decide
    not_a_database not_pg;  // answers an SSLRequest with HTTP, not 'S' or 'N'
    temp_dir dir;
    const dead_port gone;
    const auto log_before = read_file(cluster().dir() + "/log").size();
    const std::string yaml = "databases:\n" + database("main", cluster().port()) +
                             database("gone", gone.port()) +
                             database("http", not_pg.port(), ", connect_timeout: 1s");
    auto proc = sidelight_process::run(dir, test_config(app.port(), yaml));
    ASSERT_TRUE(proc->wait_for_log("database main listening on")) << proc->stderr_text();

    healthz_answer h;
    ASSERT_TRUE(eventually([&] {
        h = healthz(proc->admin_port());
        return state_of(h, "main") == "reachable" && state_of(h, "gone") == "unreachable" &&
               state_of(h, "http") == "unreachable";
    })) << boost::json::serialize(h.body)
        << proc->stderr_text();
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.body.at("status").as_string(), "degraded") << boost::json::serialize(h.body);
    const auto main = entry(h, "main");
    EXPECT_TRUE(main.at("reachable").as_bool());
    EXPECT_EQ(main.at("address").as_string(), "127.0.0.1:" + std::to_string(cluster().port()));
    EXPECT_EQ(main.at("last_error").as_string(), "");
    EXPECT_NE(std::string(entry(h, "gone").at("last_error").as_string()).find("connect"),
              std::string::npos)
        << boost::json::serialize(h.body);
    EXPECT_NE(std::string(entry(h, "http").at("last_error").as_string()).find("SSLRequest"),
              std::string::npos)
        << boost::json::serialize(h.body);
    EXPECT_TRUE(proc->wait_for_log("health: database gone unreachable"));
    const auto metrics = scrape_metrics(proc->admin_port());
    EXPECT_EQ(sample_value(metrics, "sidelight_database_up{database=\"main\"}"), 1) << metrics;
    EXPECT_EQ(sample_value(metrics, "sidelight_database_up{database=\"gone\"}"), 0);
    EXPECT_EQ(sample_value(metrics, "sidelight_database_up{database=\"http\"}"), 0);

    // The probes of a TLS-offering server (this cluster has ssl = on) complete the handshake and
    // close before any startup packet: the server's log has nothing to say about them.
    const auto log = read_file(cluster().dir() + "/log").substr(log_before);
    EXPECT_EQ(log.find("could not accept SSL connection"), std::string::npos) << log;
    EXPECT_EQ(log.find("incomplete startup packet"), std::string::npos) << log;
}

TEST(PgWireHealthTest, AllReachableIsOkAndTheServerComingBackIsSeen) {
    fake_upstream app;
    temp_dir dir;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "databases:\n" + database("main", cluster().port())));
    ASSERT_TRUE(
        eventually([&] { return state_of(healthz(proc->admin_port()), "main") == "reachable"; }));
    auto h = healthz(proc->admin_port());
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.body.at("status").as_string(), "ok") << boost::json::serialize(h.body);

    cluster().stop();
    ASSERT_TRUE(eventually([&] {
        return state_of(healthz(proc->admin_port()), "main") == "unreachable";
    })) << proc->stderr_text();
    EXPECT_EQ(healthz(proc->admin_port()).body.at("status").as_string(), "degraded");
    cluster().start();
    EXPECT_TRUE(eventually([&] {
        return state_of(healthz(proc->admin_port()), "main") == "reachable";
    })) << proc->stderr_text();
    EXPECT_TRUE(proc->wait_for_log("health: database main reachable"));
}

// verify-full probes check the certificate as a real connection would: the wrong CA shows on
// /healthz before any app connects.
TEST(PgWireHealthTest, VerifyFullProbeChecksTheCertificate) {
    temp_dir keys;
    const auto other_ca = keys.path() + "/other.crt";
    const auto cmd =
        "openssl req -new -x509 -days 1 -nodes -subj /CN=127.0.0.1 -addext "
        "subjectAltName=IP:127.0.0.1 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout " +
        keys.path() + "/other.key -out " + other_ca + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    fake_upstream app;
    temp_dir dir;
    const std::string yaml =
        "databases:\n" +
        database("good", cluster().port(), ", tls: verify-full, ca_file: " + cluster().ca_file()) +
        database("wrongca", cluster().port(), ", tls: verify-full, ca_file: " + other_ca);
    auto proc = sidelight_process::run(dir, test_config(app.port(), yaml));
    healthz_answer h;
    ASSERT_TRUE(eventually([&] {
        h = healthz(proc->admin_port());
        return state_of(h, "good") == "reachable" && state_of(h, "wrongca") == "unreachable";
    })) << boost::json::serialize(h.body)
        << proc->stderr_text();
    EXPECT_NE(std::string(entry(h, "wrongca").at("last_error").as_string()).find("TLS handshake"),
              std::string::npos)
        << boost::json::serialize(h.body);
}

// Without `databases`, /healthz has no databases key.
TEST(PgWireHealthTest, NoDatabasesNoKey) {
    fake_upstream app;
    temp_dir dir;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    healthz_answer h;
    ASSERT_TRUE(eventually([&] {
        h = healthz(proc->admin_port());
        return h.body.contains("status") && h.body.at("status").as_string() == "ok";
    }));
    EXPECT_FALSE(h.body.contains("databases"));
}

}  // namespace
}  // namespace sidelight::test
