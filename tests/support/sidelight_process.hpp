#pragma once
// Runs the real `sidelight` binary for integration tests: writes its config into a temporary
// directory, starts it, reads its stderr to learn the ports it bound (the config uses
// 127.0.0.1:0), and offers signals and exit-code checks. Stdout (the access log) is captured.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace sidelight::test {

using namespace std::chrono_literals;

// A fresh directory under /tmp, removed with its contents on destruction.
class temp_dir {
  public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return path_; }
    std::string write(const std::string& name, const std::string& content) const;

  private:
    std::string path_;
};

// A config for tests: proxy and admin on 127.0.0.1:0, upstream on `upstream_port`, short
// timeouts; `extra` is appended as more YAML (top-level keys not already set).
std::string test_config(std::uint16_t upstream_port, const std::string& extra = "");

class sidelight_process {
  public:
    // Starts `<binary> <args...>` and returns at once. `binary` is the shipped sidelight, or
    // SIDELIGHT_FAULT_BINARY, its test build with fault injection (tests/fault).
    explicit sidelight_process(std::vector<std::string> args,
                               std::string binary = SIDELIGHT_BINARY);
    ~sidelight_process();

    // Starts `sidelight run --config <dir>/sidelight.yaml` with `yaml` and waits for its ports.
    static std::unique_ptr<sidelight_process> run(const temp_dir& dir, const std::string& yaml,
                                                  std::string binary = SIDELIGHT_BINARY);

    // Waits for the startup line; false if the process exited or the deadline passed. The
    // deadline is generous: a start waits on the audit store's fsync, which a busy disk can hold
    // for seconds; a start that fails still fails, at once when the process exits.
    bool wait_started(std::chrono::milliseconds timeout = 30s);
    // "exited with N", or where the running process's threads wait (for a start that hangs).
    std::string state();
    std::uint16_t proxy_port() const { return proxy_port_; }
    std::uint16_t admin_port() const { return admin_port_; }
    pid_t pid() const { return pid_; }

    void signal(int sig);
    // Exit code once exited within the timeout (128+signal when killed by a signal).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout = 30s);
    bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout = 10s);
    std::string stderr_text() const;
    std::string stdout_text() const;

  private:
    void pump(int fd, std::string& into);
    // True once the process has exited (and is reaped, its output read to the end).
    bool reaped();

    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::thread err_reader_, out_reader_;
    mutable std::mutex mutex_;
    std::string err_, out_;
    std::uint16_t proxy_port_ = 0;
    std::uint16_t admin_port_ = 0;
};

// Polls `pred` until it is true or the deadline passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

}  // namespace sidelight::test
