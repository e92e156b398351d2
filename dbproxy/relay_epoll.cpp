// The relay's epoll engine: one level-triggered epoll, one recv and one send per ready socket;
// see relay.hpp.
#include "dbproxy/relay.hpp"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace sidelight::dbproxy {
namespace {

constexpr std::size_t buffer_bytes = 16 * 1024;
constexpr int max_events = 64;

class epoll_relay final : public relay {
  public:
    epoll_relay();  // throws std::runtime_error when epoll cannot be created
    ~epoll_relay() override;

    std::string_view engine() const override { return "epoll"; }

  private:
    struct connection;
    struct side;

    std::string run() override;
    bool take_adopted();  // false when stopping
    void open(std::unique_ptr<connection> c);
    void on_ready(side& s, std::uint32_t events);
    static ssize_t send_now(int fd, const char* data, std::size_t size);
    bool forward(side& to, const char* data, std::size_t size);  // false: the connection ends
    bool flush(side& s);                                         // false: the write failed
    bool want(side& s);  // updates its epoll interest; false: the connection ends
    void finish(connection& c);
    void end_idle();  // draining: every idle connection ends, its client told why

    int epoll_ = -1;
    // The relay thread's own.
    std::vector<std::unique_ptr<connection>> open_;
    std::vector<std::unique_ptr<connection>> ended_;  // closed in this batch of events
    std::vector<char> buffer_;
};

// One socket of a connection, and the bytes it has not yet taken.
struct epoll_relay::side {
    int fd = -1;
    bool client = false;
    connection* of = nullptr;
    std::string unsent;  // written to this socket once it takes them
    std::uint32_t interest = 0;
};

struct epoll_relay::connection {
    side client, server;
    std::unique_ptr<watch> observed;
    connection_count count;
    bool client_mid_message = false;  // what the client was sent so far ends inside a message
    std::size_t slot = 0;             // index in open_

    explicit connection(adoption a) : observed(std::move(a.observed)), count(std::move(a.count)) {
        client.fd = a.client;
        client.client = true;
        client.of = this;
        server.fd = a.server;
        server.of = this;
    }
    side& other(const side& s) { return s.client ? server : client; }
    bool closed() const { return client.fd < 0; }
    void close_sockets() {
        for (auto* s : {&client, &server}) {
            if (s->fd >= 0) ::close(s->fd);
            s->fd = -1;
        }
    }
};

epoll_relay::epoll_relay() : buffer_(buffer_bytes) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wakeup
    if (epoll_ < 0 || ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeup(), &ev) != 0) {
        const std::string why = std::strerror(errno);
        if (epoll_ >= 0) ::close(epoll_);
        throw std::runtime_error("database relay: cannot create its epoll: " + why);
    }
}

epoll_relay::~epoll_relay() {
    stop();
    ::close(epoll_);
}

std::string epoll_relay::run() {
    epoll_event events[max_events];
    std::string failure;
    for (;;) {
        const int ready = ::epoll_wait(epoll_, events, max_events, -1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) {
            failure = std::string("epoll_wait: ") + std::strerror(errno);
            break;
        }
        bool go_on = true;
        for (int i = 0; i < ready; ++i) {
            auto* s = static_cast<side*>(events[i].data.ptr);
            if (!s) {
                go_on = take_adopted() && go_on;
            } else if (!s->of->closed()) {
                on_ready(*s, events[i].events);
            }
        }
        if (draining()) end_idle();
        ended_.clear();
        if (!go_on) break;
    }
    for (auto& c : open_) c->close_sockets();
    open_.clear();
    return failure;
}

bool epoll_relay::take_adopted() {
    std::uint64_t count;
    [[maybe_unused]] auto n = ::read(wakeup(), &count, sizeof count);
    bool stopping = false;
    for (auto& a : take(stopping)) {
        if (stopping) {
            close_sockets(a);
        } else {
            open(std::make_unique<connection>(std::move(a)));
        }
    }
    return !stopping;
}

void epoll_relay::open(std::unique_ptr<connection> c) {
    int on = 1;
    bool ok = true;
    for (auto* s : {&c->client, &c->server}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = s;
        s->interest = EPOLLIN;
        ok = ok && ::ioctl(s->fd, FIONBIO, &on) == 0 &&
             ::epoll_ctl(epoll_, EPOLL_CTL_ADD, s->fd, &ev) == 0;
    }
    if (!ok) {
        spdlog::error("database relay: cannot watch a connection: {}", std::strerror(errno));
        c->close_sockets();
        return;
    }
    c->slot = open_.size();
    open_.push_back(std::move(c));
}

// Level-triggered: a socket with bytes (or a FIN, or an error) to read is reported until they
// are read, so one recv per report is enough and nothing is missed.
void epoll_relay::on_ready(side& s, std::uint32_t events) {
    auto& c = *s.of;
    auto& to = c.other(s);
    const bool broken = events & (EPOLLERR | EPOLLHUP);
    if (!s.unsent.empty() && (events & EPOLLOUT || broken)) {
        if (!flush(s)) return finish(c);
        if (s.unsent.empty() && !(want(s) && want(to))) return finish(c);  // to is read again
    }
    if (!to.unsent.empty()) {   // not reading this side until its last chunk has gone
        if (broken) finish(c);  // reset: nothing more will go either way
        return;
    }
    if (!(events & EPOLLIN) && !broken) return;
    const auto n = ::recv(s.fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {  // closed or reset
        s.client ? c.observed->client_ended() : c.observed->database_ended();
        return finish(c);
    }
    const std::span<const char> chunk(buffer_.data(), static_cast<std::size_t>(n));
    if (!(s.client ? c.observed->from_client(chunk) : c.observed->from_database(chunk)))
        return finish(c);  // the chunk with the violation is not forwarded
    if (!forward(to, chunk.data(), chunk.size())) {
        if (to.client) c.client_mid_message = true;
        return finish(c);
    }
    if (!s.client) {
        c.client_mid_message = !c.observed->database_at_boundary();
        c.observed->record();  // once the answer is on its way
    }
}

// Sends what the socket takes now: the bytes sent (fewer when it is full), -1 on an error.
ssize_t epoll_relay::send_now(int fd, const char* data, std::size_t size) {
    std::size_t sent = 0;
    while (sent < size) {
        const auto n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0) return -1;
        sent += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(sent);
}

// The rest of what the socket does not take now waits in `to.unsent` (nothing else is read
// from its peer meanwhile, want()). False when the write or the change of interest failed.
bool epoll_relay::forward(side& to, const char* data, std::size_t size) {
    const auto sent = send_now(to.fd, data, size);
    if (sent < 0) return false;
    if (static_cast<std::size_t>(sent) == size) return true;
    to.unsent.assign(data + sent, size - static_cast<std::size_t>(sent));
    return want(to) && want(to.of->other(to));
}

bool epoll_relay::flush(side& s) {
    const auto sent = send_now(s.fd, s.unsent.data(), s.unsent.size());
    if (sent < 0) return false;
    s.unsent.erase(0, static_cast<std::size_t>(sent));
    return true;
}

// A side is read while its peer has nothing unsent, and watched for room while it has.
// False when epoll refuses the change (logged): the connection must end, or a paused side
// would be reported readable again and again.
bool epoll_relay::want(side& s) {
    const std::uint32_t interest =
        (s.of->other(s).unsent.empty() ? EPOLLIN : 0u) | (s.unsent.empty() ? 0u : EPOLLOUT);
    if (interest == s.interest) return true;
    epoll_event ev{};
    ev.events = interest;
    ev.data.ptr = &s;
    if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &ev) != 0) {
        spdlog::error("database relay: cannot change what a connection waits for: {}",
                      std::strerror(errno));
        return false;
    }
    s.interest = interest;
    return true;
}

// Nothing is unsent either way and the watch says idle: the client gets PostgreSQL's shutdown
// error (best effort, as a farewell), and both sides close.
void epoll_relay::end_idle() {
    for (std::size_t i = open_.size(); i-- > 0;) {
        auto& c = *open_[i];
        if (c.closed() || !c.client.unsent.empty() || !c.server.unsent.empty() ||
            !c.observed->idle())
            continue;
        const auto bye = admin_shutdown();
        [[maybe_unused]] auto n = send_now(c.client.fd, bye.data(), bye.size());
        finish(c);
    }
}

// Both sides close (the server's backend ends with its socket); after a violation the client
// first gets the farewell, when the bytes it was sent so far end at a message boundary.
void epoll_relay::finish(connection& c) {
    if (c.observed->failed() && !c.client_mid_message) {
        c.client.unsent += c.observed->farewell();
        flush(c.client);
    }
    c.close_sockets();
    auto& last = open_.back();
    last->slot = c.slot;
    std::swap(open_[c.slot], last);
    ended_.push_back(std::move(open_.back()));  // freed after this batch of events
    open_.pop_back();
}

}  // namespace

std::unique_ptr<relay> make_epoll_relay() {
    return std::make_unique<epoll_relay>();
}

}  // namespace sidelight::dbproxy
