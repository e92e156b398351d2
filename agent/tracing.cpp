#include "agent/tracing.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

namespace sidelight::agent {
namespace {

// The collector's own words, as one log field: printable ASCII without quotes or backslashes,
// at most 200 characters.
std::string loggable(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 200))
        out += c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?';
    return out;
}

using clock = std::chrono::steady_clock;

std::uint64_t unix_ns(std::chrono::system_clock::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// Waits until fd is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return false;
    }
}

// getaddrinfo within `deadline`: the lookup runs on a thread of its own, and a DNS server that
// does not answer holds an export (and the exit's drain) for otlp.timeout at most. A lookup not
// answered in time is waited for again by the next export to the same name, not started anew
// (no pile of threads behind a hung resolver); one given up on frees its answer when it ends.
// An IP address is not looked up. Called from the export thread only.
struct lookup {
    std::string host, port;
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    bool abandoned = false;
    int rc = 0;
    addrinfo* found = nullptr;
};

addrinfo* resolve(const std::string& host, const std::string& port, clock::time_point deadline,
                  std::string& error) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* numeric = nullptr;
    if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &numeric) == 0) return numeric;
    static std::shared_ptr<lookup> pending;  // the export thread's
    auto l = pending;
    if (!l || l->host != host || l->port != port) {
        if (l) {
            std::lock_guard lock(l->mutex);
            l->abandoned = true;  // another name now: its answer is freed when it comes
            if (l->done && l->found) ::freeaddrinfo(l->found);
        }
        l = std::make_shared<lookup>();
        l->host = host;
        l->port = port;
        try {
            std::thread([l] {
                addrinfo hints{};
                hints.ai_socktype = SOCK_STREAM;
                addrinfo* found = nullptr;
                const int rc = ::getaddrinfo(l->host.c_str(), l->port.c_str(), &hints, &found);
                std::lock_guard lock(l->mutex);
                if (l->abandoned) {
                    if (found) ::freeaddrinfo(found);
                    return;
                }
                l->rc = rc;
                l->found = found;
                l->done = true;
                l->done_cv.notify_all();
            }).detach();
        } catch (const std::system_error& e) {
            pending.reset();
            error = "cannot resolve " + host + ": " + e.what();
            return nullptr;
        }
        pending = l;
    }
    std::unique_lock lock(l->mutex);
    if (!l->done_cv.wait_until(lock, deadline, [&] { return l->done; })) {
        error = "cannot resolve " + host + ": no answer in time";
        return nullptr;  // still pending: the next export waits for it
    }
    pending.reset();
    if (l->rc != 0) {
        error = "cannot resolve " + host + ": " + ::gai_strerror(l->rc);
        return nullptr;
    }
    return l->found;
}

int connect_to(const config::address& a, clock::time_point deadline, std::string& error) {
    addrinfo* found = resolve(a.host, std::to_string(a.port), deadline, error);
    if (!found) return -1;
    int fd = -1;
    for (auto* ai = found; ai && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      ai->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            error = std::string("connect: ") + std::strerror(errno);
            ::close(fd);
            fd = -1;
            continue;
        }
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (!wait_for(fd, POLLOUT, deadline) ||
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
            error = so_error ? std::string("connect: ") + std::strerror(so_error)
                             : "connect: timed out";
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(found);
    return fd;
}

}  // namespace

span_pair spans_of(const routes::request_record& r) {
    span_pair p;
    p.trace = r.trace.trace;
    if (r.trace.has_parent) p.parent = r.trace.parent;
    p.server_span = r.trace.server_span;
    p.client_span = r.trace.client_span;
    const auto wall = [&](routes::request_timing::clock::time_point t) {
        return unix_ns(
            r.wall_start +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(t - r.start));
    };
    p.start_ns = unix_ns(r.wall_start);
    p.end_ns = std::max(wall(r.end), p.start_ns);
    if (r.upstream_start != routes::request_timing::clock::time_point{}) {
        p.upstream_start_ns = wall(r.upstream_start);
        p.upstream_end_ns = p.end_ns;
    }
    p.method.assign(r.method);
    // A request no template matched has no http.route, and its span is named by the method
    // alone (the OpenTelemetry HTTP conventions), not by the metrics' "unmatched" label.
    if (r.route != routes::unmatched_route) p.route.assign(r.route_label);
    p.path = r.path;
    p.peer = r.client_ip;
    const std::string_view up = r.upstream;
    if (const auto colon = up.rfind(':'); colon != std::string_view::npos) {
        auto host = up.substr(0, colon);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        p.upstream_host.assign(host);
        std::from_chars(up.data() + colon + 1, up.data() + up.size(), p.upstream_port);
    } else {
        p.upstream_host.assign(up);
    }
    // 499 is what the metrics and the access log record when the client left first: sidelight
    // never sent it, so the server span has no status code then.
    p.status = r.error == routes::error_type::client_abort ? 0 : r.status;
    p.upstream_status = r.upstream_status;
    switch (r.error) {
        case routes::error_type::none:
        case routes::error_type::client_error:  // the app's 4xx or 5xx: its status says it
        case routes::error_type::server_error:
        case routes::error_type::bad_request:  // the proxy's own 4xx refusal
            break;
        default:
            p.error_type.assign(routes::error_label(r.error));
    }
    return p;
}

std::string export_head(const config::otlp_config& otlp, std::size_t body_size) {
    // Host: the target's authority, an IPv6 literal in brackets (RFC 9110 7.2, RFC 3986 3.2.2).
    return "POST " + otlp.path + " HTTP/1.1\r\nHost: " + otlp.target.to_string() +
           "\r\nContent-Type: " +
           (otlp.encoding == config::otlp_encoding::json ? "application/json"
                                                         : "application/x-protobuf") +
           "\r\nContent-Length: " + std::to_string(body_size) +
           "\r\nUser-Agent: sidelight/" SIDELIGHT_VERSION "\r\n\r\n";
}

span_exporter::span_exporter(const config::tracing_config& cfg, prometheus::Registry& registry)
    : cfg_(cfg), resource_{cfg.service_name, SIDELIGHT_VERSION} {
    exported_ = &prometheus::BuildCounter()
                     .Name("sidelight_tracing_spans_exported_total")
                     .Help("Spans the OTLP collector accepted")
                     .Register(registry)
                     .Add({});
    auto& dropped = prometheus::BuildCounter()
                        .Name("sidelight_tracing_spans_dropped_total")
                        .Help(
                            "Spans not exported: the queue was full, their export failed, or "
                            "the collector accepted the export but rejected them")
                        .Register(registry);
    dropped_full_ = &dropped.Add({{"reason", "queue_full"}});
    dropped_failed_ = &dropped.Add({{"reason", "export_failed"}});
    dropped_rejected_ = &dropped.Add({{"reason", "rejected"}});
    auto& requests = prometheus::BuildCounter()
                         .Name("sidelight_tracing_export_requests_total")
                         .Help("OTLP/HTTP export requests by result")
                         .Register(registry);
    requests_ok_ = &requests.Add({{"result", "ok"}});
    requests_error_ = &requests.Add({{"result", "error"}});
    queue_.reserve(cfg_.otlp.batch_max);
    thread_ = std::thread([this] { run(); });
}

span_exporter::~span_exporter() {
    stop();
}

void span_exporter::on_request(const routes::request_record& r) {
    if (!r.trace.active || !r.trace.sampled) return;
    auto spans = spans_of(r);
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= cfg_.otlp.queue_size) {
            dropped_full_->Increment(spans.upstream_start_ns ? 2 : 1);
            return;
        }
        queue_.push_back(std::move(spans));
        wake = queue_.size() == cfg_.otlp.batch_max;
    }
    if (wake) wake_.notify_one();
}

void span_exporter::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        // What is queued gets one otlp.timeout in all, not one per batch: a collector that
        // stopped answering cannot hold the exit up for minutes.
        drain_until_ = clock::now() + cfg_.otlp.timeout;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    close_connection();
}

void span_exporter::run() {
    std::vector<span_pair> batch;
    for (;;) {
        bool last = false;
        clock::time_point deadline = clock::time_point::max();
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, cfg_.otlp.batch_interval,
                           [&] { return stopping_ || queue_.size() >= cfg_.otlp.batch_max; });
            last = stopping_;
            if (stopping_) deadline = drain_until_;
            const auto n = std::min(queue_.size(), cfg_.otlp.batch_max);
            batch.assign(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.begin() + static_cast<long>(n)));
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
            last = last && queue_.empty();
        }
        if (!batch.empty()) {
            double spans = 0;  // two per request, one when the app was never reached
            for (const auto& p : batch) spans += p.upstream_start_ns ? 2 : 1;
            const auto body = cfg_.otlp.encoding == config::otlp_encoding::json
                                  ? encode_json(resource_, batch)
                                  : encode_protobuf(resource_, batch);
            std::string error, answer;
            if (send(body, deadline, error, answer)) {
                requests_ok_->Increment();
                // A 2xx may still reject some spans (OTLP partial_success): not exported.
                const auto partial = decode_partial_success(
                    answer, cfg_.otlp.encoding == config::otlp_encoding::json);
                const double rejected =
                    std::min(spans, static_cast<double>(partial.rejected_spans));
                exported_->Increment(spans - rejected);
                if (rejected > 0) {
                    dropped_rejected_->Increment(rejected);
                    const auto now = clock::now();
                    if (now - last_rejection_warning_ >= std::chrono::minutes(1)) {
                        last_rejection_warning_ = now;
                        spdlog::warn(
                            "event=trace_spans_rejected endpoint={} spans={} reason=\"{}\"",
                            config::redact_endpoint(cfg_.otlp.endpoint), rejected,
                            loggable(partial.error_message));
                    }
                }
            } else {
                requests_error_->Increment();
                dropped_failed_->Increment(spans);
                const auto now = clock::now();
                if (now - last_warning_ >= std::chrono::minutes(1)) {
                    last_warning_ = now;
                    spdlog::warn("event=trace_export_failed endpoint={} spans={} reason=\"{}\"",
                                 config::redact_endpoint(cfg_.otlp.endpoint), spans, error);
                }
                if (deadline != clock::time_point::max()) {  // draining: the rest is dropped
                    std::lock_guard lock(mutex_);
                    double rest = 0;
                    for (const auto& p : queue_) rest += p.upstream_start_ns ? 2 : 1;
                    dropped_failed_->Increment(rest);
                    queue_.clear();
                    last = true;
                }
            }
            batch.clear();
        }
        if (last) return;
    }
}

void span_exporter::close_connection() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

// One POST on the kept-alive connection (a new one when there is none, or the old one turns
// out closed before anything was answered).
bool span_exporter::send(const std::string& body, clock::time_point until, std::string& error,
                         std::string& answer) {
    const auto deadline = std::min(clock::now() + cfg_.otlp.timeout, until);
    const auto& t = cfg_.otlp.target;
    std::string request = export_head(cfg_.otlp, body.size());
    request += body;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = fd_ >= 0;
        if (!reused) {
            fd_ = connect_to(t, deadline, error);
            if (fd_ < 0) return false;
        }
        std::size_t sent = 0;
        bool failed = false;
        while (sent < request.size()) {
            const auto n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!wait_for(fd_, POLLOUT, deadline)) {
                    error = "send: timed out";
                    close_connection();
                    return false;
                }
            } else {
                failed = true;
                break;
            }
        }
        // The answer: a status line, headers, Content-Length bytes of body.
        std::string in;
        std::size_t head_end = std::string::npos, need = 0;
        bool length_known = false;  // else the body (chunked, or to the close) is not read
        while (!failed) {
            if (head_end != std::string::npos && in.size() >= head_end + 4 + need) break;
            char buf[4096];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                in.append(buf, static_cast<std::size_t>(n));
                if (head_end == std::string::npos &&
                    (head_end = in.find("\r\n\r\n")) != std::string::npos) {
                    std::string head = in.substr(0, head_end);
                    for (auto& c : head) c = static_cast<char>(std::tolower(c));
                    if (const auto p = head.find("\r\ncontent-length:"); p != std::string::npos) {
                        need = std::strtoull(head.c_str() + p + 17, nullptr, 10);
                        length_known = true;
                    }
                }
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!wait_for(fd_, POLLIN, deadline)) {
                    error = "no answer within " + std::to_string(cfg_.otlp.timeout.count()) + " ms";
                    close_connection();
                    return false;
                }
            } else {
                failed = true;
            }
        }
        if (failed) {
            close_connection();
            if (reused && in.empty()) continue;  // the collector closed the idle connection
            error = "the collector closed the connection";
            return false;
        }
        const int status = in.size() > 12 ? std::atoi(in.c_str() + 9) : 0;
        // A body of unknown length (a chunked answer, as from a proxy in front of the
        // collector) was not read: the connection cannot carry the next export.
        if (!length_known || in.find("\r\nconnection: close", 0) != std::string::npos ||
            in.find("\r\nConnection: close") != std::string::npos)
            close_connection();
        if (status >= 200 && status < 300) {
            if (length_known) answer = in.substr(head_end + 4, need);
            return true;
        }
        error = "the collector answered " + std::to_string(status);
        return false;
    }
    return false;
}

}  // namespace sidelight::agent
