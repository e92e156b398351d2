#pragma once
// The pumps of every plain-TCP database connection, on a thread of their own: each chunk read
// from one side is shown to the connection's watch and sent on to the other at once. That is
// all a query costs here: no scheduler, no coroutine, no completion handler per query (the
// database thread's Asio, which does the startup, TLS and CancelRequests, cost about 2.5 µs of
// CPU more per query; docs/BENCHMARKS.md).
//
// Two engines, one behaviour:
//   io_uring (relay_uring.cpp): one ring; per direction a receive, then a send of what it got,
//            then the next receive; the system calls of a whole batch of connections are one
//            io_uring_enter. Needs Linux 6.1 (IORING_SETUP_DEFER_TASKRUN) and a seccomp
//            profile that lets io_uring through (Docker's default refuses it).
//   epoll    (relay_epoll.cpp): one level-triggered epoll, one recv and one send per ready
//            socket. Everywhere.
// `database_io: auto` (the default) takes io_uring when the kernel gives it, else epoll.
//
// A session adopts its connection into the relay once the StartupMessage has gone to a server
// reached in plain TCP; from then on the relay thread alone touches both sockets and the watch.
//
// Backpressure: when a peer does not take a whole chunk, the rest waits, and the side that
// chunk came from is not read until it has gone (at most one chunk, 16 KiB, per direction).
// A close or an error on either side closes both; a chunk the watch refuses is not forwarded,
// both sides close, and the client gets the watch's farewell first when what it was sent so far
// ends at a message boundary (a best-effort send: the socket is closed right after).
//
//   start(): the thread (throws std::runtime_error when it cannot run); stop(): closes every
//   connection and joins (adopt() after stop() closes the sockets at once). drain() (a
//   shutdown, before stop()): each connection ends as soon as it is idle (watch::idle(): no
//   statement running, no transaction open), its client first sent FATAL 57P01 "terminating
//   connection due to administrator command", as PostgreSQL's own shutdown sends it.
//
// A relay whose engine fails while it runs (an error of epoll_wait or io_uring_enter, not a
// connection's) ends every connection it holds on both sides, logs why, and from then on
// refuses what it is handed: adopt() sends the client FATAL 08006 "sidelight: the database relay
// has stopped (<why>)" and closes both sockets, and failure() is what /healthz reports
// (unhealthy: a restart picks the engine again).
//
// Thread-safety: adopt() from any thread; start/stop from the owner.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "dbproxy/watch.hpp"

namespace sidelight::dbproxy {

// What both engines share: the hand-over of adopted connections (a list under a mutex, and an
// eventfd that is readable when it holds some or when stop() was called) and the thread.
class relay {
  public:
    relay();           // throws std::runtime_error when the eventfd cannot be created
    virtual ~relay();  // an engine's destructor calls stop() first
    relay(const relay&) = delete;
    relay& operator=(const relay&) = delete;

    void start();
    void stop();
    void drain();

    // Takes both sockets (connected, TCP_NODELAY already set) with what observes them and the
    // connection's count.
    void adopt(int client, int server, std::unique_ptr<watch> observed, connection_count count);

    virtual std::string_view engine() const = 0;  // "io_uring" or "epoll"

    // Why the engine failed, or "" while it runs (and after a stop).
    std::string failure() const;

  protected:
    struct adoption {
        int client;
        int server;
        std::unique_ptr<watch> observed;
        connection_count count;
    };

    // The relay thread: until take() reports stopping, when it closes every open connection and
    // returns ""; or until its engine fails, when it ends every open connection on both sides
    // and returns why.
    virtual std::string run() = 0;
    // Readable (8 bytes, the engine reads them) when take() has adoptions or stop() was called.
    int wakeup() const { return wake_; }
    // What was adopted since the last call; `stopping` once stop() was called (whatever is
    // returned then is for the engine to close).
    std::vector<adoption> take(bool& stopping);
    static void close_sockets(adoption& a);
    // drain() was called: the engine ends each idle connection (after every batch it handles).
    bool draining() const { return draining_.load(std::memory_order_relaxed); }

  private:
    void failed(std::string why);
    static std::string refusal_for(const std::string& why);
    static void refuse(adoption& a, const std::string& message);  // then closes both sockets

    int wake_ = -1;
    mutable std::mutex mutex_;
    std::vector<adoption> adopted_;  // under mutex_
    bool stopping_ = false;          // under mutex_
    std::string failure_;            // under mutex_
    std::atomic<bool> draining_{false};
    std::thread thread_;
};

// The relay `io` asks for. `automatic`: io_uring when this kernel gives it, else epoll (the
// reason logged). Throws std::runtime_error when `io_uring` is asked for and not given.
std::unique_ptr<relay> make_relay(config::database_io io);

// The engines (make_relay picks). make_uring_relay throws std::runtime_error with the reason
// when io_uring cannot be used here.
std::unique_ptr<relay> make_epoll_relay();
std::unique_ptr<relay> make_uring_relay();

}  // namespace sidelight::dbproxy
