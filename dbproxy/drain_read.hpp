#pragma once
// The read of the plain-TCP pumps: one buffer, and a read that left the socket empty says so.
//
// Asio's reactor tries every async_read_some at once before it waits (a speculative read). On a
// query/answer connection that try almost always fails with EAGAIN: the pump has just forwarded
// a message and the answer is not there yet (two failed recvfrom per query, one per direction).
// async_wait(wait_read) avoids the try but re-arms the descriptor with epoll_ctl(MOD) on every
// wait: the same number of system calls. The reactor already knows how to skip the try: after
// an operation reports `done_and_exhausted`, it waits for the next EPOLLIN edge instead (epoll
// registers sockets with EPOLLET; an edge sets the try back on). Asio reports that only for end
// of stream; drain_buffer's receive also reports it when the kernel says nothing is left to read
// (TCP_INQ, enable_drain_hint(): the bytes still queued after the read, non-zero once a FIN has
// arrived, so a close right behind the last bytes is never missed). Bytes arriving after the read
// raise a new edge. A reset that arrives in the same edge as the last bytes is not reported by
// the hint: `drained` tells the pump, which reads once more itself where the peer may have gone
// silent for good (session.cpp).
//
// The specialisation below replaces Asio's receive operation for this buffer type only, on the
// Asio version it was written against (Boost 1.81, the epoll reactor); elsewhere drain_buffer is
// an ordinary one-buffer sequence, reads speculate as before and `drained` stays false.

#include <boost/asio/buffer.hpp>
#include <boost/version.hpp>

namespace sidelight::dbproxy {

struct drain_buffer {
    boost::asio::mutable_buffer buffer;
    bool* drained = nullptr;  // set to whether the read left the socket empty (when not null)

    const boost::asio::mutable_buffer* begin() const { return &buffer; }
    const boost::asio::mutable_buffer* end() const { return &buffer + 1; }
};

// Asks the kernel for the TCP_INQ hint on `socket`'s reads; false where it is not available
// (then reads speculate as Asio's own do).
bool enable_drain_hint(int socket);

}  // namespace sidelight::dbproxy

#if BOOST_VERSION >= 108100 && BOOST_VERSION < 108200 && defined(__linux__) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && !defined(BOOST_ASIO_DISABLE_EPOLL)
#define SIDELIGHT_DRAIN_READ 1
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>
// After socket_base: the detail header uses it without including it.
#include <boost/asio/detail/reactive_socket_recv_op.hpp>

namespace boost::asio::detail {

// Same constructor as the primary template (reactive_socket_recv_op derives from it), one
// buffer, and do_perform reading with recvmsg for the TCP_INQ hint (errors as Asio's own
// non_blocking_recv1 reports them for a stream socket).
template <>
class reactive_socket_recv_op_base<sidelight::dbproxy::drain_buffer> : public reactor_op {
  public:
    reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                                 socket_ops::state_type state,
                                 const sidelight::dbproxy::drain_buffer& buffers,
                                 socket_base::message_flags flags, func_type complete_func)
        : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
          socket_(socket),
          state_(state),
          buffer_(buffers.buffer),
          drained_(buffers.drained),
          flags_(flags) {}

    static status do_perform(reactor_op* base) {
        auto* o = static_cast<reactive_socket_recv_op_base*>(base);
        if (o->drained_) *o->drained_ = false;
        iovec iov{o->buffer_.data(), o->buffer_.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        for (;;) {
            const ssize_t n = ::recvmsg(o->socket_, &msg, o->flags_);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return not_done;
            if (n < 0) {
                o->ec_ =
                    boost::system::error_code(errno, boost::asio::error::get_system_category());
                o->bytes_transferred_ = 0;
                return done_and_exhausted;
            }
            o->bytes_transferred_ = static_cast<std::size_t>(n);
            if (n == 0) {
                if (o->buffer_.size() > 0) o->ec_ = boost::asio::error::eof;
                return done_and_exhausted;
            }
            o->ec_ = boost::system::error_code();
            break;
        }
        // Without the hint (or with bytes or a FIN still queued) the next read tries at once.
        for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_TCP || c->cmsg_type != TCP_CM_INQ) continue;
            int queued = 0;
            std::memcpy(&queued, CMSG_DATA(c), sizeof queued);
            if (queued != 0) break;
            if (o->drained_) *o->drained_ = true;
            return done_and_exhausted;
        }
        return done;
    }

  private:
    socket_type socket_;
    socket_ops::state_type state_;
    boost::asio::mutable_buffer buffer_;
    bool* drained_;
    socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
#endif
