#include "tests/support/pg_cluster.hpp"

#include "tests/support/http_wire.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace sidelight::test {
namespace {

const std::string pg_bin = "/usr/lib/postgresql/15/bin/";
constexpr const char* pg_user = "postgres";

struct run_result {
    int code = -1;  // exit code, 128+signal when killed
    std::string out, err;
};

bool as_root() {
    return ::geteuid() == 0;
}

// Runs argv (execvp, no shell) with stdin from /dev/null, in `cwd`, capturing stdout and stderr.
// With `server_side` and root, runs it as the postgres user through runuser. Stops reading once
// the child exited: a server it started may still hold the pipes (it should log to a file).
run_result run(std::vector<std::string> args, bool server_side, const std::string& cwd,
               std::chrono::seconds timeout = std::chrono::seconds(120)) {
    if (server_side && as_root()) {
        args.insert(args.begin(), {"runuser", "-u", pg_user, "--"});
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_pipe[1], STDERR_FILENO);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

    run_result r;
    int fds[2] = {out_pipe[0], err_pipe[0]};
    std::string* into[2] = {&r.out, &r.err};
    auto drain = [&] {
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            while (fds[i] >= 0) {
                const auto n = ::read(fds[i], buf, sizeof buf);
                if (n > 0) {
                    into[i]->append(buf, static_cast<std::size_t>(n));
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    ::close(fds[i]);
                    fds[i] = -1;
                } else if (errno == EAGAIN) {
                    break;
                }
            }
        }
    };
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool exited = false;
    int status = 0;
    while (!exited) {
        pollfd p[2];
        int n = 0;
        for (int fd : fds) {
            if (fd >= 0) p[n++] = pollfd{fd, POLLIN, 0};
        }
        if (n > 0) ::poll(p, static_cast<nfds_t>(n), 50);
        drain();
        if (n == 0) ::usleep(20'000);
        exited = ::waitpid(pid, &status, WNOHANG) == pid;
        if (!exited && std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            exited = true;
            r.err += "\n(killed after " + std::to_string(timeout.count()) + " s)";
        }
    }
    drain();  // what the child wrote before it exited; not waiting for grandchildren
    for (int fd : fds) {
        if (fd >= 0) ::close(fd);
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::string describe(const std::vector<std::string>& args, const run_result& r) {
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    return cmd + " exited " + std::to_string(r.code) + "\n" + r.out + r.err;
}

std::string quote_ident(const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

// The SQL goes in a file (-f), not on a command line or through a shell: statements run one by
// one, as from a script, and nothing needs quoting. Over TCP, so psql runs as the caller.
run_result run_psql_script(const std::string& script, const std::string& sql, std::uint16_t port,
                           const std::string& user, const std::string& dbname) {
    std::ofstream(script, std::ios::binary) << sql;
    auto r = run({"psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                  std::to_string(port), "-U", user, "-d", dbname, "-f", script},
                 false, "", std::chrono::seconds(300));
    std::error_code ec;
    std::filesystem::remove(script, ec);
    return r;
}

}  // namespace

pg_cluster::pg_cluster() {
    std::string tmpl = "/tmp/sidelight-pg-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    data_ = dir_ + "/data";
    try {
        if (as_root()) {
            const passwd* pw = ::getpwnam(pg_user);
            if (!pw) {
                throw std::runtime_error(
                    "pg_cluster: running as root, but there is no `postgres` OS user to run "
                    "PostgreSQL as (install postgresql-15, which creates it)");
            }
            if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                throw std::runtime_error("pg_cluster: chown " + dir_ + " to postgres failed");
            }
        }
        const std::vector<std::string> initdb = {
            pg_bin + "initdb", "-D",        data_, "-A",   "trust",     "-U",
            pg_user,           "--no-sync", "-E",  "UTF8", "--locale=C"};
        const auto r = run(initdb, true, dir_);
        if (r.code != 0) throw std::runtime_error("pg_cluster: " + describe(initdb, r));
        // TLS offered (clients choose with sslmode): a self-signed certificate for the address
        // the tests connect to, IP:127.0.0.1 only, which is also the clients' CA (ca_file()).
        const std::vector<std::string> cert = {"openssl",
                                               "req",
                                               "-new",
                                               "-x509",
                                               "-days",
                                               "7",
                                               "-nodes",
                                               "-subj",
                                               "/CN=127.0.0.1",
                                               "-addext",
                                               "subjectAltName=IP:127.0.0.1",
                                               "-newkey",
                                               "ec",
                                               "-pkeyopt",
                                               "ec_paramgen_curve:prime256v1",
                                               "-keyout",
                                               data_ + "/server.key",
                                               "-out",
                                               data_ + "/server.crt"};
        if (const auto c = run(cert, true, dir_); c.code != 0)
            throw std::runtime_error("pg_cluster: " + describe(cert, c));
        const std::vector<std::string> key_mode = {"chmod", "600", data_ + "/server.key"};
        if (const auto c = run(key_mode, true, dir_); c.code != 0)
            throw std::runtime_error("pg_cluster: " + describe(key_mode, c));
        // Small and quick, but durable: fsync stays on (tests measure durability).
        std::ofstream(data_ + "/postgresql.conf", std::ios::app)
            << "\n# sidelight tests\nfsync = on\nshared_buffers = 16MB\nmax_connections = 200\n"
               "ssl = on\nunix_socket_directories = '"
            << dir_ << "'\nlisten_addresses = '127.0.0.1'\n";
        // The port is free when picked, but something may take it before the server binds it.
        for (int attempt = 1;; ++attempt) {
            try {
                start_on(free_port());
                break;
            } catch (const std::runtime_error&) {
                if (attempt == 3) throw;
            }
        }
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        throw;
    }
}

pg_cluster::~pg_cluster() {
    try {
        if (running_ || running()) {
            run({pg_bin + "pg_ctl", "stop", "-D", data_, "-m", "immediate", "-w", "-t", "30"}, true,
                dir_);
        }
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string pg_cluster::server_options() const {
    return "-p " + std::to_string(port_) + " -c listen_addresses=127.0.0.1 -k " + dir_;
}

void pg_cluster::start_on(std::uint16_t port) {
    port_ = port;
    // -l: the server's output goes to the log, never to our pipes. -o is read by a shell, so the
    // directory must stay shell-safe (mkdtemp's names are).
    const std::vector<std::string> args = {
        pg_bin + "pg_ctl", "start", "-D", data_, "-w", "-t", "60", "-l", dir_ + "/log", "-o",
        server_options()};
    const auto r = run(args, true, dir_);
    if (r.code != 0) {
        running_ = false;
        throw std::runtime_error("pg_cluster: " + describe(args, r) + "\nserver log:\n" +
                                 log_tail());
    }
    running_ = true;
}

void pg_cluster::start() {
    start_on(port_);
}

void pg_cluster::stop() {
    const std::vector<std::string> args = {
        pg_bin + "pg_ctl", "stop", "-D", data_, "-m", "fast", "-w", "-t", "60"};
    const auto r = run(args, true, dir_);
    if (r.code != 0) {
        throw std::runtime_error("pg_cluster: " + describe(args, r) + "\nserver log:\n" +
                                 log_tail());
    }
    running_ = false;
}

void pg_cluster::stop_immediate() {
    const std::vector<std::string> args = {pg_bin + "pg_ctl", "stop", "-D", data_, "-m",
                                           "immediate",       "-w",   "-t", "60"};
    const auto r = run(args, true, dir_);
    if (r.code != 0) {
        throw std::runtime_error("pg_cluster: " + describe(args, r) + "\nserver log:\n" +
                                 log_tail());
    }
    running_ = false;
}

void pg_cluster::restart_immediate() {
    // -l again: without it the new server would write to pg_ctl's stdout.
    const std::vector<std::string> args = {pg_bin + "pg_ctl",
                                           "restart",
                                           "-D",
                                           data_,
                                           "-m",
                                           "immediate",
                                           "-w",
                                           "-t",
                                           "60",
                                           "-l",
                                           dir_ + "/log",
                                           "-o",
                                           server_options()};
    const auto r = run(args, true, dir_);
    if (r.code != 0) {
        running_ = false;
        throw std::runtime_error("pg_cluster: " + describe(args, r) + "\nserver log:\n" +
                                 log_tail());
    }
    running_ = true;
}

bool pg_cluster::running() const {
    // pg_ctl status: 0 running, 3 not running, 4 no data directory.
    return run({pg_bin + "pg_ctl", "status", "-D", data_}, true, dir_).code == 0;
}

std::string pg_cluster::dsn(const std::string& user, const std::string& dbname) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + user + " dbname=" + dbname;
}

std::string pg_cluster::uri(const std::string& user, const std::string& dbname) const {
    return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
}

std::pair<int, std::string> pg_cluster::try_psql(const std::string& sql, const std::string& user,
                                                 const std::string& dbname) const {
    auto r = run_psql_script(dir_ + "/script-" + std::to_string(++next_script_) + ".sql", sql,
                             port_, user, dbname);
    return {r.code, r.out + r.err};
}

std::string pg_cluster::psql(const std::string& sql, const std::string& user,
                             const std::string& dbname) const {
    auto r = run_psql_script(dir_ + "/script-" + std::to_string(++next_script_) + ".sql", sql,
                             port_, user, dbname);
    if (r.code != 0) {
        throw std::runtime_error("psql as " + user + " on " + dbname + " exited " +
                                 std::to_string(r.code) + ": " + r.err);
    }
    if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
}

std::string pg_cluster::create_database(const std::string& owner) {
    const auto name = "test_" + std::to_string(++next_db_);
    psql("CREATE DATABASE " + name + " OWNER " + quote_ident(owner));
    return name;
}

pg_cluster& pg_cluster::shared() {
    // A static local: built on first use (thread-safe), destroyed at exit.
    static pg_cluster cluster;
    return cluster;
}

std::string pg_cluster::log_tail(std::size_t lines) const {
    std::ifstream in(dir_ + "/log");
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
        tail.push_back(line);
        if (tail.size() > lines) tail.pop_front();
    }
    std::string out;
    for (const auto& l : tail) out += l + "\n";
    return out.empty() ? "(empty)\n" : out;
}

}  // namespace sidelight::test
