#pragma once
// The pumps of every plain-TCP database connection, on a thread of their own: one
// level-triggered epoll, one recv per readable socket, the chunk shown to the connection's watch
// and sent on at once. That is all a query costs here: no scheduler, no coroutine, no completion
// handler, no per-operation bookkeeping (the database thread's Asio, which does the startup,
// TLS and CancelRequests, cost about 2.5 µs of CPU more per query; docs/BENCHMARKS.md).
//
// A session adopts its connection into the relay once the StartupMessage has gone to a server
// reached in plain TCP; from then on the relay thread alone touches both sockets and the watch.
//
// Backpressure: when a peer does not take a whole chunk, the rest waits in that side's buffer
// and the other side is not read until it has gone (at most one chunk, 16 KiB, held per
// direction). A close or an error on either side closes both; a chunk the watch refuses is not
// forwarded, both sides close, and the client gets the watch's farewell first when what it was
// sent so far ends at a message boundary (a best-effort send: the socket is closed right after).
//
//   start(): the thread; stop(): closes every connection and joins (adopt() after stop() closes
//   the sockets at once).
//
// Thread-safety: adopt() from any thread; start/stop from the owner.

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dbproxy/watch.hpp"

namespace sidelight::dbproxy {

class relay {
  public:
    relay();  // throws std::runtime_error when epoll or its wakeup cannot be created
    ~relay();
    relay(const relay&) = delete;
    relay& operator=(const relay&) = delete;

    void start();
    void stop();

    // Takes both sockets (connected, TCP_NODELAY already set) with what observes them and the
    // connection's count.
    void adopt(int client, int server, std::unique_ptr<watch> observed, connection_count count);

  private:
    struct connection;
    struct side;

    void run();
    bool take_adopted();  // false when stopping
    void open(std::unique_ptr<connection> c);
    void on_ready(side& s, std::uint32_t events);
    static ssize_t send_now(int fd, const char* data, std::size_t size);
    bool forward(side& to, const char* data, std::size_t size);  // false: the connection ends
    bool flush(side& s);                                         // false: the write failed
    bool want(side& s);  // updates its epoll interest; false: the connection ends
    void finish(connection& c);

    int epoll_ = -1;
    int wake_ = -1;  // eventfd: adoptions and stop
    std::mutex mutex_;
    std::vector<std::unique_ptr<connection>> adopted_;  // under mutex_
    bool stopping_ = false;                             // under mutex_
    std::thread thread_;
    // The relay thread's own.
    std::vector<std::unique_ptr<connection>> open_;
    std::vector<std::unique_ptr<connection>> ended_;  // closed in this batch of events
    std::vector<char> buffer_;
};

}  // namespace sidelight::dbproxy
