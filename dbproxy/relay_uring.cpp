// The relay's io_uring engine; see relay.hpp.
//
// Each direction of a connection (client to server, server to client) is a chain of two
// operations: a send of the chunk it received last (MSG_WAITALL: the kernel sends the whole of
// it, waiting for room as needed) linked to the next receive into the same buffer, which starts
// only once that send is done. A send that succeeds posts no completion (CQE_SKIP_SUCCESS), so
// the only completion of a chain is its receive's: a relayed message costs one completion and a
// share of one io_uring_enter, where the epoll engine makes a recv and a send per message and an
// epoll_wait per batch. At most one chain per direction is in flight, so a peer that does not
// read holds back only its own direction, with one chunk.
//
// A connection ends by shutting the server's socket down and cancelling what waits on the
// client's: every chain still in flight then completes, and the connection is freed, its sockets
// closed, after the last one has (the kernel writes into its buffers until then). A chain
// completes with its receive's completion (0 or ECANCELED), or with its send's alone when the
// send failed: the receive linked behind a skip-success request that fails is failed with it
// without a completion of its own (the kernel's req_set_fail moves the skip onto the link). A
// send to the client that did not finish is how the engine knows the client's stream may end
// inside a message (no farewell then).

#include <liburing.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "dbproxy/relay.hpp"

namespace sidelight::dbproxy {
namespace {

constexpr std::uint32_t buffer_bytes = 16 * 1024;
constexpr unsigned ring_entries = 256;         // operations per submission; more submit on the way
constexpr unsigned completion_entries = 4096;  // room for every chain of 2,048 connections
// DEFER_TASKRUN: the kernel finishes this ring's operations only when its thread waits in
// io_uring_enter, in one batch, instead of interrupting it for each; SINGLE_ISSUER (one thread
// submits) is its condition. R_DISABLED: enabled by the relay thread, which becomes that one.
constexpr unsigned ring_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
// user_data of the operations that are not a connection's: its receives and sends carry the
// address of their direction (8-byte aligned) with the low bit telling which.
constexpr std::uint64_t wake_tag = 1;     // the read of the wakeup eventfd
constexpr std::uint64_t ignored_tag = 2;  // cancellations
constexpr std::uint64_t send_bit = 1;

std::string why(int negative_errno) {
    return std::strerror(-negative_errno);
}

class uring_relay final : public relay {
  public:
    uring_relay();  // throws std::runtime_error when this kernel does not give what it uses
    ~uring_relay() override;

    std::string_view engine() const override { return "io_uring"; }

  private:
    struct connection;
    struct direction;

    std::string run() override;
    void abandon();       // its engine failed: every connection ends on both sides
    bool take_adopted();  // false when stopping
    void open(adoption a);
    void on_received(direction& d, int result);
    void on_send_failed(direction& d);
    void arm_wakeup();
    void receive(direction& d);
    void forward(direction& d, std::uint32_t size);
    io_uring_sqe* next_sqe();
    void reserve(unsigned entries);  // that many free entries in the submission queue
    void end(connection& c);
    void forget(connection& c);  // once nothing of it is in flight
    void end_idle();             // draining: every idle connection ends, its client told why

    io_uring ring_{};
    std::uint64_t woken_ = 0;  // the wakeup's read lands here
    // The relay thread's own.
    std::vector<std::unique_ptr<connection>> open_;
};

struct uring_relay::direction {
    connection* of = nullptr;
    int from = -1, to = -1;
    bool from_client = false;
    bool busy = false;  // its chain is in flight (until its last completion)
    std::unique_ptr<char[]> buffer{new char[buffer_bytes]};

    std::uint64_t tag(bool sending) const {
        return reinterpret_cast<std::uintptr_t>(this) | (sending ? send_bit : 0);
    }
};

struct uring_relay::connection {
    direction up, down;  // client to server, server to client
    std::unique_ptr<watch> observed;
    connection_count count;
    int client = -1, server = -1;
    bool ending = false;
    bool drained = false;             // ended by a drain: the client gets admin_shutdown()
    bool client_mid_message = false;  // what the client was sent so far ends inside a message
    std::size_t slot = 0;             // index in open_

    explicit connection(adoption a)
        : observed(std::move(a.observed)),
          count(std::move(a.count)),
          client(a.client),
          server(a.server) {
        up.of = down.of = this;
        up.from = down.to = client;
        up.to = down.from = server;
        up.from_client = true;
    }
    bool idle() const { return !up.busy && !down.busy; }
};

uring_relay::uring_relay() {
    io_uring_params params{};
    params.flags = ring_flags;
    params.cq_entries = completion_entries;
    // ENOSYS: no io_uring; EPERM: refused (seccomp, kernel.io_uring_disabled); EINVAL: a kernel
    // before 6.1.
    if (const int r = io_uring_queue_init_params(ring_entries, &ring_, &params); r < 0)
        throw std::runtime_error("io_uring_setup: " + why(r));
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    const bool ops = probe && io_uring_opcode_supported(probe, IORING_OP_RECV) &&
                     io_uring_opcode_supported(probe, IORING_OP_SEND) &&
                     io_uring_opcode_supported(probe, IORING_OP_READ) &&
                     io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
    if (probe) io_uring_free_probe(probe);
    if (!ops) {
        io_uring_queue_exit(&ring_);
        throw std::runtime_error("the kernel lacks an io_uring operation the relay uses");
    }
    // io_uring_enter on a ring not enabled yet is EBADFD; EPERM is a filter that let the ring be
    // made but refuses to use it.
    if (const int r = io_uring_enter(ring_.ring_fd, 0, 0, 0, nullptr);
        r == -EPERM || r == -ENOSYS) {
        io_uring_queue_exit(&ring_);
        throw std::runtime_error("io_uring_enter: " + why(r));
    }
}

uring_relay::~uring_relay() {
    stop();
    io_uring_queue_exit(&ring_);  // ends what is still in flight (after a failure of the ring)
    for (auto& c : open_) {
        ::close(c->client);
        ::close(c->server);
    }
}

io_uring_sqe* uring_relay::next_sqe() {
    auto* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {  // the queue is full: hand it to the kernel and take a free entry
        io_uring_submit(&ring_);
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

// A link must not straddle a submission: the kernel would issue a send linked to nothing as a
// request of its own, and the receive after it independently, into the buffer being sent.
void uring_relay::reserve(unsigned entries) {
    while (io_uring_sq_space_left(&ring_) < entries) io_uring_submit(&ring_);
}

void uring_relay::arm_wakeup() {
    auto* sqe = next_sqe();
    io_uring_prep_read(sqe, wakeup(), &woken_, sizeof woken_, 0);
    io_uring_sqe_set_data64(sqe, wake_tag);
}

std::string uring_relay::run() {
    // io_uring_enable_rings, which Debian's liburing 2.3 declares but does not export.
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr,
                  0) != 0)
        return std::string("cannot enable its io_uring: ") + std::strerror(errno);
    arm_wakeup();
    bool stopping = false;
    while (!stopping || !open_.empty()) {
        // Once stopping, what is in flight completes at once (end()); a second without any
        // completion would be a ring that no longer answers: what is left is closed by the
        // destructor, and stop() returns.
        __kernel_timespec grace{1, 0};
        io_uring_cqe* first = nullptr;
        const int r = stopping
                          ? io_uring_submit_and_wait_timeout(&ring_, &first, 1, &grace, nullptr)
                          : io_uring_submit_and_wait(&ring_, 1);
        if (r == -ETIME) {
            spdlog::error("database relay: {} connections did not end within 1 s of the stop",
                          open_.size());
            return {};
        }
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            abandon();
            return "io_uring_enter: " + why(r);
        }
        unsigned head = 0, seen = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
            if (tag == wake_tag) {
                if (!take_adopted() && !stopping) {
                    stopping = true;
                    for (std::size_t i = open_.size(); i-- > 0;) end(*open_[i]);
                } else if (!stopping) {
                    arm_wakeup();
                }
            } else if (tag != ignored_tag) {
                auto& d = *reinterpret_cast<direction*>(tag & ~send_bit);
                (tag & send_bit) ? on_send_failed(d) : on_received(d, cqe->res);
            }
        }
        io_uring_cq_advance(&ring_, seen);
        if (draining() && !stopping) end_idle();
    }
    return {};
}

// The server's socket of each idle connection is shut down: its receive, which starts only
// once the answer before it has gone to the client, then ends (0), and so does the connection.
void uring_relay::end_idle() {
    for (auto& c : open_) {
        if (c->ending || c->drained || !c->observed->idle()) continue;
        c->drained = true;
        ::shutdown(c->server, SHUT_RDWR);
    }
}

// The ring no longer answers: both peers of every connection see it end now, and it stops
// counting as open (its watch and count go). Its sockets and buffers stay (the kernel may still
// write into them) until the destructor has ended the ring.
void uring_relay::abandon() {
    for (auto& c : open_) {
        ::shutdown(c->client, SHUT_RDWR);
        ::shutdown(c->server, SHUT_RDWR);
        c->observed.reset();
        c->count.release();
    }
}

bool uring_relay::take_adopted() {
    bool stopping = false;
    for (auto& a : take(stopping)) {
        if (stopping) {
            close_sockets(a);
        } else {
            open(std::move(a));
        }
    }
    return !stopping;
}

void uring_relay::open(adoption a) {
    // Blocking sockets: io_uring waits for them itself (on a non-blocking one an operation may
    // end with EAGAIN instead).
    int off = 0;
    if (::ioctl(a.client, FIONBIO, &off) != 0 || ::ioctl(a.server, FIONBIO, &off) != 0) {
        spdlog::error("database relay: cannot take a connection: {}", std::strerror(errno));
        close_sockets(a);
        return;
    }
    auto c = std::make_unique<connection>(std::move(a));
    c->slot = open_.size();
    receive(c->up);
    receive(c->down);
    open_.push_back(std::move(c));
}

void uring_relay::receive(direction& d) {
    auto* sqe = next_sqe();
    io_uring_prep_recv(sqe, d.from, d.buffer.get(), buffer_bytes, 0);
    // The socket was just read empty (or never read): wait for bytes before trying.
    sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    io_uring_sqe_set_data64(sqe, d.tag(false));
    d.busy = true;
}

// The chunk in d's buffer to the other socket, then the next receive once it has all gone.
void uring_relay::forward(direction& d, std::uint32_t size) {
    reserve(2);
    auto* sqe = next_sqe();
    io_uring_prep_send(sqe, d.to, d.buffer.get(), size, MSG_NOSIGNAL | MSG_WAITALL);
    sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, d.tag(true));
    receive(d);
}

void uring_relay::on_received(direction& d, int result) {
    auto& c = *d.of;
    d.busy = false;
    if (c.ending) return forget(c);
    if (result == -EINTR || result == -EAGAIN) return receive(d);
    // Cancelled: nothing was read.
    if (result == -ECANCELED) return end(c);
    if (result <= 0) {  // closed (0) or reset
        d.from_client ? c.observed->client_ended() : c.observed->database_ended();
        return end(c);
    }
    const std::span<const char> chunk(d.buffer.get(), static_cast<std::size_t>(result));
    if (!(d.from_client ? c.observed->from_client(chunk) : c.observed->from_database(chunk)))
        return end(c);  // the chunk with the violation is not forwarded
    forward(d, static_cast<std::uint32_t>(result));
    if (!d.from_client) {
        // Recorded as the answer goes out with the next io_uring_enter: a completion for its
        // send would cost the wait a second system call.
        c.client_mid_message = !c.observed->database_at_boundary();
        c.observed->record();
    }
}

// Only a send that did not send all of its chunk completes, and its chain ends with it: the
// receive linked behind it never starts and posts no completion.
void uring_relay::on_send_failed(direction& d) {
    auto& c = *d.of;
    d.busy = false;
    if (!d.from_client) c.client_mid_message = true;
    if (c.ending) return forget(c);
    end(c);
}

// Both sides close (the server's backend ends with its socket); after a violation the client
// first gets the farewell (forget()).
void uring_relay::end(connection& c) {
    if (c.ending) return;
    c.ending = true;
    if (c.idle()) return forget(c);
    // Ends what is in flight: on the server's socket by its shutdown (a receive gets 0, a send
    // EPIPE), on the client's by cancelling (a send to it must not go on after the farewell) and
    // by the end of its reading side, for a receive the cancel does not find because it is not
    // issued yet (linked behind a send whose completion waits in the ring's task work).
    ::shutdown(c.server, SHUT_RDWR);
    ::shutdown(c.client, SHUT_RD);
    for (const int fd : {c.client, c.server}) {
        auto* sqe = next_sqe();
        io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ignored_tag);
    }
}

// Once both chains have completed: the farewell after a violation, when what the client was
// sent so far ends at a message boundary (best effort: the socket is closed right after), then
// both sockets.
void uring_relay::forget(connection& c) {
    if (!c.idle()) return;
    if ((c.observed->failed() || c.drained) && !c.client_mid_message) {
        const auto farewell = c.observed->failed() ? c.observed->farewell() : admin_shutdown();
        [[maybe_unused]] auto n =
            ::send(c.client, farewell.data(), farewell.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(c.client);
    ::close(c.server);
    auto& last = open_.back();
    last->slot = c.slot;
    std::swap(open_[c.slot], last);
    open_.pop_back();  // c is gone: no operation of it is left to complete
}

}  // namespace

std::unique_ptr<relay> make_uring_relay() {
    return std::make_unique<uring_relay>();
}

}  // namespace sidelight::dbproxy
