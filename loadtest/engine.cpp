// The epoll load loop (engine.hpp). A connection moves through
//   closed -> connecting -> (waiting ->) writing -> reading -> waiting | writing | closed
// and the loop wakes for socket readiness and for one timerfd, armed at the earliest of: the
// next periodic scan (timeouts, progress, reconnect backoff), the end of the run and an open
// loop's next due request. The hot path per response is one read(), one send() and a share of
// one epoll_wait(): the socket stays registered for reading only, and EPOLLOUT is asked for
// only while a request is partly written.
#include "loadtest/engine.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loadtest/request_bytes.hpp"
#include "loadtest/response_parser.hpp"
#include "loadtest/target_addresses.hpp"

namespace sidelight::loadtest {
namespace {

using nanos = std::int64_t;
constexpr nanos ms_ns = 1'000'000;
constexpr nanos scan_every = 50 * ms_ns;
constexpr nanos connect_backoff = 10 * ms_ns;
constexpr std::uint64_t timer_tag = ~std::uint64_t{0};

nanos now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return nanos{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

enum class phase { closed, connecting, waiting, writing, reading };
enum class failure { connect, timeout, reset, closed, parse };

struct connection {
    int fd = -1;
    std::uint32_t generation = 0;
    phase state = phase::closed;
    response_parser parser;
    std::string_view out;
    std::string own_out;  // the unsent rest of a request, once a write was partial
    nanos intended = 0, sent = 0, deadline = 0;
    std::size_t address = 0;  // which of the target's addresses it connects to
    std::size_t walked = 0;   // addresses that refused it since its last connect or error
    nanos due = 0;            // open loop: the intended time of this connection's next request
    nanos retry_at = 0;       // closed: when to connect again
    std::uint64_t k = 0;      // open loop: requests this connection has sent
};

class load_loop {
  public:
    load_loop(const load_job& job, live_counters& live);
    ~load_loop();
    run_result run();

  private:
    void resolve();
    void open(std::size_t i);
    void connect_failed(connection& c);
    void close(connection& c);
    void watch(connection& c, std::size_t i, std::uint32_t events, int op);
    void next_step(connection& c, std::size_t i);
    void send_request(connection& c, std::size_t i, nanos intended, nanos now);
    void write_some(connection& c, std::size_t i);
    void on_event(std::size_t i, std::uint32_t events);
    void on_connected(connection& c, std::size_t i);
    void on_readable(connection& c, std::size_t i);
    void complete(connection& c, std::size_t i, nanos now);
    void fail(connection& c, std::size_t i, failure why);
    void scan(nanos now);
    void arm(nanos at);
    bool may_start() const;
    nanos schedule(std::size_t i, std::uint64_t k) const;

    const load_job& job_;
    live_counters& live_;
    request_bytes bytes_;
    run_result result_;
    std::vector<connection> conns_;
    address_walk addresses_;
    int epoll_ = -1, timer_ = -1;
    nanos start_ = 0, end_ = 0, next_scan_ = 0, armed_ = 0;
    bool stopping_ = false;
    std::uint64_t started_ = 0, in_flight_ = 0, responses_in_cold_ = 0;
    char buffer_[64 * 1024];
};

load_loop::load_loop(const load_job& job, live_counters& live)
    : job_(job),
      live_(live),
      bytes_(*job.request, job.target, job.thread_index + 1, job.thread_count),
      conns_(job.connections) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = timer_tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
    resolve();
}

load_loop::~load_loop() {
    for (auto& c : conns_) close(c);
    ::close(timer_);
    ::close(epoll_);
}

// Once per run; connections then share the walk, so the address that answered is the one every
// later connect uses.
void load_loop::resolve() {
    addresses_ =
        address_walk(resolve_addresses(job_.target.host, std::to_string(job_.target.port)));
}

nanos load_loop::schedule(std::size_t i, std::uint64_t k) const {
    const double slot = static_cast<double>(k) * job_.connections + static_cast<double>(i);
    return start_ + static_cast<nanos>(slot * 1e9 / job_.rate);
}

bool load_loop::may_start() const {
    if (stopping_) return false;
    return job_.pacing != scenario_kind::cold_warm || started_ < job_.cold + job_.warm;
}

void load_loop::watch(connection& c, std::size_t i, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = (std::uint64_t{c.generation} << 32) | i;
    epoll_ctl(epoll_, op, c.fd, &ev);
}

void load_loop::close(connection& c) {
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.state = phase::closed;
    c.own_out.clear();
    ++c.generation;
}

void load_loop::connect_failed(connection& c) {
    c.walked = 0;
    ++result_.errors.connect;
    close(c);
    c.retry_at = now_ns() + connect_backoff;
    arm(c.retry_at);
}

// A connect refused at once (or a socket of a family the host lacks) goes straight on to the
// next address; the walk ends within one pass over them. Each connection counts its own pass
// (the walk's position is shared, and other connections move it): once it has been refused by
// as many addresses as there are, the failure is counted and it waits before the next try.
void load_loop::open(std::size_t i) {
    connection& c = conns_[i];
    for (;;) {
        close(c);
        if (addresses_.empty()) return connect_failed(c);
        c.address = addresses_.current();
        const socket_address& a = addresses_.at(c.address);
        c.fd = socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const int rc = c.fd < 0 ? -1 : connect(c.fd, a.get(), a.length);
        if (rc == 0 || (c.fd >= 0 && errno == EINPROGRESS)) break;
        if (!addresses_.failed(c.address, errno) || ++c.walked >= addresses_.size())
            return connect_failed(c);
    }
    c.state = phase::connecting;
    c.deadline = now_ns() + std::chrono::nanoseconds(job_.timeout).count();
    watch(c, i, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
}

void load_loop::on_connected(connection& c, std::size_t i) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0 && addresses_.failed(c.address, error) && ++c.walked < addresses_.size())
        return open(i);  // the next address
    if (error != 0) {
        c.walked = 0;
        return fail(c, i, failure::connect);
    }
    c.walked = 0;
    watch(c, i, EPOLLIN, EPOLL_CTL_MOD);
    c.state = phase::waiting;
    next_step(c, i);
}

// A connected, idle connection: send now, wait for the schedule, or rest once the run ends.
void load_loop::next_step(connection& c, std::size_t i) {
    c.state = phase::waiting;
    if (!may_start()) return;
    const nanos now = now_ns();
    if (job_.pacing != scenario_kind::open) return send_request(c, i, now, now);
    if (c.due > now) return arm(c.due);
    send_request(c, i, c.due, now);
    c.due = schedule(i, ++c.k);
}

void load_loop::send_request(connection& c, std::size_t i, nanos intended, nanos now) {
    c.out = bytes_.next();
    c.intended = intended;
    c.sent = now;
    c.deadline = now + std::chrono::nanoseconds(job_.timeout).count();
    c.parser.reset(job_.request->method == "HEAD");
    ++started_;
    ++in_flight_;
    c.state = phase::writing;
    write_some(c, i);
}

void load_loop::write_some(connection& c, std::size_t i) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(c, i, failure::reset);
    const auto sent = static_cast<std::size_t>(std::max<ssize_t>(n, 0));
    result_.bytes_written += sent;
    const bool was_partial = !c.own_out.empty();
    if (sent == c.out.size()) {
        c.own_out.clear();
        c.out = {};
        c.state = phase::reading;
        if (was_partial) watch(c, i, EPOLLIN, EPOLL_CTL_MOD);
        return;
    }
    // The builder's buffer is shared by every connection: keep the rest of this one aside.
    c.own_out.assign(c.out.substr(sent));
    c.out = c.own_out;
    if (!was_partial) watch(c, i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
}

void load_loop::on_event(std::size_t i, std::uint32_t events) {
    connection& c = conns_[i];
    if (c.state == phase::connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c, i);
        return;
    }
    const auto generation = c.generation;
    if ((events & EPOLLOUT) && c.state == phase::writing) write_some(c, i);
    if (c.generation != generation) return;  // the write failed; a new connection is underway
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, i);
}

void load_loop::on_readable(connection& c, std::size_t i) {
    for (;;) {
        const ssize_t n = ::read(c.fd, buffer_, sizeof buffer_);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        const bool busy = c.state == phase::reading || c.state == phase::writing;
        if (n <= 0) {
            if (!busy) return open(i);  // an idle keep-alive connection closed by the server
            if (n == 0 && c.parser.on_eof()) return complete(c, i, now_ns());
            return fail(c, i, n == 0 ? failure::closed : failure::reset);
        }
        result_.bytes_read += static_cast<std::uint64_t>(n);
        if (!busy) return fail(c, i, failure::parse);  // bytes nobody asked for
        const std::size_t used = c.parser.feed(buffer_, static_cast<std::size_t>(n));
        if (c.parser.failed() || (c.parser.done() && used < static_cast<std::size_t>(n)))
            return fail(c, i, failure::parse);
        if (c.parser.done()) return complete(c, i, now_ns());
        if (static_cast<std::size_t>(n) < sizeof buffer_) return;
    }
}

void load_loop::complete(connection& c, std::size_t i, nanos now) {
    const auto us = [](nanos d) {
        return static_cast<std::uint64_t>(std::max<nanos>(d, 0) / 1000);
    };
    result_.latency.record(us(now - c.intended));
    result_.uncorrected.record(us(now - c.sent));
    if (job_.pacing == scenario_kind::cold_warm) {
        (responses_in_cold_ < job_.cold ? result_.cold : result_.warm).record(us(now - c.sent));
        ++responses_in_cold_;
    }
    ++result_.responses;
    const int status = c.parser.status();
    if (status < 200 || status > 299) ++result_.errors.status[status];
    --in_flight_;
    // A response that came before its request was fully written ends the connection too.
    if (!c.parser.keep_alive() || c.state == phase::writing) return open(i);
    next_step(c, i);
}

void load_loop::fail(connection& c, std::size_t i, failure why) {
    auto& e = result_.errors;
    const bool was_busy = c.state == phase::reading || c.state == phase::writing;
    switch (why) {
        case failure::connect:
            ++e.connect;
            break;
        case failure::timeout:
            ++e.timeout;
            break;
        case failure::reset:
            ++e.reset;
            break;
        case failure::closed:
            ++e.closed;
            break;
        case failure::parse:
            ++e.parse;
            break;
    }
    if (was_busy) --in_flight_;
    if (why == failure::connect) {
        close(c);
        c.retry_at = now_ns() + connect_backoff;
        arm(c.retry_at);
        return;
    }
    if (may_start())
        open(i);
    else
        close(c);
}

// Periodic and scheduled work: timeouts, reconnects, due requests, the end, progress.
void load_loop::scan(nanos now) {
    armed_ = 0;  // the timer fired: nothing is armed until this scan arms it again
    if (now >= end_ || (job_.cancel && job_.cancel->load(std::memory_order_relaxed)))
        stopping_ = true;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        connection& c = conns_[i];
        const bool busy = c.state == phase::reading || c.state == phase::writing;
        if ((busy || c.state == phase::connecting) && now >= c.deadline)
            fail(c, i, busy ? failure::timeout : failure::connect);
        else if (c.state == phase::closed && may_start() && now >= c.retry_at)
            open(i);
        else if (c.state == phase::waiting && job_.pacing == scenario_kind::open)
            next_step(c, i);
    }
    if (now >= next_scan_) {
        next_scan_ = now + scan_every;
        live_.responses.store(result_.responses, std::memory_order_relaxed);
        live_.errors.store(result_.errors.total(), std::memory_order_relaxed);
        live_.p95_us.store(result_.latency.percentile(95), std::memory_order_relaxed);
    }
    arm(std::min(next_scan_, stopping_ ? next_scan_ : end_));
}

void load_loop::arm(nanos at) {
    if (armed_ != 0 && armed_ <= at) return;
    armed_ = at;
    itimerspec spec{};
    spec.it_value.tv_sec = at / 1'000'000'000;
    spec.it_value.tv_nsec = at % 1'000'000'000;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

run_result load_loop::run() {
    start_ = now_ns();
    end_ = start_ + std::chrono::nanoseconds(job_.duration).count();
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        conns_[i].due = job_.pacing == scenario_kind::open ? schedule(i, 0) : start_;
        open(i);
    }
    scan(start_);
    epoll_event events[64];
    for (;;) {
        const int n = epoll_wait(epoll_, events, 64, -1);
        bool timer_fired = false;
        for (int e = 0; e < n; ++e) {
            const std::uint64_t tag = events[e].data.u64;
            if (tag == timer_tag) {
                timer_fired = true;
                continue;
            }
            const auto i = static_cast<std::size_t>(tag & 0xffffffffu);
            if (conns_[i].generation == (tag >> 32)) on_event(i, events[e].events);
        }
        if (timer_fired) {
            std::uint64_t expirations = 0;
            [[maybe_unused]] auto r = ::read(timer_, &expirations, sizeof expirations);
            scan(now_ns());
        }
        if (job_.pacing == scenario_kind::cold_warm && !may_start()) stopping_ = true;
        if (stopping_ && in_flight_ == 0) break;
    }
    result_.elapsed_s = static_cast<double>(now_ns() - start_) / 1e9;
    live_.responses.store(result_.responses);
    live_.p95_us.store(result_.latency.percentile(95));
    return std::move(result_);
}

}  // namespace

run_result run_load(const load_job& job, live_counters& live) {
    auto loop = std::make_unique<load_loop>(job, live);
    return loop->run();
}

}  // namespace sidelight::loadtest
