#include "tests/support/sidelight_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <stdexcept>

namespace sidelight::test {

temp_dir::temp_dir() {
    std::string tmpl = "/tmp/sidelight-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::write(const std::string& name, const std::string& content) const {
    const auto p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
}

std::string test_config(std::uint16_t upstream_port, const std::string& extra) {
    return "proxy:\n  listen: 127.0.0.1:0\n  workers: 2\n"
           "upstream:\n  address: 127.0.0.1:" +
           std::to_string(upstream_port) +
           "\n  connect_timeout: 500ms\n  response_timeout: 2s\n"
           "admin:\n  listen: 127.0.0.1:0\n"
           "health:\n  interval: 100ms\n  timeout: 200ms\n"
           "shutdown:\n  delay: 300ms\n  grace: 5s\n" +
           extra + (extra.empty() || extra.back() == '\n' ? "" : "\n") +
           // The tests read stderr as an operator at a terminal would; with a pipe, the default
           // (auto) would be json. A test of the JSON lines replaces this line. Last, so that
           // the line numbers of `extra` stay as they were.
           "log_format: text\n";
}

sidelight_process::sidelight_process(std::vector<std::string> args, std::string binary) {
    // argv is built before fork: the child of a threaded test may not allocate. Another thread
    // (a fake app, a TLS server) can hold the allocator's lock at the fork, and the child then
    // waits for it forever: CI's "sidelight did not start" stalls, seen with gdb in ASan's
    // allocator lock at the line that copied the binary's path here.
    std::vector<char*> argv;
    argv.push_back(binary.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int err_pipe[2], out_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
        // Only async-signal-safe calls between fork and exec.
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_pipe[1], STDERR_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(err_pipe[1]);
    ::close(out_pipe[1]);
    err_reader_ = std::thread([this, fd = err_pipe[0]] { pump(fd, err_); });
    out_reader_ = std::thread([this, fd = out_pipe[0]] { pump(fd, out_); });
}

sidelight_process::~sidelight_process() {
    if (!exit_code_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait_exit(10s);
    }
    if (err_reader_.joinable()) err_reader_.join();
    if (out_reader_.joinable()) out_reader_.join();
}

std::unique_ptr<sidelight_process> sidelight_process::run(const temp_dir& dir,
                                                          const std::string& yaml,
                                                          std::string binary) {
    const auto path = dir.write("sidelight.yaml", yaml);
    auto p = std::make_unique<sidelight_process>(
        std::vector<std::string>{"run", "--config", path, "--log-level", "debug"},
        std::move(binary));
    if (!p->wait_started()) {
        throw std::runtime_error("sidelight did not start (" + p->state() + "):\n" +
                                 p->stderr_text());
    }
    return p;
}

void sidelight_process::pump(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        into.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
}

bool sidelight_process::wait_started(std::chrono::milliseconds timeout) {
    // `started proxy=H:P admin=H:P` as text, `started","proxy":"H:P","admin":"H:P"` as JSON.
    static const std::regex started(
        R"re(started(?: proxy=|","proxy":")[^ "]+:(\d+)(?: admin=|","admin":")[^ "]+:(\d+))re");
    bool seen = false;
    eventually(
        [&] {
            std::smatch m;
            const auto text = stderr_text();
            if (std::regex_search(text, m, started)) {
                proxy_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
                admin_port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
                seen = true;
            }
            return seen || reaped();
        },
        timeout);
    return seen;
}

bool sidelight_process::reaped() {
    if (exit_code_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    // The process is gone: let the readers take the rest of its output before anyone reads it.
    if (err_reader_.joinable()) err_reader_.join();
    if (out_reader_.joinable()) out_reader_.join();
    return true;
}

std::string sidelight_process::state() {
    if (reaped()) return "exited with " + std::to_string(*exit_code_);
    // Still running: where each of its threads waits, as the kernel tells it, so that a start
    // that hangs on a machine we cannot log in to says where it hung.
    std::string out = "still running after the deadline;";
    const auto dir = "/proc/" + std::to_string(pid_) + "/task";
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
        auto read = [&](const char* name) {
            std::ifstream f(task.path() / name);
            std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            while (!text.empty() && text.back() == '\n') text.pop_back();
            return text;
        };
        out += "\n  thread " + task.path().filename().string() + " " + read("comm") +
               " wchan=" + read("wchan") + " syscall=" + read("syscall");
        if (const auto stack = read("stack"); !stack.empty()) out += "\n" + stack;
    }
    // And in user space, where gdb is installed (it is on the CI machine).
    if (::access("/usr/bin/gdb", X_OK) == 0) {
        const auto cmd = "/usr/bin/gdb -p " + std::to_string(pid_) +
                         " -batch -nx -ex 'thread apply all bt 30' 2>&1";
        if (FILE* f = ::popen(cmd.c_str(), "r")) {
            char buf[4096];
            std::string bt;
            while (const auto n = std::fread(buf, 1, sizeof buf, f)) bt.append(buf, n);
            ::pclose(f);
            out += "\n" + bt.substr(0, 20000);
        }
    }
    return out;
}

void sidelight_process::signal(int sig) {
    ::kill(pid_, sig);
}

std::optional<int> sidelight_process::wait_exit(std::chrono::milliseconds timeout) {
    eventually([&] { return reaped(); }, timeout);
    return exit_code_;
}

bool sidelight_process::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
    return eventually([&] { return stderr_text().find(needle) != std::string::npos; }, timeout);
}

std::string sidelight_process::stderr_text() const {
    std::lock_guard lock(mutex_);
    return err_;
}

std::string sidelight_process::stdout_text() const {
    std::lock_guard lock(mutex_);
    return out_;
}

}  // namespace sidelight::test
