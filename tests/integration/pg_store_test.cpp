// The Postgres fleet store end to end: the real sidelight binary in front of a fake app, audit
// rows forwarded from its spool into a real PostgreSQL 15 (tests/support/pg_cluster), and
// `sidelight audit verify|query|export --store` against it. Faults are real too: Postgres
// restarted, stopped under load, sidelight killed with SIGKILL, three writers on one database.
// Every fault test asserts the exact row count (nothing lost, nothing doubled) and a verified
// chain.

#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

pg_cluster& cluster() {
    return pg_cluster::shared();
}

// Starts the shared cluster again however a test that stopped it ends: the other tests of this
// binary use it too.
struct restart_guard {
    ~restart_guard() {
        if (!cluster().running()) cluster().start();
    }
};

// One audit_log row per proxied GET /api/items/{id}; strict, so that a 2xx answer means the
// event is committed to the spool (the count in Postgres must equal the answers).
std::string audit_yaml(const std::string& dsn, const std::string& chain, const temp_dir& dir,
                       const std::string& store_extra = "") {
    return "routes:\n"
           "  - GET /api/items/{id}\n"
           "audit:\n"
           "  store:\n"
           "    type: postgres\n"
           "    dsn: \"" +
           dsn +
           "\"\n"
           "    chain: " +
           chain +
           "\n"
           "    spool:\n"
           "      path: " +
           dir.path() + "/spool.db\n" + store_extra +
           "  batch_interval: 5ms\n"
           "  rules:\n"
           "    - name: item-read\n"
           "      match:\n"
           "        routes: [\"/api/items/{id}\"]\n"
           "        methods: [GET]\n"
           "      action: READ_ITEM\n"
           "      entity_type: item\n"
           "      entity_id: path:id\n"
           "      mode: strict\n";
}

fake_upstream ok_app() {
    return fake_upstream(
        [](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
}

// One audited request on a fresh connection: its status, 0 when nothing came back.
int get_item(std::uint16_t proxy_port, int id) {
    const auto r = http_get(proxy_port, "/api/items/" + std::to_string(id));
    return r ? r->status : 0;
}

// `threads` clients send `per_thread` requests each; the number answered 2xx.
int burst(std::uint16_t proxy_port, int threads, int per_thread) {
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < threads; ++t) {
        clients.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const int status = get_item(proxy_port, t * 100000 + i);
                if (status >= 200 && status < 300) ok.fetch_add(1);
            }
        });
    }
    for (auto& c : clients) c.join();
    return ok.load();
}

struct cli_result {
    int code = -1;
    std::string out, err;
};

cli_result run_cli(std::vector<std::string> args) {
    sidelight_process p(std::move(args));
    const auto code = p.wait_exit(60s);
    return {code.value_or(-1), p.stdout_text(), p.stderr_text()};
}

boost::json::object healthz(std::uint16_t admin_port, int* status = nullptr) {
    const auto h = http_get(admin_port, "/healthz");
    if (!h) return {};
    if (status) *status = h->status;
    return boost::json::parse(h->body).as_object();
}

boost::json::object store_health(std::uint16_t admin_port, int* status = nullptr) {
    auto h = healthz(admin_port, status);
    if (h.empty()) return {};
    return h.at("audit").as_object().at("store").as_object();
}

double metric(std::uint16_t admin_port, const std::string& series) {
    const auto m = http_get(admin_port, "/metrics");
    return m ? sample_value(m->body, series) : -1;
}

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class PgStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster();  // started before any timing
        db_ = cluster().create_database();
    }
    std::string dsn(const std::string& user = "postgres") const { return cluster().dsn(user, db_); }
    std::string sql(const std::string& q) const { return cluster().psql(q, "postgres", db_); }
    // The chain's rows in Postgres, both tables: "count|distinct event_ids|max seq".
    std::string tally(const std::string& chain) const {
        return sql(
            "SELECT count(*), count(DISTINCT event_id), coalesce(max(seq), 0) FROM (SELECT "
            "event_id, seq FROM audit_log WHERE chain = '" +
            chain + "' UNION ALL SELECT event_id, seq FROM security_audit WHERE chain = '" + chain +
            "') x");
    }
    static std::string exact(int n) {
        return std::to_string(n) + "|" + std::to_string(n) + "|" + std::to_string(n);
    }
    int audit_rows(const std::string& chain) const {
        return std::stoi(sql("SELECT count(*) FROM audit_log WHERE chain = '" + chain + "'"));
    }
    // Waits until Postgres holds exactly n rows of the chain, each once, seq 1..n.
    void expect_exact(const std::string& chain, int n, std::chrono::milliseconds timeout = 30s) {
        eventually([&] { return tally(chain) == exact(n); }, timeout);
        EXPECT_EQ(tally(chain), exact(n)) << "chain " << chain;
        EXPECT_EQ(audit_rows(chain), n) << "chain " << chain;
    }
    // `sidelight audit verify --store <dsn>` exits 0 with one OK line per chain.
    void expect_verified(const std::vector<std::string>& chains) {
        const auto v = run_cli({"audit", "verify", "--store", dsn()});
        EXPECT_EQ(v.code, 0) << v.out << v.err;
        for (const auto& chain : chains)
            EXPECT_NE(v.out.find("chain " + chain + ": OK"), std::string::npos) << v.out;
        EXPECT_EQ(v.out.find("BROKEN"), std::string::npos) << v.out;
    }

    std::string db_;
};

TEST_F(PgStoreTest, HappyPathRowsHealthMetricsAndTools) {
    auto app = ok_app();
    temp_dir dir;
    auto proc = sidelight_process::run(dir, test_config(app.port(), audit_yaml(dsn(), "X", dir)));
    constexpr int n = 40;
    for (int i = 0; i < n; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);
    expect_exact("X", n);

    // The store check runs once the forwarder is idle (every second).
    boost::json::object st;
    int code = 0;
    ASSERT_TRUE(eventually(
        [&] {
            st = store_health(proc->admin_port(), &code);
            return !st.empty() && st.at("lag_events").to_number<double>() == 0 &&
                   st.at("check").as_object().at("latency_ms").is_number();
        },
        10s))
        << boost::json::serialize(st);
    EXPECT_EQ(code, 200);
    EXPECT_EQ(st.at("type").as_string(), "postgres");
    EXPECT_EQ(st.at("state").as_string(), "ok");
    EXPECT_EQ(st.at("chain").as_string(), "X");
    EXPECT_TRUE(st.at("connected").as_bool());
    EXPECT_TRUE(st.at("check").as_object().at("ok").as_bool());
    EXPECT_GE(st.at("check").as_object().at("latency_ms").to_number<double>(), 0);
    EXPECT_EQ(healthz(proc->admin_port()).at("status").as_string(), "ok");

    // Counted after the commit (and the spool's note of it) that made the rows visible.
    EXPECT_TRUE(eventually(
        [&] { return metric(proc->admin_port(), "sidelight_audit_forwarded_total") == n; }, 10s))
        << metric(proc->admin_port(), "sidelight_audit_forwarded_total");
    EXPECT_EQ(metric(proc->admin_port(), "sidelight_audit_forward_lag_events"), 0);
    EXPECT_EQ(metric(proc->admin_port(), "sidelight_audit_forward_connected"), 1);
    EXPECT_GT(metric(proc->admin_port(), "sidelight_audit_spool_bytes"), 0);
    // The SELECT 1 check is timed too (the first may run before the metrics are wired up).
    EXPECT_TRUE(eventually(
        [&] {
            return metric(proc->admin_port(),
                          "sidelight_store_query_duration_ms_count{operation=\"ping\",table="
                          "\"none\"}") > 0;
        },
        5s));
    const auto metrics = http_get(proc->admin_port(), "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_GT(
        sample_value(
            metrics->body,
            "sidelight_store_query_duration_ms_count{operation=\"insert\",table=\"audit_log\"}"),
        0)
        << metrics->body;

    const auto q = run_cli({"audit", "query", "--store", cluster().uri("postgres", db_), "--chain",
                            "X", "--filter", "limit=5"});
    ASSERT_EQ(q.code, 0) << q.err;
    const auto rows = boost::json::parse(q.out).as_array();
    ASSERT_EQ(rows.size(), 5u) << q.out;
    for (const auto& row : rows) {
        EXPECT_EQ(row.as_object().at("chain").as_string(), "X");
        EXPECT_EQ(row.as_object().at("action").as_string(), "READ_ITEM");
    }

    const auto e = run_cli({"audit", "export", "--store", dsn()});
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_EQ(count_lines(e.out), static_cast<std::size_t>(n));
    expect_verified({"X"});

    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_exit(15s), 0);
}

TEST_F(PgStoreTest, PostgresRestartedMidForwardLosesAndDoublesNothing) {
    auto app = ok_app();
    temp_dir dir;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), audit_yaml(dsn(), "r", dir, "    forward_batch: 5\n")));
    restart_guard guard;
    std::atomic<int> answered{0}, failed{0};
    std::atomic<bool> done{false};
    std::thread client([&] {
        for (int i = 0; i < 300; ++i) {
            const int status = get_item(proc->proxy_port(), i);
            (status == 200 ? answered : failed).fetch_add(1);
            std::this_thread::sleep_for(2ms);
        }
        done = true;
    });
    // Restart once Postgres holds some of the chain and the client is still sending.
    eventually([&] { return audit_rows("r") >= 20; }, 10s);
    const int before = audit_rows("r");
    const bool sending = !done.load();
    cluster().restart_immediate();
    client.join();
    EXPECT_GT(before, 0);
    EXPECT_TRUE(sending) << "the client had finished before the restart";
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(answered.load(), 300);
    expect_exact("r", answered.load());
    expect_verified({"r"});
    EXPECT_TRUE(eventually(
        [&] { return metric(proc->admin_port(), "sidelight_audit_forward_lag_events") == 0; },
        10s));
}

TEST_F(PgStoreTest, PostgresStoppedUnderLoadIsDegradedThenCatchesUp) {
    auto app = ok_app();
    temp_dir dir;
    auto proc = sidelight_process::run(dir, test_config(app.port(), audit_yaml(dsn(), "s", dir)));
    for (int i = 0; i < 10; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);
    expect_exact("s", 10);

    restart_guard guard;
    cluster().stop();
    // 30 s at 20 requests per second, /healthz and /readyz read every 5 s.
    const auto t0 = std::chrono::steady_clock::now();
    int answered = 10, refused = 0;
    std::vector<std::int64_t> lags;
    int next_sample = 1;
    for (int i = 0; i < 600; ++i) {
        std::this_thread::sleep_until(t0 + i * 50ms);
        const int status = get_item(proc->proxy_port(), 1000 + i);
        (status >= 200 && status < 300 ? answered : refused) += 1;
        if (std::chrono::steady_clock::now() - t0 >= next_sample * 5s) {
            ++next_sample;
            int code = 0;
            const auto h = healthz(proc->admin_port(), &code);
            ASSERT_FALSE(h.empty());
            EXPECT_EQ(code, 200);
            EXPECT_EQ(h.at("status").as_string(), "degraded") << boost::json::serialize(h);
            const auto& st = h.at("audit").as_object().at("store").as_object();
            EXPECT_EQ(st.at("state").as_string(), "degraded");
            EXPECT_FALSE(st.at("connected").as_bool());
            EXPECT_FALSE(st.at("check").as_object().at("ok").as_bool());
            EXPECT_TRUE(st.at("last_error").is_object()) << boost::json::serialize(st);
            lags.push_back(st.at("lag_events").to_number<std::int64_t>());
            const auto ready = http_get(proc->admin_port(), "/readyz");
            ASSERT_TRUE(ready);
            EXPECT_EQ(ready->status, 200) << ready->body;
            EXPECT_EQ(metric(proc->admin_port(), "sidelight_audit_forward_connected"), 0);
        }
    }
    EXPECT_EQ(refused, 0);
    EXPECT_EQ(answered, 610);
    ASSERT_GE(lags.size(), 4u);
    EXPECT_GT(lags.front(), 0);
    EXPECT_GT(lags.back(), lags.front());
    EXPECT_GT(metric(proc->admin_port(), "sidelight_audit_forward_lag_seconds"), 10);

    cluster().start();
    expect_exact("s", answered);
    EXPECT_TRUE(eventually(
        [&] {
            const auto st = store_health(proc->admin_port());
            return !st.empty() && st.at("connected").as_bool() &&
                   st.at("lag_events").to_number<std::int64_t>() == 0;
        },
        15s));
    EXPECT_EQ(healthz(proc->admin_port()).at("status").as_string(), "ok");
    EXPECT_TRUE(eventually(
        [&] { return metric(proc->admin_port(), "sidelight_audit_forwarded_total") == answered; },
        10s))
        << metric(proc->admin_port(), "sidelight_audit_forwarded_total");
    expect_verified({"s"});
    // Backoff while away: attempts spaced 100 ms doubling to 5 s, not one per event.
    const auto err = proc->stderr_text();
    std::size_t attempts = 0;
    for (auto at = err.find("audit_forward_error"); at != std::string::npos;
         at = err.find("audit_forward_error", at + 1))
        ++attempts;
    EXPECT_LT(attempts, 60u) << "forward errors logged while Postgres was away";
}

// Postgres reachable but refusing the forward transactions (here a trigger that raises, as a
// full disk or a read-only standby would): /healthz is degraded with the error and the metric
// says so while the spool keeps every event; once Postgres accepts again the chain catches up.
TEST_F(PgStoreTest, PostgresRefusingTheBatchesIsDegradedThenCatchesUp) {
    auto app = ok_app();
    temp_dir dir;
    auto proc = sidelight_process::run(dir, test_config(app.port(), audit_yaml(dsn(), "f", dir)));
    for (int i = 0; i < 10; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);
    expect_exact("f", 10);
    sql("CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
        "EXCEPTION 'could not extend file: No space left on device (test)'; END $$; CREATE "
        "TRIGGER test_refuse BEFORE INSERT ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION "
        "test_refuse()");
    for (int i = 10; i < 20; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);

    boost::json::object h;
    int code = 0;
    ASSERT_TRUE(eventually(
        [&] {
            h = healthz(proc->admin_port(), &code);
            return !h.empty() && h.at("status").as_string() == "degraded" &&
                   h.at("audit").as_object().at("store").as_object().at("lag_events") == 10;
        },
        10s))
        << boost::json::serialize(h);
    EXPECT_EQ(code, 200);  // traffic flows, nothing is lost: degraded, not unhealthy
    const auto& st = h.at("audit").as_object().at("store").as_object();
    EXPECT_EQ(st.at("state").as_string(), "degraded");
    EXPECT_TRUE(st.at("connected").as_bool());
    EXPECT_TRUE(st.at("failing").as_bool());
    ASSERT_TRUE(st.at("last_error").is_object()) << boost::json::serialize(st);
    EXPECT_NE(std::string(st.at("last_error").as_object().at("message").as_string())
                  .find("No space left on device (test)"),
              std::string::npos)
        << boost::json::serialize(st);
    EXPECT_EQ(metric(proc->admin_port(), "sidelight_audit_forward_failing"), 1);
    EXPECT_EQ(metric(proc->admin_port(), "sidelight_audit_forward_connected"), 1);
    EXPECT_GT(metric(proc->admin_port(), "sidelight_audit_forward_errors_total"), 0);
    EXPECT_EQ(audit_rows("f"), 10);

    sql("DROP TRIGGER test_refuse ON audit_log");
    expect_exact("f", 20);
    EXPECT_TRUE(eventually(
        [&] { return healthz(proc->admin_port()).at("status").as_string() == "ok"; }, 15s));
    const auto after = store_health(proc->admin_port());
    EXPECT_FALSE(after.at("failing").as_bool());
    EXPECT_EQ(after.at("state").as_string(), "ok");
    EXPECT_EQ(metric(proc->admin_port(), "sidelight_audit_forward_failing"), 0);
    expect_verified({"f"});
}

// The event API with its event_id on two pods: a retry on one pod after its spool forwarded and
// pruned the event is acknowledged and not stored again; the same event reaching the other pod
// while Postgres is away is stored in that pod's chain too (nothing could tell it apart) and
// counted. Every chain stays whole in Postgres, and forwarding goes on.
TEST_F(PgStoreTest, AnEventIdSentAgainOrToAnotherPodLeavesEveryChainWhole) {
    auto app = ok_app();
    temp_dir dir_a, dir_b;
    const std::string admin = "admin:\n  listen: 127.0.0.1:0\n";
    const auto with_token = [&](std::string yaml) {
        yaml.insert(yaml.find(admin) + admin.size(), "  token: t0k-fleet\n");
        return yaml;
    };
    const std::string auth = "Authorization: Bearer t0k-fleet\r\n";
    auto a = sidelight_process::run(
        dir_a, with_token(test_config(app.port(), audit_yaml(dsn(), "a", dir_a))));
    auto b = sidelight_process::run(
        dir_b, with_token(test_config(app.port(), audit_yaml(dsn(), "b", dir_b))));
    const std::string id = "0190a4b2-7c1d-7e3f-8a9b-0123456789ab";
    const std::string body =
        R"({"action":"PAY","entity_type":"order","entity_id":"o-1","event_id":")" + id + R"("})";
    const auto post = [&](std::uint16_t port) {
        auto c = connection::connect(port);
        c.send(json_request("POST", "/v1/audit", body, auth));
        const auto reply = c.read_message(true);
        EXPECT_TRUE(reply);
        if (!reply) return 0;
        EXPECT_NE(reply->body.find(id), std::string::npos) << reply->body;
        return reply->status;
    };
    const auto rows_with_id = [&](const std::string& chain) {
        return std::stoi(sql("SELECT count(*) FROM audit_log WHERE chain = '" + chain +
                             "' AND event_id = '" + id + "'"));
    };

    ASSERT_EQ(post(a->admin_port()), 201);
    for (int i = 0; i < 2; ++i) ASSERT_EQ(get_item(a->proxy_port(), i), 200);
    expect_exact("a", 3);
    // Pruned from a's spool once Postgres holds it (at most a second later, when idle).
    std::this_thread::sleep_for(2s);
    ASSERT_EQ(post(a->admin_port()), 201);  // the retry
    ASSERT_EQ(get_item(a->proxy_port(), 2), 200);
    expect_exact("a", 4);  // the retry took no seq: the next request is row 4
    EXPECT_EQ(rows_with_id("a"), 1);

    {
        restart_guard guard;
        cluster().stop();
        ASSERT_EQ(post(b->admin_port()), 201);
        for (int i = 0; i < 2; ++i) ASSERT_EQ(get_item(b->proxy_port(), i), 200);
        cluster().start();
    }
    ASSERT_TRUE(eventually([&] { return tally("b") == "3|3|3"; }, 30s)) << tally("b");
    EXPECT_EQ(rows_with_id("b"), 1);
    EXPECT_TRUE(eventually(
        [&] { return metric(b->admin_port(), "sidelight_audit_forward_duplicates_total") == 1; },
        10s));
    EXPECT_EQ(metric(a->admin_port(), "sidelight_audit_forward_duplicates_total"), 0);
    // Both go on: one more row each, and both chains verify.
    ASSERT_EQ(get_item(a->proxy_port(), 3), 200);
    ASSERT_EQ(get_item(b->proxy_port(), 3), 200);
    expect_exact("a", 5);
    ASSERT_TRUE(eventually([&] { return tally("b") == "4|4|4"; }, 30s)) << tally("b");
    EXPECT_EQ(store_health(b->admin_port()).at("state").as_string(), "ok");
    expect_verified({"a", "b"});
}

TEST_F(PgStoreTest, KilledWhileForwardingANewProcessOnTheSpoolFinishesTheChain) {
    auto app = ok_app();
    temp_dir dir;
    const auto yaml =
        test_config(app.port(), audit_yaml(dsn(), "k", dir, "    forward_batch: 3\n"));
    int answered = 0;
    {
        auto proc = sidelight_process::run(dir, yaml);
        answered = burst(proc->proxy_port(), 4, 100);
        proc->signal(SIGKILL);
        EXPECT_EQ(proc->wait_exit(10s), 128 + SIGKILL);
    }
    EXPECT_EQ(answered, 400);
    const int at_kill = audit_rows("k");
    std::printf("[          ] rows in Postgres at SIGKILL: %d of %d\n", at_kill, answered);
    EXPECT_LE(at_kill, answered);

    auto again = sidelight_process::run(dir, yaml);
    expect_exact("k", answered);
    // And the chain goes on from there.
    for (int i = 0; i < 5; ++i) ASSERT_EQ(get_item(again->proxy_port(), 900000 + i), 200);
    expect_exact("k", answered + 5);
    expect_verified({"k"});
    EXPECT_EQ(metric(again->admin_port(), "sidelight_audit_forward_duplicates_total"), 0);
}

TEST_F(PgStoreTest, ThreeWritersOnOneDatabaseEachKeepTheirChain) {
    auto app = ok_app();
    const std::vector<std::string> chains{"a", "b", "c"};
    const std::vector<int> wanted{37, 52, 81};
    std::vector<std::unique_ptr<temp_dir>> dirs;
    std::vector<std::unique_ptr<sidelight_process>> procs;
    for (const auto& chain : chains) {
        dirs.push_back(std::make_unique<temp_dir>());
        procs.push_back(sidelight_process::run(
            *dirs.back(), test_config(app.port(), audit_yaml(dsn(), chain, *dirs.back()))));
    }
    std::vector<int> answered(3);
    std::vector<std::thread> senders;
    for (std::size_t i = 0; i < 3; ++i) {
        senders.emplace_back([&, i] {
            answered[i] = burst(procs[i]->proxy_port(), 2, wanted[i] / 2) +
                          burst(procs[i]->proxy_port(), 1, wanted[i] % 2);
        });
    }
    for (auto& s : senders) s.join();
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(answered[i], wanted[i]) << chains[i];
        expect_exact(chains[i], answered[i]);
    }
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log"), std::to_string(37 + 52 + 81));
    EXPECT_EQ(sql("SELECT string_agg(DISTINCT chain, ',' ORDER BY chain) FROM audit_log"), "a,b,c");
    const auto v = run_cli({"audit", "verify", "--store", dsn()});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_NE(
            v.out.find("chain " + chains[i] + ": OK " + std::to_string(wanted[i]) + " events"),
            std::string::npos)
            << v.out;
    }
    EXPECT_EQ(count_lines(v.out), 3u) << v.out;
}

TEST_F(PgStoreTest, PasswordFromTheEnvironmentIsNeverShownAndALiteralOneIsRefused) {
    const std::string secret = "Sup3rS3cret";
    auto app = ok_app();
    temp_dir dir;
    ::setenv("AUDIT_PG_DSN", (dsn() + " password=" + secret).c_str(), 1);
    struct unset_env {
        ~unset_env() { ::unsetenv("AUDIT_PG_DSN"); }
    } unset;
    const auto yaml = test_config(app.port(), audit_yaml("${AUDIT_PG_DSN}", "p", dir));
    const auto path = dir.write("sidelight.yaml", yaml);

    const auto check = run_cli({"check", "--config", path});
    EXPECT_EQ(check.code, 0) << check.err;
    EXPECT_NE(check.out.find("dsn"), std::string::npos) << check.out;
    EXPECT_EQ(check.out.find(secret), std::string::npos) << check.out;
    EXPECT_EQ(check.err.find(secret), std::string::npos) << check.err;

    restart_guard guard;
    {
        auto proc = sidelight_process::run(dir, yaml);
        for (int i = 0; i < 5; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);
        expect_exact("p", 5);
        const auto h = http_get(proc->admin_port(), "/healthz");
        ASSERT_TRUE(h);
        EXPECT_EQ(h->body.find(secret), std::string::npos) << h->body;

        cluster().stop();
        for (int i = 5; i < 10; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);
        std::string body;
        ASSERT_TRUE(eventually(
            [&] {
                const auto r = http_get(proc->admin_port(), "/healthz");
                body = r ? r->body : "";
                const auto st = store_health(proc->admin_port());
                return !st.empty() && !st.at("connected").as_bool() &&
                       st.at("last_error").is_object();
            },
            15s))
            << body;
        const auto message = std::string(store_health(proc->admin_port())
                                             .at("last_error")
                                             .as_object()
                                             .at("message")
                                             .as_string());
        EXPECT_FALSE(message.empty());
        EXPECT_EQ(message.find(secret), std::string::npos) << message;
        EXPECT_EQ(body.find(secret), std::string::npos) << body;
        const auto metrics = http_get(proc->admin_port(), "/metrics");
        ASSERT_TRUE(metrics);
        EXPECT_EQ(metrics->body.find(secret), std::string::npos);

        cluster().start();
        expect_exact("p", 10);
        proc->signal(SIGTERM);
        EXPECT_EQ(proc->wait_exit(15s), 0);
        EXPECT_NE(proc->stderr_text().find("audit_forward_error"), std::string::npos);
        EXPECT_EQ(proc->stderr_text().find(secret), std::string::npos) << proc->stderr_text();
        EXPECT_EQ(proc->stdout_text().find(secret), std::string::npos);
    }
    expect_verified({"p"});

    // Written into the file itself: refused, at the value's position, naming the key.
    const std::string literal = "host=127.0.0.1 password=" + secret;
    const auto bad_yaml = test_config(app.port(), audit_yaml(literal, "p", dir));
    const auto bad = dir.write("literal.yaml", bad_yaml);
    const auto at = bad_yaml.find("dsn: \"") + 5;
    const auto line = std::count(bad_yaml.begin(), bad_yaml.begin() + at, '\n') + 1;
    const auto column = at - bad_yaml.rfind('\n', at);
    const auto refused = run_cli({"check", "--config", bad});
    EXPECT_NE(refused.code, 0);
    EXPECT_NE(refused.err.find(bad + ":" + std::to_string(line) + ":" + std::to_string(column) +
                               ": audit.store.dsn: "),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("password"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.out.find(secret), std::string::npos) << refused.out;

    // In a URI as well.
    const auto uri_yaml = test_config(
        app.port(), audit_yaml("postgresql://postgres:" + secret + "@127.0.0.1/x", "p", dir));
    const auto uri_refused = run_cli({"check", "--config", dir.write("uri.yaml", uri_yaml)});
    EXPECT_NE(uri_refused.code, 0);
    EXPECT_NE(uri_refused.err.find("audit.store.dsn: holds a password"), std::string::npos)
        << uri_refused.err;
}

TEST_F(PgStoreTest, AuditTablesAreAppendOnlyForTheWriterAndTheOwner) {
    cluster().psql(
        "DO $$ BEGIN CREATE ROLE audit_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
        "END $$");
    cluster().psql(
        "DO $$ BEGIN CREATE ROLE audit_writer LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
        "END $$");
    db_ = cluster().create_database("audit_owner");

    const auto grants =
        run_cli({"audit", "pg-grants", "--role", "audit_writer", "--store", dsn("audit_owner")});
    ASSERT_EQ(grants.code, 0) << grants.out << grants.err;
    EXPECT_EQ(sql("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"), "audit_owner");

    // The writer appends (both tables: one audit rule and one security rule).
    auto app = ok_app();
    temp_dir dir;
    auto yaml = audit_yaml(dsn("audit_writer"), "w", dir);
    yaml.replace(yaml.find("routes:\n"), 8, "routes:\n  - POST /api/login\n");
    yaml +=
        "security:\n"
        "  rules:\n"
        "    - name: login\n"
        "      match:\n"
        "        routes: [/api/login]\n"
        "        methods: [POST]\n"
        "      event_type: LOGIN_ATTEMPT\n"
        "      success:\n"
        "        status: [2xx]\n";
    auto proc = sidelight_process::run(dir, test_config(app.port(), yaml));
    for (int i = 0; i < 6; ++i) ASSERT_EQ(get_item(proc->proxy_port(), i), 200);
    for (int i = 0; i < 4; ++i) {
        auto c = connection::connect(proc->proxy_port());
        c.send(json_request("POST", "/api/login", "{\"username\":\"alice\"}"));
        const auto r = c.read_message(true);
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
    }
    ASSERT_TRUE(eventually(
        [&] {
            return sql("SELECT count(*) FROM security_audit WHERE chain = 'w'") == "4" &&
                   audit_rows("w") == 6;
        },
        15s))
        << tally("w");
    EXPECT_EQ(tally("w"), exact(10));
    EXPECT_NE(proc->stderr_text().find("user=audit_writer"), std::string::npos);

    const auto counts = [&] {
        return sql(
            "SELECT (SELECT count(*) FROM audit_log) || '/' || (SELECT count(*) FROM "
            "security_audit)");
    };
    const auto before = counts();
    EXPECT_EQ(before, "6/4");
    for (const char* role : {"audit_writer", "audit_owner"}) {
        for (const std::string table : {"audit_log", "security_audit"}) {
            for (const std::string& statement : {"UPDATE " + table + " SET user_id = 'mallory'",
                                                 "DELETE FROM " + table, "TRUNCATE " + table}) {
                const auto [code, text] = cluster().try_psql(statement, role, db_);
                EXPECT_NE(code, 0) << role << ": " << statement << ": " << text;
                const bool refused = text.find("append-only") != std::string::npos ||
                                     text.find("permission denied") != std::string::npos;
                EXPECT_TRUE(refused) << role << ": " << statement << ": " << text;
                if (std::string_view(role) == "audit_owner") {
                    EXPECT_NE(text.find("append-only"), std::string::npos)
                        << role << ": " << statement << ": " << text;
                }
            }
        }
    }
    EXPECT_EQ(counts(), before);
    EXPECT_EQ(tally("w"), exact(10));
    expect_verified({"w"});
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_exit(15s), 0);
}

// Postgres away long enough to fill the spool: as with a full queue, batch events are dropped and
// counted, strict requests answer 503, and /healthz says why; traffic without rules still flows.
TEST_F(PgStoreTest, AFullSpoolDropsBatchEventsAndAnswersStrictRequests503) {
    auto app = ok_app();
    temp_dir dir;
    const std::string away = "host=127.0.0.1 port=1 user=x connect_timeout=1";
    const std::string batch_rule =
        "    - name: item-list\n"
        "      match: {routes: [\"/api/lists/{id}\"], methods: [GET]}\n"
        "      action: READ_LIST\n"
        "      entity_type: list\n"
        "      entity_id: path:id\n";
    auto yaml = audit_yaml(away, "full", dir, "      max_bytes: 1MiB\n") + batch_rule;
    yaml.replace(yaml.find("routes:\n"), 8, "routes:\n  - GET /api/lists/{id}\n");
    auto proc = sidelight_process::run(dir, test_config(app.port(), yaml));
    ASSERT_TRUE(proc) << "did not start";
    // Events of ~1.5 KB each (ids and user agents are stored up to 256 and 512 bytes): the 1 MiB
    // spool fills after several hundred.
    const std::string long_id(300, 'x');
    const std::string agent = "User-Agent: " + std::string(600, 'a') + "\r\n";
    int ok = 0, refused = 0;
    for (int i = 0; i < 3000 && refused == 0; ++i) {
        const auto r =
            http_get(proc->proxy_port(), "/api/items/" + long_id + std::to_string(i), agent);
        ASSERT_TRUE(r);
        if (r->status == 200) ++ok;
        if (r->status == 503) ++refused;
    }
    EXPECT_GT(ok, 100) << "the spool refused too early";
    ASSERT_EQ(refused, 1) << "the spool never filled";
    int code = 0;
    const auto h = healthz(proc->admin_port(), &code);
    EXPECT_EQ(code, 503);
    const auto& audit = h.at("audit").as_object();
    EXPECT_FALSE(audit.at("healthy").as_bool());
    EXPECT_NE(std::string(audit.at("last_error").as_object().at("message").as_string())
                  .find("spool.max_bytes"),
              std::string::npos)
        << boost::json::serialize(h);
    EXPECT_EQ(audit.at("store").as_object().at("state").as_string(), "degraded");
    EXPECT_GE(metric(proc->admin_port(), "sidelight_audit_strict_failures_total"), 1);
    // Batch events never hold a request: answered 200, dropped and counted by reason.
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(http_get(proc->proxy_port(), "/api/lists/" + long_id + std::to_string(i))->status,
                  200);
    EXPECT_TRUE(eventually(
        [&] {
            return metric(proc->admin_port(),
                          "sidelight_audit_dropped_total{reason=\"spool_full\",table=\"audit_"
                          "log\"}") >= 1;
        },
        10s));
    // Every answered strict event waits in the spool (the lag is refreshed at each reconnect).
    EXPECT_TRUE(eventually(
        [&] { return metric(proc->admin_port(), "sidelight_audit_forward_lag_events") == ok; },
        15s))
        << metric(proc->admin_port(), "sidelight_audit_forward_lag_events") << " vs " << ok;
}

}  // namespace
}  // namespace sidelight::test
