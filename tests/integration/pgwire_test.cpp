// The PostgreSQL wire listener (`databases`, issue 15) through the real binary, against a real
// PostgreSQL 15 (tests/support/pg_cluster) and a real client (libpq): what the client gets back
// is what the server sent, and /metrics counts every statement with its operation and table.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

using conn_ptr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

pg_cluster& cluster() {
    return pg_cluster::shared();
}

// `databases:` with one entry `main` pointing at the cluster; `upstream_extra` and `extra` are
// more keys of the upstream and of the entry.
std::string databases_yaml(const std::string& upstream_extra = "", const std::string& extra = "") {
    return "databases:\n  - name: main\n    listen: 127.0.0.1:0\n"
           "    upstream: {address: 127.0.0.1:" +
           std::to_string(cluster().port()) + upstream_extra + "}\n" + extra;
}

// sidelight with database listeners; the port of the first is read from its log line.
struct sidecar {
    temp_dir dir;
    std::unique_ptr<sidelight_process> proc;
    std::uint16_t port = 0;

    // `app`: the HTTP upstream's port (1: none; /healthz is then unhealthy for it).
    explicit sidecar(const std::string& yaml, std::string binary = SIDELIGHT_BINARY,
                     std::uint16_t app = 1) {
        proc = sidelight_process::run(dir, test_config(app, yaml), std::move(binary));
        EXPECT_TRUE(proc->wait_for_log("database main listening on")) << proc->stderr_text();
        port = port_of("main");
    }

    // The port database `name` bound, from its log line.
    std::uint16_t port_of(const std::string& name) const {
        const std::regex line("database " + name + R"( listening on 127\.0\.0\.1:(\d+) -> )");
        std::smatch m;
        const auto text = proc->stderr_text();
        return std::regex_search(text, m, line) ? static_cast<std::uint16_t>(std::stoi(m[1])) : 0;
    }

    std::string dsn(const std::string& dbname, const std::string& more = "sslmode=disable",
                    const std::string& user = "postgres") const {
        return "host=127.0.0.1 port=" + std::to_string(port) + " user=" + user +
               " dbname=" + dbname + " connect_timeout=5 " + more;
    }
    std::string metrics() const {
        auto res = http_get(proc->admin_port(), "/metrics");
        return res ? res->body : "";
    }
    double value(const std::string& series) const { return sample_value(metrics(), series); }
};

conn_ptr connect(const std::string& dsn) {
    return conn_ptr(PQconnectdb(dsn.c_str()), &PQfinish);
}

result_ptr exec(PGconn* c, const std::string& sql) {
    return result_ptr(PQexec(c, sql.c_str()), &PQclear);
}

// Runs `sql` and expects success.
void ok(PGconn* c, const std::string& sql) {
    auto r = exec(c, sql);
    const auto status = PQresultStatus(r.get());
    ASSERT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(c);
}

std::string queries(const std::string& op, const std::string& table,
                    const std::string& outcome = "ok") {
    return "db_queries_total{operation=\"" + op + "\",outcome=\"" + outcome + "\",table=\"" +
           table + "\"}";
}

std::string durations(const std::string& op, const std::string& table) {
    return "db_query_duration_ms_count{operation=\"" + op + "\",table=\"" + table + "\"}";
}

// A fresh database of the shared cluster and a connection to it through sidelight.
struct db_session {
    sidecar side;
    std::string dbname = cluster().create_database();
    conn_ptr conn = connect(side.dsn(dbname));

    explicit db_session(const std::string& yaml = databases_yaml()) : side(yaml) {
        EXPECT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
    }
};

// Why this kernel does not give the io_uring the relay asks for (dbproxy/relay_uring.cpp: a
// ring with DEFER_TASKRUN), or "" when it does.
std::string io_uring_refusal() {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    const long fd = ::syscall(__NR_io_uring_setup, 8, &params);
    if (fd < 0) return std::strerror(errno);
    ::close(static_cast<int>(fd));
    return "";
}

// The tests of the data path run on both engines of the relay (dbproxy/relay.hpp): `io_uring`
// through `database_io: auto`, which takes it on a kernel that gives it (skipped, with the
// reason, on one that does not), and `epoll`, asked for.
class PgWireRelayTest : public ::testing::TestWithParam<std::string_view> {
  protected:
    void SetUp() override {
        if (GetParam() == "io_uring")
            if (const auto why = io_uring_refusal(); !why.empty())
                GTEST_SKIP() << "io_uring is not available here: " << why;
    }
    // databases_yaml(), with the engine.
    std::string yaml(const std::string& upstream_extra = "", const std::string& extra = "") const {
        return databases_yaml(upstream_extra, extra) +
               (GetParam() == "epoll" ? "database_io: epoll\n" : "database_io: auto\n");
    }
    // The relay `side` runs is this test's.
    void expect_engine(const sidecar& side) const {
        EXPECT_TRUE(side.proc->wait_for_log("database relay: " + std::string(GetParam())))
            << side.proc->stderr_text();
    }
};

INSTANTIATE_TEST_SUITE_P(Engines, PgWireRelayTest, ::testing::Values("io_uring", "epoll"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(PgWireRelayTest, SimpleQueriesMultiStatementAndConnections) {
    db_session s(yaml());
    expect_engine(s.side);
    ok(s.conn.get(), "CREATE TABLE orders (id int, v text)");
    auto r = exec(s.conn.get(),
                  "INSERT INTO orders VALUES (1, 'a'), (2, 'b'); /* ; */ SELECT * FROM orders "
                  "WHERE v <> ';'; UPDATE public.orders SET v = 'c' WHERE id = 1");
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(s.conn.get());
    EXPECT_STREQ(PQcmdTuples(r.get()), "1");  // the last statement's result
    // public.orders is labelled with its table alone.
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("update", "orders")) == 1; }));
    const auto m = s.side.metrics();
    EXPECT_EQ(sample_value(m, queries("ddl", "orders")), 1);
    EXPECT_EQ(sample_value(m, queries("insert", "orders")), 1);
    EXPECT_EQ(sample_value(m, queries("select", "orders")), 1);
    EXPECT_EQ(sample_value(m, durations("select", "orders")), 1);
    EXPECT_EQ(sample_value(m, durations("insert", "orders")), 1);
    EXPECT_EQ(sample_value(m, "active_connections{type=\"db\"}"), 1);
    EXPECT_EQ(sample_count(m, "db_query_duration_ms_bucket{operation=\"select\",table=\"orders\""),
              8u);  // [1,5,10,50,100,500,1000] and +Inf
    s.conn.reset();
    EXPECT_TRUE(eventually([&] { return s.side.value("active_connections{type=\"db\"}") == 0; }));
}

TEST_P(PgWireRelayTest, ExtendedProtocolNamedUnnamedAndPipeline) {
    db_session s(yaml());
    expect_engine(s.side);
    auto* c = s.conn.get();
    ok(c, "CREATE TABLE items (id int, name text)");
    const char* values[2] = {"1", "one"};
    auto ins = result_ptr(PQexecParams(c, "INSERT INTO items VALUES ($1, $2)", 2, nullptr, values,
                                       nullptr, nullptr, 0),
                          &PQclear);
    ASSERT_EQ(PQresultStatus(ins.get()), PGRES_COMMAND_OK) << PQerrorMessage(c);
    auto prep = result_ptr(
        PQprepare(c, "by_id", "SELECT name FROM items WHERE id = $1", 1, nullptr), &PQclear);
    ASSERT_EQ(PQresultStatus(prep.get()), PGRES_COMMAND_OK) << PQerrorMessage(c);
    for (int i = 0; i < 3; ++i) {
        auto r = result_ptr(PQexecPrepared(c, "by_id", 1, values, nullptr, nullptr, 0), &PQclear);
        ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK);
        ASSERT_EQ(PQntuples(r.get()), 1);
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "one");
    }
    // Pipeline mode: four statements sent before one Sync.
    ASSERT_EQ(PQenterPipelineMode(c), 1);
    for (int i = 10; i < 13; ++i) {
        const auto id = std::to_string(i);
        const char* v[2] = {id.c_str(), "p"};
        ASSERT_EQ(PQsendQueryParams(c, "INSERT INTO items VALUES ($1, $2)", 2, nullptr, v, nullptr,
                                    nullptr, 0),
                  1);
    }
    ASSERT_EQ(PQsendQueryPrepared(c, "by_id", 1, values, nullptr, nullptr, 0), 1);
    ASSERT_EQ(PQpipelineSync(c), 1);
    int results = 0;
    for (int i = 0; i < 4; ++i) {
        auto r = result_ptr(PQgetResult(c), &PQclear);
        ASSERT_TRUE(r);
        const auto st = PQresultStatus(r.get());
        EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << PQerrorMessage(c);
        ++results;
        result_ptr end(PQgetResult(c), &PQclear);  // null between the queries' results
        EXPECT_FALSE(end);
    }
    auto sync = result_ptr(PQgetResult(c), &PQclear);
    EXPECT_EQ(PQresultStatus(sync.get()), PGRES_PIPELINE_SYNC);
    ASSERT_EQ(PQexitPipelineMode(c), 1);
    EXPECT_EQ(results, 4);
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("select", "items")) == 4; }));
    EXPECT_EQ(s.side.value(queries("insert", "items")), 4);
    EXPECT_EQ(s.side.value(durations("insert", "items")), 4);
}

TEST(PgWireTest, ErrorsAreCountedAndTheConnectionStaysUsable) {
    db_session s;
    auto* c = s.conn.get();
    auto bad = exec(c, "SELECT * FROM no_such_table");
    EXPECT_EQ(PQresultStatus(bad.get()), PGRES_FATAL_ERROR);
    EXPECT_STREQ(PQresultErrorField(bad.get(), PG_DIAG_SQLSTATE), "42P01");
    auto bad2 = result_ptr(
        PQexecParams(c, "DELETE FROM missing_too", 0, nullptr, nullptr, nullptr, nullptr, 0),
        &PQclear);
    EXPECT_EQ(PQresultStatus(bad2.get()), PGRES_FATAL_ERROR);
    // An error in the middle of a string: the statements after it are not run.
    auto mid = exec(c, "SELECT 1; SELECT * FROM gone; SELECT 3");
    EXPECT_EQ(PQresultStatus(mid.get()), PGRES_FATAL_ERROR);
    auto r = exec(c, "SELECT 42");
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK);
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "42");
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("select", "none")) == 2; }));
    EXPECT_EQ(s.side.value(queries("select", "no_such_table", "error")), 1);
    EXPECT_EQ(s.side.value(queries("delete", "missing_too", "error")), 1);
    EXPECT_EQ(s.side.value(queries("select", "gone", "error")), 1);
}

TEST_P(PgWireRelayTest, CopyInAndOut) {
    db_session s(yaml());
    expect_engine(s.side);
    auto* c = s.conn.get();
    ok(c, "CREATE TABLE nums (n int)");
    std::string data;
    for (int i = 0; i < 5000; ++i) data += std::to_string(i) + "\n";
    auto in = exec(c, "COPY nums FROM STDIN");
    ASSERT_EQ(PQresultStatus(in.get()), PGRES_COPY_IN) << PQerrorMessage(c);
    for (std::size_t at = 0; at < data.size(); at += 1000) {
        const auto piece = data.substr(at, 1000);
        ASSERT_EQ(PQputCopyData(c, piece.data(), static_cast<int>(piece.size())), 1);
    }
    ASSERT_EQ(PQputCopyEnd(c, nullptr), 1);
    auto done = result_ptr(PQgetResult(c), &PQclear);
    ASSERT_EQ(PQresultStatus(done.get()), PGRES_COMMAND_OK) << PQerrorMessage(c);
    EXPECT_STREQ(PQcmdTuples(done.get()), "5000");
    while (auto* extra = PQgetResult(c)) PQclear(extra);

    auto out = exec(c, "COPY nums TO STDOUT");
    ASSERT_EQ(PQresultStatus(out.get()), PGRES_COPY_OUT) << PQerrorMessage(c);
    std::string received;
    for (;;) {
        char* buf = nullptr;
        const int n = PQgetCopyData(c, &buf, 0);
        if (n < 0) break;
        received.append(buf, static_cast<std::size_t>(n));
        PQfreemem(buf);
    }
    auto end = result_ptr(PQgetResult(c), &PQclear);
    EXPECT_EQ(PQresultStatus(end.get()), PGRES_COMMAND_OK);
    while (auto* extra = PQgetResult(c)) PQclear(extra);
    EXPECT_EQ(received.size(), data.size());
    EXPECT_EQ(received, data);
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("copy", "nums")) == 2; }));

    // Through the extended protocol (PQexecParams): libpq sends a second Sync after CopyDone,
    // the server answers only that one, and the statements after it keep their own labels.
    auto params = [&](const char* sql) {
        return result_ptr(PQexecParams(c, sql, 0, nullptr, nullptr, nullptr, nullptr, 0), &PQclear);
    };
    auto in2 = params("COPY nums FROM STDIN");
    ASSERT_EQ(PQresultStatus(in2.get()), PGRES_COPY_IN) << PQerrorMessage(c);
    ASSERT_EQ(PQputCopyData(c, "7\n", 2), 1);
    ASSERT_EQ(PQputCopyEnd(c, nullptr), 1);
    auto done2 = result_ptr(PQgetResult(c), &PQclear);
    ASSERT_EQ(PQresultStatus(done2.get()), PGRES_COMMAND_OK) << PQerrorMessage(c);
    while (auto* extra = PQgetResult(c)) PQclear(extra);
    for (int i = 0; i < 3; ++i) {
        auto r = params("SELECT count(*) FROM nums");
        ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c);
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "5001");
    }
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("select", "nums")) == 3; }))
        << s.side.value(queries("select", "nums"));
    EXPECT_EQ(s.side.value(queries("copy", "nums")), 3);
    EXPECT_EQ(s.side.value(queries("copy", "nums", "error")), 0);
}

TEST_P(PgWireRelayTest, ListenNotifyIsDelivered) {
    db_session s(yaml());
    expect_engine(s.side);
    auto listener = s.conn.get();
    ok(listener, "LISTEN jobs");
    auto sender = connect(s.side.dsn(s.dbname));
    ASSERT_EQ(PQstatus(sender.get()), CONNECTION_OK);
    ok(sender.get(), "NOTIFY jobs, 'hello'");
    std::string payload;
    EXPECT_TRUE(eventually(
        [&] {
            PQconsumeInput(listener);
            if (PGnotify* n = PQnotifies(listener)) {
                payload = n->extra;
                PQfreemem(n);
                return true;
            }
            return false;
        },
        5s));
    EXPECT_EQ(payload, "hello");
    // LISTEN and NOTIFY are both `other`.
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("other", "none")) == 2; }));
    EXPECT_EQ(s.side.value("active_connections{type=\"db\"}"), 2);
}

TEST_P(PgWireRelayTest, CancelThroughSidelight) {
    db_session s(yaml());
    expect_engine(s.side);
    auto* c = s.conn.get();
    ASSERT_EQ(PQsendQuery(c, "SELECT pg_sleep(10)"), 1);
    // Until the server runs it: its state is active in pg_stat_activity.
    auto watcher = connect(cluster().dsn("postgres", s.dbname));
    ASSERT_EQ(PQstatus(watcher.get()), CONNECTION_OK);
    EXPECT_TRUE(eventually([&] {
        auto r = exec(watcher.get(),
                      "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                      "query = 'SELECT pg_sleep(10)'");
        return std::string(PQgetvalue(r.get(), 0, 0)) == "1";
    }));
    const auto started = std::chrono::steady_clock::now();
    PGcancel* cancel = PQgetCancel(c);
    char err[256] = {};
    EXPECT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
    PQfreeCancel(cancel);
    auto r = result_ptr(PQgetResult(c), &PQclear);
    const auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
    EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "57014");  // query_canceled
    EXPECT_LT(waited, 2s);
    while (auto* extra = PQgetResult(c)) PQclear(extra);
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("select", "none", "error")) == 1; }));
    ok(c, "SELECT 1");  // still usable
}

// Roles with md5 and SCRAM-SHA-256 passwords, and pg_hba entries that demand them.
void create_password_roles() {
    static bool done = false;
    if (done) return;
    done = true;
    cluster().psql(
        "SET password_encryption = 'md5';\n"
        "CREATE ROLE wire_md5 LOGIN PASSWORD 'md5-secret';\n"
        "SET password_encryption = 'scram-sha-256';\n"
        "CREATE ROLE wire_scram LOGIN PASSWORD 'scram-secret';\n");
    const auto hba = cluster().dir() + "/data/pg_hba.conf";
    std::string old;
    {
        std::ifstream in(hba);
        old.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream(hba) << "host all wire_md5 127.0.0.1/32 md5\n"
                          "host all wire_scram 127.0.0.1/32 scram-sha-256\n"
                       << old;
    cluster().psql("SELECT pg_reload_conf()");
    // In force once a connection without a password is refused.
    EXPECT_TRUE(eventually([] {
        auto c = connect(cluster().dsn("wire_md5", "postgres") + " sslmode=disable");
        return PQstatus(c.get()) != CONNECTION_OK;
    }));
}

TEST(PgWireTest, Md5AndScramLoginsPassThrough) {
    create_password_roles();
    sidecar side(databases_yaml());
    for (auto [user, password] :
         {std::pair{"wire_md5", "md5-secret"}, std::pair{"wire_scram", "scram-secret"}}) {
        auto good = connect(
            side.dsn("postgres", std::string("sslmode=disable password=") + password, user));
        ASSERT_EQ(PQstatus(good.get()), CONNECTION_OK)
            << user << ": " << PQerrorMessage(good.get());
        auto r = exec(good.get(), "SELECT current_user");
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), user);
        auto bad = connect(side.dsn("postgres", "sslmode=disable password=wrong", user));
        EXPECT_EQ(PQstatus(bad.get()), CONNECTION_BAD);
        EXPECT_NE(std::string(PQerrorMessage(bad.get())).find("password authentication failed"),
                  std::string::npos)
            << PQerrorMessage(bad.get());
    }
    // The server's own check: the md5 role's password is stored as md5, the other as SCRAM.
    EXPECT_EQ(cluster().psql("SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = "
                             "'wire_md5'"),
              "md5");
    EXPECT_EQ(cluster().psql("SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = "
                             "'wire_scram'"),
              "SCRAM-SHA-256");
}

TEST(PgWireTest, ClientSslPreferFallsBackAndRequireFailsClearly) {
    sidecar side(databases_yaml());
    auto prefer = connect(side.dsn("postgres", "sslmode=prefer"));
    ASSERT_EQ(PQstatus(prefer.get()), CONNECTION_OK) << PQerrorMessage(prefer.get());
    EXPECT_EQ(PQsslInUse(prefer.get()), 0);
    auto require = connect(side.dsn("postgres", "sslmode=require"));
    EXPECT_EQ(PQstatus(require.get()), CONNECTION_BAD);
    EXPECT_NE(std::string(PQerrorMessage(require.get())).find("server does not support SSL"),
              std::string::npos)
        << PQerrorMessage(require.get());
}

TEST(PgWireTest, UpstreamTlsVerifyFull) {
    sidecar side(databases_yaml(", tls: verify-full, ca_file: " + cluster().ca_file()));
    auto c = connect(side.dsn("postgres"));
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    auto r = exec(c.get(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK);
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "t");  // the server side is encrypted
}

// tls: require encrypts without a CA; a cancel goes over TLS to the same server too.
TEST(PgWireTest, UpstreamTlsRequireAndCancelOverIt) {
    sidecar side(databases_yaml(", tls: require"));
    auto c = connect(side.dsn("postgres"));
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    auto r = exec(c.get(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "t");
    ASSERT_EQ(PQsendQuery(c.get(), "SELECT pg_sleep(10)"), 1);
    auto watcher = connect(cluster().dsn());
    EXPECT_TRUE(eventually([&] {
        auto a = exec(watcher.get(),
                      "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                      "query = 'SELECT pg_sleep(10)'");
        return std::string(PQgetvalue(a.get(), 0, 0)) == "1";
    }));
    PGcancel* cancel = PQgetCancel(c.get());
    char err[256] = {};
    EXPECT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
    PQfreeCancel(cancel);
    auto done = result_ptr(PQgetResult(c.get()), &PQclear);
    EXPECT_STREQ(PQresultErrorField(done.get(), PG_DIAG_SQLSTATE), "57014");
    while (auto* extra = PQgetResult(c.get())) PQclear(extra);
}

// A database server that routes by SNI (cloud Postgres, poolers) must get the name in every
// TLS mode, as libpq sends it: here a server that answers the SSLRequest, completes the
// handshake and records the name the client sent.
TEST(PgWireTest, UpstreamTlsSendsTheServerNameInEveryMode) {
    ::signal(SIGPIPE, SIG_IGN);  // the health probe closes right after the SSLRequest's answer
    temp_dir keys;
    const auto& d = keys.path();
    ASSERT_EQ(std::system(("cd " + d +
                           " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                           " -nodes -subj /CN=db.example.test -keyout k.pem -out c.pem -days 2"
                           " >/dev/null 2>&1")
                              .c_str()),
              0);
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    const auto port = ntohs(addr.sin_port);
    // One per completed handshake, "" when no name was sent (the health probe's connections
    // end after the SSLRequest's answer).
    std::vector<std::string> names;
    std::thread server([&] {
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate_file(ctx, (d + "/c.pem").c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, (d + "/k.pem").c_str(), SSL_FILETYPE_PEM);
        for (;;) {  // until the listener is shut down
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0) break;
            char request[8];
            if (::recv(fd, request, 8, MSG_WAITALL) == 8 && ::send(fd, "S", 1, 0) == 1) {
                SSL* ssl = SSL_new(ctx);
                SSL_set_fd(ssl, fd);
                if (SSL_accept(ssl) == 1) {
                    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
                    names.push_back(sni ? sni : "");
                    char startup[1024];  // read before answering: unread bytes make close() a reset
                    SSL_read(ssl, startup, sizeof startup);
                    const auto refusal = std::string("E") + std::string(4, '\0') + "SFATAL" +
                                         std::string(1, '\0') + "Mnot here" + std::string(2, '\0');
                    std::string framed = refusal;
                    const auto n = static_cast<std::uint32_t>(refusal.size() - 1);
                    framed[1] = static_cast<char>(n >> 24);
                    framed[2] = static_cast<char>(n >> 16);
                    framed[3] = static_cast<char>(n >> 8);
                    framed[4] = static_cast<char>(n);
                    SSL_write(ssl, framed.data(), static_cast<int>(framed.size()));
                    SSL_shutdown(ssl);
                }
                SSL_free(ssl);
            }
            ::close(fd);
        }
        SSL_CTX_free(ctx);
    });
    for (const char* mode : {"prefer", "require"}) {
        sidecar side(
            "databases:\n  - name: main\n    listen: 127.0.0.1:0\n"
            "    upstream: {address: 127.0.0.1:" +
            std::to_string(port) + ", tls: " + mode + ", sni: db.example.test}\n");
        auto c = connect(side.dsn("postgres"));
        EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
        EXPECT_NE(std::string(PQerrorMessage(c.get())).find("not here"), std::string::npos)
            << mode << ": " << PQerrorMessage(c.get());
    }
    ::shutdown(listener, SHUT_RDWR);
    server.join();
    ::close(listener);
    ASSERT_GE(names.size(), 2u);  // libpq may try twice per mode
    for (const auto& n : names) EXPECT_EQ(n, "db.example.test");
}

TEST(PgWireTest, UpstreamTlsWithTheWrongCaFailsCleanly) {
    temp_dir keys;
    const auto other_ca = keys.path() + "/other.crt";
    const auto cmd =
        "openssl req -new -x509 -days 1 -nodes -subj /CN=127.0.0.1 -addext "
        "subjectAltName=IP:127.0.0.1 -newkey ec -pkeyopt "
        "ec_paramgen_curve:prime256v1 -keyout " +
        keys.path() + "/other.key -out " + other_ca + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    sidecar side(databases_yaml(", tls: verify-full, ca_file: " + other_ca));
    auto c = connect(side.dsn("postgres"));
    EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
    EXPECT_NE(std::string(PQerrorMessage(c.get())).find("sidelight: cannot reach database main"),
              std::string::npos)
        << PQerrorMessage(c.get());
    EXPECT_TRUE(side.proc->wait_for_log("event=db_connect_failed database=main"));
    EXPECT_NE(side.proc->stderr_text().find("TLS handshake: "), std::string::npos)
        << side.proc->stderr_text();
}

TEST(PgWireTest, SlowQueriesAreCountedAndLoggedWithoutSql) {
    db_session s(databases_yaml("", "    slow_query: 100ms\n"));
    ok(s.conn.get(), "SELECT pg_sleep(0.2)");
    ok(s.conn.get(), "SELECT 1");
    // Each statement is recorded after its answer is written: wait for the second one too.
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("select", "none")) == 2; }));
    EXPECT_EQ(s.side.value("db_slow_queries_total{operation=\"select\",table=\"none\"}"), 1);
    EXPECT_TRUE(
        s.side.proc->wait_for_log("event=db_slow_query database=main operation=select "
                                  "table=none duration_ms="));
    EXPECT_EQ(s.side.proc->stderr_text().find("pg_sleep"), std::string::npos);
}

TEST(PgWireTest, TableLabelsAreCapped) {
    db_session s(databases_yaml("", "    tables: {max: 3}\n"));
    for (int i = 1; i <= 5; ++i)
        ok(s.conn.get(), "CREATE TABLE t" + std::to_string(i) + " (x int)");
    for (int i = 1; i <= 5; ++i) ok(s.conn.get(), "SELECT * FROM t" + std::to_string(i));
    EXPECT_TRUE(eventually([&] { return s.side.value(queries("select", "other")) == 2; }));
    // CREATE TABLE names its table: t1-t3 took the three labels.
    EXPECT_EQ(s.side.value(queries("ddl", "other")), 2);
    for (int i = 1; i <= 3; ++i)
        EXPECT_EQ(s.side.value(queries("select", "t" + std::to_string(i))), 1);
    EXPECT_EQ(s.side.value(queries("select", "t4")), -1);
}

TEST(PgWireTest, SeveralDatabasesGetADatabaseLabelAndConstLabels) {
    const auto upstream = "{address: 127.0.0.1:" + std::to_string(cluster().port()) + "}";
    sidecar side(
        "metrics:\n  const_labels: {pod: p1}\n"
        "databases:\n"
        "  - {name: main, listen: 127.0.0.1:0, upstream: " +
        upstream +
        "}\n"
        "  - {name: reports, listen: 127.0.0.1:0, upstream: " +
        upstream + "}\n");
    ASSERT_TRUE(side.proc->wait_for_log("database reports listening on"));
    auto main = connect(side.dsn("postgres"));
    ASSERT_EQ(PQstatus(main.get()), CONNECTION_OK) << PQerrorMessage(main.get());
    ok(main.get(), "SELECT 1");
    side.port = side.port_of("reports");
    auto reports = connect(side.dsn("postgres"));
    ASSERT_EQ(PQstatus(reports.get()), CONNECTION_OK) << PQerrorMessage(reports.get());
    ok(reports.get(), "SELECT 2");
    ok(reports.get(), "SELECT 3");
    const auto series = [](const std::string& db) {
        return "db_queries_total{database=\"" + db +
               "\",operation=\"select\",outcome=\"ok\",table=\"none\",pod=\"p1\"}";
    };
    EXPECT_TRUE(eventually([&] { return side.value(series("reports")) == 2; }));
    EXPECT_EQ(side.value(series("main")), 1);
    EXPECT_EQ(side.value("active_connections{type=\"db\",pod=\"p1\"}"), 2);
    // The protocol error counters exist per database from the start.
    EXPECT_EQ(side.value("db_protocol_errors_total{database=\"reports\",reason=\"truncated\","
                         "pod=\"p1\"}"),
              0);
    EXPECT_EQ(side.value("db_protocol_errors_total{database=\"main\",reason=\"bad_startup\","
                         "pod=\"p1\"}"),
              0);
    // SIGTERM with idle database connections open: they are closed and sidelight exits 0.
    side.proc->signal(SIGTERM);
    EXPECT_EQ(side.proc->wait_exit(15s), 0) << side.proc->stderr_text();
    auto r = exec(main.get(), "SELECT 1");
    EXPECT_NE(PQresultStatus(r.get()), PGRES_TUPLES_OK);
}

// A PostgreSQL message: type, length, body.
std::string pg_message(char type, const std::string& body) {
    std::string out(1, type);
    for (int shift = 24; shift >= 0; shift -= 8)
        out += static_cast<char>(((body.size() + 4) >> shift) & 0xff);
    return out + body;
}

std::string u32(std::uint32_t v) {
    std::string out;
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
    return out;
}

// A StartupMessage with `code` (3.0: 196608) for user postgres on `dbname`.
std::string startup_packet(const std::string& dbname, std::uint32_t code = 196608) {
    const std::string body =
        u32(code) + std::string("user\0postgres\0database\0", 23) + dbname + std::string("\0\0", 2);
    return u32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

// Sends a StartupMessage on a new connection to `port` and expects what a refused connection
// gets: a FATAL ErrorResponse with SQLSTATE 08006, then the close. What was read, for the rest.
std::string expect_08006_then_close(std::uint16_t port) {
    auto c = connection::connect(port);
    c.send(startup_packet("postgres"));
    const auto rest = c.read_all(5s);
    EXPECT_TRUE(c.wait_closed(0ms));
    EXPECT_GE(rest.size(), 5u);
    EXPECT_EQ(rest.substr(0, 1), "E");
    EXPECT_NE(rest.find(std::string("SFATAL\0", 7)), std::string::npos) << rest;
    EXPECT_NE(rest.find(std::string("C08006\0", 7)), std::string::npos) << rest;
    return rest;
}

// Reads until the buffer ends with a ReadyForQuery ('Z', length 5, status); the bytes read.
std::string read_until_ready(connection& c) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (got.size() >= 6 && got[got.size() - 6] == 'Z') return got;
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char tmp[4096];
        const auto n = ::recv(c.fd(), tmp, sizeof tmp, 0);
        if (n <= 0) break;
        got.append(tmp, static_cast<std::size_t>(n));
    }
    return got;
}

// A raw client of the database listener, logged in (trust) on `dbname` and ready for a query.
connection logged_in(std::uint16_t port, const std::string& dbname) {
    auto c = connection::connect(port);
    c.send(startup_packet(dbname));
    const auto hello = read_until_ready(c);
    EXPECT_EQ(hello.substr(0, 9), std::string("R\0\0\0\x08\0\0\0\0", 9));  // AuthenticationOk
    return c;
}

// The rest of the stream is one FATAL ErrorResponse with SQLSTATE 08P01, then EOF.
void expect_violation_then_eof(connection& c, const std::string& what) {
    const auto rest = c.read_all(5s);
    EXPECT_TRUE(c.wait_closed(0ms)) << what;
    ASSERT_GE(rest.size(), 5u) << what;
    EXPECT_EQ(rest[0], 'E') << what;
    const auto length = static_cast<unsigned char>(rest[3]) * 256u +
                        static_cast<unsigned char>(rest[4]);  // short messages only
    EXPECT_EQ(rest.size(), length + 1) << what;
    EXPECT_NE(rest.find(std::string("SFATAL\0", 7)), std::string::npos) << what;
    EXPECT_NE(rest.find(std::string("C08P01\0", 7)), std::string::npos) << what;
}

std::string protocol_errors(const std::string& reason) {
    return "db_protocol_errors_total{reason=\"" + reason + "\"}";
}

// Server backends connected to `dbname` (sidelight's connections included).
int backends_on(const std::string& dbname) {
    return std::stoi(
        cluster().psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + dbname + "'"));
}

TEST_P(PgWireRelayTest, ProtocolViolationsCloseBothSidesAndAreCounted) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    for (const char* reason : {"length_too_small", "length_too_large", "unknown_type",
                               "bad_startup", "truncated", "too_many_pending"})
        EXPECT_EQ(side.value(protocol_errors(reason)), 0) << reason;  // present from the start

    {  // protocol 2.0
        auto c = connection::connect(side.port);
        c.send(startup_packet(dbname, 2u << 16));
        expect_violation_then_eof(c, "version 2.0");
    }
    {  // a startup length below the 8 bytes of the smallest packet
        auto c = connection::connect(side.port);
        c.send(u32(4) + u32(196608));
        expect_violation_then_eof(c, "startup length 4");
    }
    EXPECT_TRUE(eventually([&] { return side.value(protocol_errors("bad_startup")) == 2; }));

    const auto after_login = [&](const std::string& bytes, const std::string& reason) {
        auto c = logged_in(side.port, dbname);
        c.send(bytes);
        expect_violation_then_eof(c, reason);
        EXPECT_TRUE(eventually([&] { return side.value(protocol_errors(reason)) == 1; })) << reason;
    };
    after_login(std::string("Q\0\0\0\x03", 5), "length_too_small");
    after_login(std::string("Q\x10\0\0\x01SELECT 1", 13), "length_too_large");  // 256 MiB + 1
    after_login(pg_message('Z', "I"), "unknown_type");
    {
        // Half a Query, then the client's side of the connection ends: it can still read.
        auto c = logged_in(side.port, dbname);
        c.send(pg_message('Q', std::string("SELECT 1", 9)).substr(0, 8));
        c.shutdown_write();
        expect_violation_then_eof(c, "truncated");
        EXPECT_TRUE(eventually([&] { return side.value(protocol_errors("truncated")) == 1; }));
    }
    {
        // Half a Query, then a reset, which may reach the socket before sidelight has read the
        // bytes: a receive still gets them first, then the reset (both engines).
        auto c = logged_in(side.port, dbname);
        c.send(pg_message('Q', std::string("SELECT 1", 9)).substr(0, 8));
        c.reset();
        EXPECT_TRUE(eventually([&] { return side.value(protocol_errors("truncated")) == 2; }));
    }
    // Every server connection sidelight opened for them is closed too, and the listener still
    // serves a well-behaved client.
    EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));
    auto fine = connect(side.dsn(dbname));
    ASSERT_EQ(PQstatus(fine.get()), CONNECTION_OK) << PQerrorMessage(fine.get());
    ok(fine.get(), "SELECT 1");
    EXPECT_EQ(side.value(protocol_errors("too_many_pending")), 0);
    EXPECT_NE(side.proc->stderr_text().find("event=db_protocol_error database=main side=client "
                                            "reason=unknown_type"),
              std::string::npos);
}

long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// 100,000 pipelined Parse messages behind a query that keeps the server busy: none is answered,
// so the tracker's queue reaches its cap and the connection is closed; memory stays flat.
TEST_P(PgWireRelayTest, AParseFloodIsCutAtThePendingCap) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    const auto before = rss_kib(side.proc->pid());
    auto c = logged_in(side.port, dbname);
    std::string flood = pg_message('Q', std::string("SELECT pg_sleep(2)", 19));
    const auto parse = pg_message('P', std::string("\0SELECT 1\0\0\0", 12));
    flood.reserve(flood.size() + 100'000 * parse.size());
    for (int i = 0; i < 100'000; ++i) flood += parse;
    std::string received;
    std::thread reader([&] { received = c.read_all(15s); });
    c.send(flood);  // returns once sidelight closes (or all of it is taken)
    reader.join();
    EXPECT_TRUE(c.wait_closed(0ms));
    EXPECT_NE(received.find(std::string("C08P01\0", 7)), std::string::npos);
    EXPECT_TRUE(eventually([&] { return side.value(protocol_errors("too_many_pending")) == 1; }));
    const auto after = rss_kib(side.proc->pid());
    EXPECT_LT(after - before, 32 * 1024) << before << " KiB -> " << after << " KiB";
    EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
    auto fine = connect(side.dsn(dbname));
    ASSERT_EQ(PQstatus(fine.get()), CONNECTION_OK) << PQerrorMessage(fine.get());
    ok(fine.get(), "SELECT 1");
}

// asyncpg's executemany: one Parse, then a Bind and an Execute per row, one Sync, all sent at
// once. Behind a statement that keeps the server busy, 60,000 messages await their answers (the
// cap once was 10,000, and asyncpg's executemany of 5,000 rows was cut): every row is inserted,
// answered and counted, and nothing is a protocol error.
TEST_P(PgWireRelayTest, ABatchOfThirtyThousandRowsIsRelayedAndCounted) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    cluster().psql("CREATE TABLE batch (id int)", "postgres", dbname);
    auto c = logged_in(side.port, dbname);
    constexpr int rows = 30'000;
    std::string batch = pg_message('Q', std::string("SELECT pg_sleep(0.5)", 21));
    batch += pg_message('P', std::string("ins\0INSERT INTO batch VALUES (1)\0\0\0", 35));
    const auto row = pg_message('B', std::string("\0ins\0\0\0\0\0\0\0", 11)) +
                     pg_message('E', std::string(5, '\0'));
    for (int i = 0; i < rows; ++i) batch += row;
    batch += pg_message('S', "");
    std::thread sender([&] { c.send(batch); });
    std::string got;
    const auto complete = std::string("INSERT 0 1\0", 11);
    const auto count = [&] {
        std::size_t n = 0;
        for (auto at = got.find(complete); at != std::string::npos; at = got.find(complete, at + 1))
            ++n;
        return n;
    };
    for (int reads = 0; reads < 200 && count() < rows; ++reads) got += read_until_ready(c);
    sender.join();
    EXPECT_EQ(count(), static_cast<std::size_t>(rows));
    EXPECT_EQ(got.substr(got.size() - 6), pg_message('Z', "I"));
    EXPECT_EQ(cluster().psql("SELECT count(*) FROM batch", "postgres", dbname),
              std::to_string(rows));
    EXPECT_TRUE(eventually([&] { return side.value(queries("insert", "batch")) == rows; }))
        << side.value(queries("insert", "batch"));
    EXPECT_EQ(side.value(protocol_errors("too_many_pending")), 0);
    ok(connect(side.dsn(dbname)).get(), "SELECT 1");
}

// 150 sessions each send a statement while sidelight is stopped (SIGSTOP), so the relay finds
// all of them at once when it runs again, and every session gets its own answer, whole and in
// order. (A kernel before 6.13 hands the io_uring engine all 150 in one batch, more operations
// than its submission queue holds; from 6.13 it hands them over 20 at a time.)
TEST_P(PgWireRelayTest, AStatementOnEachOf150SessionsAtOnceIsAnsweredOnEach) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    constexpr int sessions = 150;
    std::vector<connection> clients;
    for (int i = 0; i < sessions; ++i) clients.push_back(logged_in(side.port, dbname));
    for (int round = 0; round < 2; ++round) {
        side.proc->signal(SIGSTOP);
        for (int i = 0; i < sessions; ++i) {
            const auto sql = "SELECT " + std::to_string(i * 1000 + round) + "::text || 'x'";
            clients[i].send(pg_message('Q', sql + std::string(1, '\0')));
        }
        side.proc->signal(SIGCONT);
        for (int i = 0; i < sessions; ++i) {
            const auto answer = read_until_ready(clients[i]);
            const auto value = std::to_string(i * 1000 + round) + "x";
            // RowDescription, then a DataRow whose one column is `value`, CommandComplete, ready.
            EXPECT_NE(answer.find(u32(static_cast<std::uint32_t>(value.size())) + value),
                      std::string::npos)
                << "session " << i << " round " << round;
            EXPECT_NE(answer.find(std::string("SELECT 1\0", 9)), std::string::npos) << i;
            ASSERT_EQ(answer.substr(answer.size() - 6), pg_message('Z', "I")) << i;
        }
    }
    EXPECT_EQ(side.value(protocol_errors("unknown_type")), 0);
    clients.clear();
    EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
}

// A client that does not read while a 20 MB answer comes: the relay holds one chunk and stops
// reading the server (backpressure, no buffering of the answer), then the client gets every
// byte, in order, once it reads.
TEST_P(PgWireRelayTest, ASlowReaderGetsAWholeLargeAnswerWhileLittleIsHeld) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    auto c = logged_in(side.port, dbname);
    const auto before = rss_kib(side.proc->pid());
    const int rows = 20'000;
    const std::string sql =
        "SELECT lpad(i::text, 1000, 'x') FROM generate_series(1, " + std::to_string(rows) + ") i";
    c.send(pg_message('Q', sql + std::string(1, '\0')));
    std::this_thread::sleep_for(1s);  // the answer piles up in the sockets, not in sidelight
    const auto held = rss_kib(side.proc->pid()) - before;
    EXPECT_LT(held, 8 * 1024) << held << " KiB more while the client did not read";

    // Walks the messages as they come: every DataRow in order, then CommandComplete and Z.
    std::string got;
    std::size_t at = 0;
    int data_rows = 0;
    bool in_order = true, ready = false;
    std::string complete;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!ready && std::chrono::steady_clock::now() < deadline) {
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char tmp[65536];
        const auto n = ::recv(c.fd(), tmp, sizeof tmp, 0);
        if (n <= 0) break;
        got.append(tmp, static_cast<std::size_t>(n));
        while (got.size() - at >= 5) {
            const auto length = (static_cast<unsigned char>(got[at + 1]) << 24) |
                                (static_cast<unsigned char>(got[at + 2]) << 16) |
                                (static_cast<unsigned char>(got[at + 3]) << 8) |
                                static_cast<unsigned char>(got[at + 4]);
            if (got.size() - at < 1 + static_cast<std::size_t>(length)) break;
            const char type = got[at];
            const auto body = got.substr(at + 5, length - 4);
            if (type == 'D') {
                ++data_rows;
                const auto value = std::to_string(data_rows);
                in_order = in_order && body.size() == 2 + 4 + 1000 &&
                           body.compare(body.size() - value.size(), value.size(), value) == 0;
            }
            if (type == 'C') complete = body.substr(0, body.size() - 1);
            if (type == 'Z') ready = true;
            at += 1 + length;
        }
        if (at > (1u << 20)) {  // keep the buffer small
            got.erase(0, at);
            at = 0;
        }
    }
    EXPECT_TRUE(ready);
    EXPECT_EQ(data_rows, rows);
    EXPECT_TRUE(in_order);
    EXPECT_EQ(complete, "SELECT " + std::to_string(rows));
    EXPECT_TRUE(eventually([&] { return side.value(durations("select", "none")) == 1; }))
        << side.metrics();
}

// Runs `command` with sh; its exit status and stdout + stderr.
std::pair<int, std::string> shell(const std::string& command) {
    std::string out;
    FILE* f = ::popen((command + " 2>&1").c_str(), "r");
    if (!f) return {-1, ""};
    char buf[4096];
    while (const auto n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    const int status = ::pclose(f);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A counter's value, 0 while the series does not exist yet.
double counted(const std::string& metrics, const std::string& series) {
    return std::max(0.0, sample_value(metrics, series));
}

// pgbench, a real client, through sidelight: its initialization (CREATE, COPY, ALTER, VACUUM)
// and then its TPC-B-like script a known number of times, with prepared statements: exact
// counts per (operation, table), and what a direct look at the database finds.
// Reads whole server messages until one of type `last`; their types, in order.
std::string read_types_through(connection& c, char last) {
    std::string types;
    std::string buf;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        while (buf.size() >= 5) {
            std::uint32_t length = 0;
            for (int i = 1; i <= 4; ++i) length = length << 8 | static_cast<unsigned char>(buf[i]);
            if (buf.size() < length + 1) break;
            const char type = buf[0];
            types += type;
            buf.erase(0, length + 1);
            if (type == last) return types;
        }
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char tmp[4096];
        const auto n = ::recv(c.fd(), tmp, sizeof tmp, 0);
        if (n <= 0) break;
        buf.append(tmp, static_cast<std::size_t>(n));
    }
    return types;
}

// A cursor (a portal read with a row limit, as pg-cursor and postgres.js's .cursor() read one)
// is one statement, whether read to its end or closed after a part; a Parse that fails with no
// Execute behind it (postgres.js's Parse, Describe, Flush) is that statement's error.
TEST_P(PgWireRelayTest, ACursorIsOneStatementAndAFailedParseAloneIsAnError) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    cluster().psql("CREATE TABLE t AS SELECT generate_series(1, 10) AS g", "postgres", dbname);
    auto c = logged_in(side.port, dbname);
    const auto simple = [&](const char* sql) {
        c.send(pg_message('Q', std::string(sql) + '\0'));
        EXPECT_NE(read_until_ready(c).find('C'), std::string::npos) << sql;
    };
    const auto open = [&](const std::string& portal) {
        return pg_message('P', std::string("\0SELECT g FROM t\0\0\0", 19)) +
               pg_message('B', portal + '\0' + std::string(7, '\0'));
    };
    const auto execute = [&](const std::string& portal) {
        return pg_message('E', portal + '\0' + u32(3)) + pg_message('H', "");
    };
    simple("BEGIN");
    c.send(open("c") + execute("c"));
    EXPECT_EQ(read_types_through(c, 's'), "12DDDs");
    for (const char* expected : {"DDDs", "DDDs", "DC"}) {
        std::this_thread::sleep_for(50ms);  // the app works on the rows
        c.send(execute("c"));
        EXPECT_EQ(read_types_through(c, expected[std::strlen(expected) - 1]), expected);
    }
    c.send(open("d") + execute("d"));  // read in part, then closed
    EXPECT_EQ(read_types_through(c, 's'), "12DDDs");
    c.send(pg_message('C', std::string("Pd\0", 3)) + pg_message('S', ""));
    EXPECT_EQ(read_types_through(c, 'Z'), "3Z");
    simple("COMMIT");
    EXPECT_TRUE(eventually([&] { return side.value(queries("tx", "none")) == 2; }))
        << side.metrics();
    EXPECT_EQ(side.value(queries("select", "t")), 2);
    EXPECT_EQ(side.value(durations("select", "t")), 2);
    EXPECT_LT(side.value("db_query_duration_ms_sum{operation=\"select\",table=\"t\"}"), 150)
        << "the time between a cursor's reads is the app's, not the query's";

    c.send(pg_message('P', std::string("\0SELECT * FROM nosuch WHERE a = $1\0\0\0", 37)) +
           pg_message('D', std::string("S\0", 2)) + pg_message('H', ""));
    EXPECT_EQ(read_types_through(c, 'E'), "E");
    c.send(pg_message('S', ""));
    EXPECT_EQ(read_types_through(c, 'Z'), "Z");
    EXPECT_TRUE(eventually([&] { return side.value(queries("select", "nosuch", "error")) == 1; }))
        << side.metrics();
    EXPECT_EQ(side.value(protocol_errors("unknown_type")), 0);
}

// A shutdown drains the database connections as PostgreSQL's own shutdown would, within
// `shutdown.grace`: a statement running and a transaction open finish (the next statement of
// the transaction too); an idle connection ends with FATAL 57P01 at once, the others once
// idle; no new connection is taken. (test_config: delay 300 ms, grace 5 s.)
void expect_a_drain(sidecar& side) {
    const auto dbname = cluster().create_database();
    auto idle = connect(side.dsn(dbname));
    auto running = connect(side.dsn(dbname));
    auto in_tx = connect(side.dsn(dbname));
    auto stuck = connect(side.dsn(dbname));
    for (auto* c : {idle.get(), running.get(), in_tx.get(), stuck.get()})
        ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    ok(in_tx.get(), "CREATE TABLE t (id int)");
    ok(in_tx.get(), "BEGIN");
    ok(in_tx.get(), "INSERT INTO t VALUES (1)");
    // libpq hands an error that comes while no query runs to the notice processor.
    std::string told;
    PQsetNoticeProcessor(
        idle.get(), [](void* to, const char* m) { *static_cast<std::string*>(to) += m; }, &told);
    ASSERT_EQ(PQsendQuery(running.get(), "SELECT pg_sleep(1.5), 42"), 1);
    ASSERT_EQ(PQsendQuery(stuck.get(), "SELECT pg_sleep(60)"), 1);
    std::this_thread::sleep_for(100ms);
    const auto sent = std::chrono::steady_clock::now();
    side.proc->signal(SIGTERM);

    // The idle one is told, as soon as the delay is over.
    pollfd p{PQsocket(idle.get()), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 3000), 1);
    for (int i = 0; i < 100 && PQstatus(idle.get()) == CONNECTION_OK; ++i) {
        PQconsumeInput(idle.get());  // reads; PQisBusy parses what was read
        PQisBusy(idle.get());
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_NE(told.find("FATAL:  terminating connection due to administrator command"),
              std::string::npos)
        << told;
    EXPECT_EQ(PQstatus(idle.get()), CONNECTION_BAD);
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 1300ms);
    // No new connection once the drain began: refused as PostgreSQL refuses one then.
    auto late = connect(side.dsn(dbname, "sslmode=disable connect_timeout=2"));
    EXPECT_NE(PQstatus(late.get()), CONNECTION_OK);
    EXPECT_NE(std::string(PQerrorMessage(late.get())).find("the database system is shutting down"),
              std::string::npos)
        << PQerrorMessage(late.get());
    // A statement that would hold the drain past the grace can still be cancelled.
    PGcancel* cancel = PQgetCancel(stuck.get());
    char err[256] = {};
    EXPECT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
    PQfreeCancel(cancel);
    result_ptr cancelled(PQgetResult(stuck.get()), &PQclear);
    EXPECT_STREQ(PQresultErrorField(cancelled.get(), PG_DIAG_SQLSTATE), "57014");

    // The running statement gets its whole answer.
    result_ptr r(PQgetResult(running.get()), &PQclear);
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(running.get());
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 1), "42");
    // The transaction goes on to its COMMIT, which the server takes.
    ok(in_tx.get(), "INSERT INTO t VALUES (2)");
    ok(in_tx.get(), "COMMIT");
    EXPECT_EQ(cluster().psql("SELECT count(*) FROM t", "postgres", dbname), "2");
    const auto code = side.proc->wait_exit(10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << side.proc->stderr_text();
    EXPECT_EQ(side.proc->stderr_text().find("closing"), std::string::npos)
        << "nothing was left for the grace's end";
    EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
}

TEST_P(PgWireRelayTest, AShutdownLetsStatementsAndTransactionsFinish) {
    sidecar side(yaml());
    expect_engine(side);
    expect_a_drain(side);
}

// The same with TLS to the server, where the database thread's pumps carry the connection.
TEST(PgWireTest, AShutdownLetsStatementsAndTransactionsFinishOverTls) {
    sidecar side(databases_yaml(", tls: require"));
    expect_a_drain(side);
}

// Clients that connect and send nothing, or half a startup packet, are closed once
// limits.header_read_timeout is over (as PostgreSQL's authentication_timeout closes them): they
// hold nothing, and a shutdown's drain does not wait for them.
TEST(PgWireTest, ClientsThatSendNoStartupAreClosedAtTheHeaderTimeout) {
    sidecar side(databases_yaml() + "limits: {header_read_timeout: 500ms}\n");
    std::vector<connection> silent;
    for (int i = 0; i < 20; ++i) silent.push_back(connection::connect(side.port));
    silent.back().send(startup_packet("postgres").substr(0, 6));  // half a packet
    // All open at first (none closed at once), all closed by the deadline.
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 20; }));
    for (auto& c : silent) EXPECT_TRUE(c.wait_closed(3s));
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));
    EXPECT_TRUE(side.proc->wait_for_log("event=db_startup_timeout database=main"));
    auto fine = connect(side.dsn("postgres"));
    ASSERT_EQ(PQstatus(fine.get()), CONNECTION_OK) << PQerrorMessage(fine.get());
    ok(fine.get(), "SELECT pg_sleep(0.7)");  // a started connection outlives the deadline
    ok(fine.get(), "SELECT 1");
}

TEST_P(PgWireRelayTest, PgbenchWorkloadGivesExactCounts) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    const auto target = "-h 127.0.0.1 -p " + std::to_string(side.port) + " -U postgres ";
    const auto [init_status, init_out] = shell("pgbench -i -s 1 -q " + target + dbname);
    ASSERT_EQ(init_status, 0) << init_out;
    EXPECT_TRUE(eventually([&] { return side.value(queries("copy", "pgbench_accounts")) == 1; }))
        << side.metrics();
    const auto before = side.metrics();
    const auto [status, out] = shell("pgbench -n -t 50 -c 2 -j 1 -M prepared " + target + dbname);
    ASSERT_EQ(status, 0) << out;
    EXPECT_NE(out.find("number of transactions actually processed: 100/100"), std::string::npos)
        << out;
    const auto delta = [&](const std::string& op, const std::string& table) {
        return counted(side.metrics(), queries(op, table)) - counted(before, queries(op, table));
    };
    // Each session's last statement is its END, recorded after its answer (pgbench may be gone).
    EXPECT_TRUE(eventually([&] {
        return delta("insert", "pgbench_history") == 100 && delta("tx", "none") == 200;
    })) << side.metrics();
    EXPECT_EQ(delta("update", "pgbench_accounts"), 100);
    EXPECT_EQ(delta("select", "pgbench_accounts"), 100);
    EXPECT_EQ(delta("update", "pgbench_tellers"), 100);
    EXPECT_EQ(delta("update", "pgbench_branches"), 100);
    EXPECT_EQ(delta("tx", "none"), 200);  // BEGIN and END of each transaction
    const auto m = side.metrics();
    EXPECT_EQ(counted(m, queries("update", "pgbench_accounts", "error")), 0);
    EXPECT_EQ(cluster().psql("SELECT count(*) FROM pgbench_history", "postgres", dbname), "100");
}

// psql, a real client: the same statements through sidelight and directly print the same
// bytes — rows, a notice, an error, COPY out, a multi-statement string.
TEST(PgWireTest, PsqlOutputIsIdenticalToDirect) {
    sidecar side(databases_yaml());
    const auto dbname = cluster().create_database();
    cluster().psql(
        "CREATE TABLE t (id int, name text); INSERT INTO t SELECT g, md5(g::text) "
        "FROM generate_series(1, 500) g",
        "postgres", dbname);
    const std::string script =
        "SELECT * FROM t ORDER BY id;\n"
        "SELECT count(*), sum(id) FROM t; SELECT 'a;b' AS semi, E'x\\\\ny' AS esc;\n"
        "DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;\n"
        "SELECT 1/0;\n"
        "COPY (SELECT id, name FROM t WHERE id <= 20) TO STDOUT WITH (FORMAT csv);\n"
        "\\copy t TO STDOUT\n";
    temp_dir dir;
    {
        std::ofstream f(dir.path() + "/script.sql");
        f << script;
    }
    const auto psql = [&](std::uint16_t port) {
        return shell("psql -X -A -h 127.0.0.1 -p " + std::to_string(port) + " -U postgres -d " +
                     dbname + " -f " + dir.path() + "/script.sql");
    };
    const auto direct = psql(cluster().port());
    const auto through = psql(side.port);
    EXPECT_GT(direct.second.size(), 20'000u);
    EXPECT_NE(direct.second.find("NOTICE:  hello from plpgsql"), std::string::npos)
        << direct.second;
    EXPECT_NE(direct.second.find("division by zero"), std::string::npos);
    EXPECT_EQ(through.first, direct.first);
    EXPECT_EQ(through.second, direct.second);
}

// Where io_uring is refused (a seccomp filter, as Docker's default profile has), `auto` relays
// with epoll and says why; asking for io_uring there stops the start with the reason. A filter
// that lets a ring be made but not used is found at start too.
TEST(PgWireTest, WithoutIoUringTheRelayFallsBackToEpoll) {
    for (const auto& [binary, refused] :
         {std::pair{SIDELIGHT_NO_IO_URING_BINARY, "io_uring_setup"},
          std::pair{SIDELIGHT_IO_URING_UNUSABLE_BINARY, "io_uring_enter"}}) {
        SCOPED_TRACE(refused);
        sidecar side(databases_yaml(), binary);
        EXPECT_TRUE(side.proc->wait_for_log("database relay: epoll (io_uring not available: " +
                                            std::string(refused) + ": Operation not permitted)"))
            << side.proc->stderr_text();
        const auto dbname = cluster().create_database();
        auto c = connect(side.dsn(dbname));
        ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
        auto r = exec(c.get(), "SELECT 7");
        ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK);
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "7");
        EXPECT_TRUE(eventually([&] { return side.value(queries("select", "none")) == 1; }));
    }
    temp_dir dir;
    sidelight_process proc(
        {"run", "--config",
         dir.write("sidelight.yaml", test_config(1, databases_yaml() + "database_io: io_uring\n"))},
        SIDELIGHT_NO_IO_URING_BINARY);
    const auto code = proc.wait_exit(20s);
    ASSERT_TRUE(code.has_value()) << proc.stderr_text();
    EXPECT_NE(*code, 0);
    EXPECT_NE(
        proc.stderr_text().find("database_io: io_uring: io_uring_setup: Operation not permitted"),
        std::string::npos)
        << proc.stderr_text();
}

// After the relay stopped for `why`: libpq gets FATAL 08006 naming it, a bare startup gets the
// ErrorResponse and then the close, and the refused connection no longer counts as open by then.
void expect_refused_by_stopped_relay(const sidecar& side, const std::string& dbname,
                                     const std::string& why) {
    const auto message = "sidelight: the database relay has stopped (" + why + ")";
    auto c = connect(side.dsn(dbname));
    EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
    EXPECT_NE(std::string(PQerrorMessage(c.get())).find(message), std::string::npos)
        << PQerrorMessage(c.get());
    const auto rest = expect_08006_then_close(side.port);
    EXPECT_NE(rest.find(message), std::string::npos) << rest;
    EXPECT_EQ(side.value("active_connections{type=\"db\"}"), 0);
}

// /healthz while the app is reachable and the relay has stopped: 503, unhealthy, naming the
// relay's engine and why, so that an orchestrator restarts the pod.
void expect_unhealthy_for_the_relay(const sidecar& side, const std::string& engine,
                                    const std::string& why) {
    std::string body;
    EXPECT_TRUE(eventually([&] {
        const auto health = http_get(side.proc->admin_port(), "/healthz");
        body = health ? health->body : "";
        return health && health->status == 503 &&
               body.find(R"("upstream":{"address":)") != std::string::npos &&
               body.find(R"("state":"reachable")") != std::string::npos;
    })) << body;
    EXPECT_NE(body.find(R"("status":"unhealthy")"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("database_relay":{"engine":")" + engine +
                        R"(","state":"stopped","error":")" + why + R"("})"),
              std::string::npos)
        << body;
}

// The relay's ring stops answering while it holds a connection (a filter refuses the
// io_uring_enter of the first chunk it forwards): that connection ends (the client sees the
// server close, and it no longer counts as open), the relay says why, and every later
// connection is refused with it while /healthz is unhealthy.
TEST(PgWireTest, ARelayThatStopsEndsItsConnectionsRefusesNewOnesAndIsUnhealthy) {
    fake_upstream app;  // the HTTP app answers: only the relay makes /healthz unhealthy
    sidecar side(databases_yaml(), SIDELIGHT_IO_URING_STOPS_BINARY, app.port());
    ASSERT_TRUE(side.proc->wait_for_log("database relay: ")) << side.proc->stderr_text();
    if (side.proc->stderr_text().find("database relay: io_uring") == std::string::npos)
        GTEST_SKIP() << "this kernel does not give io_uring";
    const auto dbname = cluster().create_database();

    auto first = connect(side.dsn(dbname));  // its startup answer is the first chunk forwarded
    EXPECT_EQ(PQstatus(first.get()), CONNECTION_BAD);
    EXPECT_NE(std::string(PQerrorMessage(first.get())).find("closed the connection"),
              std::string::npos)
        << PQerrorMessage(first.get());
    const std::string why = "io_uring_enter: Operation not permitted";
    ASSERT_TRUE(side.proc->wait_for_log("database relay: stopped: " + why))
        << side.proc->stderr_text();
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));

    expect_refused_by_stopped_relay(side, dbname, why);
    EXPECT_EQ(side.value(queries("select", "none")), -1);  // no such series: nothing relayed
    expect_unhealthy_for_the_relay(side, "io_uring", why);
}

// The epoll engine stopping (its epoll_wait refused, at its first wait): the same refusal and
// the same /healthz, while the HTTP side goes on.
TEST(PgWireTest, AnEpollRelayThatStopsRefusesConnectionsAndIsUnhealthy) {
    fake_upstream app;
    sidecar side(databases_yaml() + "database_io: epoll\n", SIDELIGHT_EPOLL_STOPS_BINARY,
                 app.port());
    const std::string why = "epoll_wait: Operation not permitted";
    ASSERT_TRUE(side.proc->wait_for_log("database relay: stopped: " + why))
        << side.proc->stderr_text();

    expect_refused_by_stopped_relay(side, cluster().create_database(), why);
    expect_unhealthy_for_the_relay(side, "epoll", why);
    const auto through = http_get(side.proc->proxy_port(), "/still");
    ASSERT_TRUE(through);
    EXPECT_EQ(through->status, 200);
}

// The database is not there: the client gets a FATAL ErrorResponse with SQLSTATE 08006, then
// the connection closes.
TEST(PgWireTest, AnUnreachableDatabaseIs08006ThenClose) {
    const dead_port gone;  // nothing listens
    sidecar side(
        "databases:\n  - name: main\n    listen: 127.0.0.1:0\n"
        "    upstream: {address: 127.0.0.1:" +
        std::to_string(gone.port()) + "}\n");
    const auto rest = expect_08006_then_close(side.port);
    EXPECT_NE(rest.find("cannot reach database main"), std::string::npos) << rest;
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));
}

// No half-open connection either way: the server ends a backend, the client's connection
// closes; the client goes away (with or without Terminate), the server's backend ends.
TEST_P(PgWireRelayTest, EitherSideClosingClosesTheOther) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    {  // the server side ends
        auto c = connect(side.dsn(dbname));
        ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
        const std::string pid = PQgetvalue(exec(c.get(), "SELECT pg_backend_pid()").get(), 0, 0);
        cluster().psql("SELECT pg_terminate_backend(" + pid + ")");
        auto r = exec(c.get(), "SELECT 1");
        EXPECT_NE(PQresultStatus(r.get()), PGRES_TUPLES_OK);
        EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
        EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));
    }
    {  // the client finishes politely (Terminate)
        auto c = connect(side.dsn(dbname));
        ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK);
        EXPECT_EQ(backends_on(dbname), 1);
        c.reset();
        EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
    }
    {  // the client's socket just closes, mid-session
        auto c = logged_in(side.port, dbname);
        EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 1; }));
        c.close();
        EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
    }
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));
}

// The backend ends while a statement is on its way to it, many times over: whichever the relay
// sees first (the statement, the backend's end, or both in one batch, when the statement's send
// to the gone backend fails), the client's stream ends within seconds and nothing stays open.
TEST_P(PgWireRelayTest, ABackendEndingAsAStatementArrivesEndsTheClientsStreamEveryTime) {
    sidecar side(yaml());
    expect_engine(side);
    const auto dbname = cluster().create_database();
    const auto query = pg_message('Q', std::string("SELECT 1", 9));
    for (int i = 0; i < 40; ++i) {
        auto c = logged_in(side.port, dbname);
        cluster().psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                       dbname + "'");
        c.send(query);
        c.read_all(5s);  // the answer or the backend's farewell, then the end
        ASSERT_TRUE(c.wait_closed(0ms)) << "round " << i;
    }
    EXPECT_TRUE(eventually([&] { return backends_on(dbname) == 0; }, 10s));
    EXPECT_TRUE(eventually([&] { return side.value("active_connections{type=\"db\"}") == 0; }));
}

}  // namespace
}  // namespace sidelight::test
