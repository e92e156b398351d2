#pragma once
// A real, throwaway PostgreSQL 15 cluster for tests (no mocks): initdb into a fresh directory
// under /tmp, started on a free 127.0.0.1 port, stopped and removed on destruction. PostgreSQL
// refuses to run as root, so when the tests run as root (CI) the server-side tools (initdb,
// pg_ctl) run through `runuser -u postgres --` and the directory is chowned to that user. psql
// always connects over TCP, so it runs as whoever runs the tests.

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace sidelight::test {

class pg_cluster {
  public:
    // initdb (trust, superuser `postgres`, UTF8, locale C) and start; waits until the server
    // accepts connections. Throws std::runtime_error with the tail of the server log on failure.
    pg_cluster();
    // pg_ctl stop -m immediate, then removes the directory.
    ~pg_cluster();
    pg_cluster(const pg_cluster&) = delete;
    pg_cluster& operator=(const pg_cluster&) = delete;

    std::uint16_t port() const { return port_; }
    // The cluster's directory: `data/` (PGDATA), `log` (server log), and the unix socket.
    const std::string& dir() const { return dir_; }
    // libpq keyword/value connection string: "host=127.0.0.1 port=N user=U dbname=D".
    std::string dsn(const std::string& user = "postgres",
                    const std::string& dbname = "postgres") const;
    // postgresql://U@127.0.0.1:N/D
    std::string uri(const std::string& user = "postgres",
                    const std::string& dbname = "postgres") const;

    void stop();               // pg_ctl stop -m fast -w
    void stop_immediate();     // pg_ctl stop -m immediate (a crash: recovery on next start)
    void start();              // pg_ctl start -w on the same port
    void restart_immediate();  // pg_ctl restart -m immediate -w
    bool running() const;

    // Runs `sql` with `psql -X -A -t -q -v ON_ERROR_STOP=1` as `user` on `dbname` (statements
    // one by one, autocommit); returns stdout without its trailing newline. Throws
    // std::runtime_error with psql's stderr when psql fails.
    std::string psql(const std::string& sql, const std::string& user = "postgres",
                     const std::string& dbname = "postgres") const;
    // Like psql() but returns {exit code, stdout + stderr} instead of throwing (for tests that
    // expect a refusal). psql exits 1 on fatal errors, 2 when the connection fails, 3 when a
    // statement fails.
    std::pair<int, std::string> try_psql(const std::string& sql,
                                         const std::string& user = "postgres",
                                         const std::string& dbname = "postgres") const;

    // A fresh database (test_1, test_2, ...) owned by `owner`, for test isolation; its name.
    std::string create_database(const std::string& owner = "postgres");

    // One cluster per test binary: started on first use, stopped at exit.
    static pg_cluster& shared();

    // The last lines of the server log (for failure messages).
    std::string log_tail(std::size_t lines = 30) const;

    // The server offers TLS (`ssl = on`) with a self-signed certificate for IP 127.0.0.1; this
    // file is that certificate, the CA for `sslmode=verify-full sslrootcert=...`.
    std::string ca_file() const { return data_ + "/server.crt"; }

  private:
    void start_on(std::uint16_t port);
    std::string server_options() const;

    std::string dir_;
    std::string data_;
    std::uint16_t port_ = 0;
    bool running_ = false;
    std::atomic<unsigned> next_db_{0};
    mutable std::atomic<unsigned> next_script_{0};
};

}  // namespace sidelight::test
