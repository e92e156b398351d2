#include "proxy/server.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "proxy/io_deadline.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream_tls.hpp"
#include "util/cpu_limit.hpp"

namespace sidelight::proxy {
namespace {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

void log_exception(std::exception_ptr e) {
    if (!e) return;  // a session that ended normally
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("proxy: session ended by exception: {}", ex.what());
    }
}

task<void> accept_loop(worker& w) {
    auto& shared = w.shared;
    const std::size_t max = shared.listener.max_connections;
    for (;;) {
        auto [ec, socket] = co_await w.acceptor->async_accept(use_tuple);
        if (ec == net::error::operation_aborted || !w.acceptor->is_open()) co_return;
        if (ec) {  // e.g. EMFILE: back off instead of spinning
            spdlog::warn("proxy: accept failed: {}", ec.message());
            io_timer t(w.ioc, std::chrono::milliseconds(50));
            co_await t.async_wait(use_tuple);
            continue;
        }
        if (shared.client_connections.fetch_add(1, std::memory_order_relaxed) >= max) {
            // At the limit: close at once rather than queue; the client sees a reset/EOF.
            shared.client_connections.fetch_sub(1, std::memory_order_relaxed);
            beast::error_code ignored;
            socket.close(ignored);
            continue;
        }
        net::co_spawn(w.ioc, serve_client(w, std::move(socket)), log_exception);
    }
}

// Every io_deadline::period: timeouts and slow-exchange client watches (run_watchdog). It
// runs for as long as the worker does — draining sessions still need their timeouts.
task<void> watchdog(worker& w) {
    io_timer timer(w.ioc);
    for (;;) {
        timer.expires_after(io_deadline::period);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec == net::error::operation_aborted) co_return;
        run_watchdog(w);
    }
}

}  // namespace

server::server(std::shared_ptr<const config::config> cfg, observer& obs, published<routing>& routes,
               audit_gate* gate)
    : server(cfg, ingress_listener(*cfg), obs, routes, gate) {}

server::server(std::shared_ptr<const config::config> cfg, listener_spec spec, observer& obs,
               published<routing>& routes, audit_gate* gate) {
    shared_.gate = gate;
    shared_.cfg = std::move(cfg);
    shared_.listener = std::move(spec);
    shared_.obs = &obs;
    shared_.routes = &routes;
}

server::~server() {
    join();
}

// The workers' acceptors share the port through SO_REUSEPORT, which would as well let a second
// sidelight (same user) bind it and silently take half the traffic. A probe bound without
// SO_REUSEPORT fails while any other socket listens there, so that start fails instead.
void server::refuse_shared_port(const tcp::endpoint& ep) {
    net::io_context ioc;
    tcp::acceptor probe(ioc);
    beast::error_code ec;
    probe.open(ep.protocol(), ec);
    if (!ec) probe.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(ep, ec);
    if (ec == net::error::address_in_use)
        cannot_listen("address already in use (is another sidelight running?)");
    if (ec) cannot_listen(ec.message());
}

void server::cannot_listen(const std::string& why) const {
    const auto& l = shared_.listener;
    // The key that names the address: proxy.listen, or the egress listener's own label.
    throw std::runtime_error(std::string(l.egress ? "" : "proxy.listen: ") + "cannot listen on " +
                             l.listen.to_string() + listener_label(l) + ": " + why);
}

void server::bind(worker& w, const tcp::endpoint& ep) {
    auto& acc = w.acceptor.emplace(w.ioc);
    beast::error_code ec;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acc.set_option(reuse_port(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) cannot_listen(ec.message());
}

// The upstream's addresses, and with upstream.tls its client context, once for all workers.
void server::prepare_upstream() {
    const auto& l = shared_.listener;
    try {
        shared_.upstream = resolve_upstream(l.upstream, l.egress);
    } catch (const std::runtime_error& e) {
        if (!l.egress) throw;
        throw std::runtime_error(e.what() + listener_label(l));
    }
    if (!l.upstream.tls.enabled) return;
    const std::string where = l.egress ? "egress " + l.name + " upstream" : "upstream";
    shared_.upstream.tls = make_tls_context(l.upstream.tls, where);
    shared_.upstream.tls_name = tls_name(l.upstream);
}

void server::start() {
    const auto& cfg = *shared_.cfg;
    const auto& listener = shared_.listener;
    prepare_upstream();
    for (const auto& text : cfg.proxy.trusted_proxies) {
        auto c = parse_cidr(text);
        if (!c) throw std::runtime_error("proxy.trusted_proxies: invalid CIDR " + text);
        shared_.trusted_proxies.push_back(*c);
    }
    // workers: 0 follows the container's CPU limit, not the node's cores.
    const unsigned n = listener.workers
                           ? listener.workers
                           : util::default_workers(util::read_cgroup_cpu_limit(),
                                                   std::thread::hardware_concurrency());
    beast::error_code ec;
    const auto addr = net::ip::make_address(listener.listen.host, ec);
    if (ec) cannot_listen("not an IP address");
    tcp::endpoint ep(addr, listener.listen.port);
    if (ep.port() != 0) refuse_shared_port(ep);
    for (unsigned i = 0; i < n; ++i) {
        auto w = std::make_unique<worker>(shared_);
        bind(*w, ep);
        if (i == 0) ep.port(w->acceptor->local_endpoint().port());  // port 0: share the one we got
        workers_.push_back(std::move(w));
    }
    port_ = ep.port();
    for (auto& w : workers_) {
        net::co_spawn(w->ioc, accept_loop(*w), log_exception);
        net::co_spawn(w->ioc, w->pool.sweep(), log_exception);
        net::co_spawn(w->ioc, watchdog(*w), log_exception);
        w->thread = std::thread([&ioc = w->ioc] {
            auto guard = net::make_work_guard(ioc);
            ioc.run();
        });
    }
}

void server::stop_accepting() {
    shared_.draining.store(true);
    for (auto& w : workers_) {
        net::post(w->ioc, [&w = *w] {
            beast::error_code ec;
            if (w.acceptor) w.acceptor->close(ec);
            close_idle_sessions(w);
            w.pool.close_all();
        });
    }
}

std::size_t server::connections() const {
    return shared_.client_connections.load(std::memory_order_relaxed);
}

void server::abort() {
    for (auto& w : workers_) net::post(w->ioc, [&w = *w] { abort_sessions(w); });
}

void server::join() {
    if (joined_) return;
    joined_ = true;
    for (auto& w : workers_) w->ioc.stop();
    for (auto& w : workers_) {
        if (w->thread.joinable()) w->thread.join();
    }
}

}  // namespace sidelight::proxy
