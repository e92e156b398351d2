// Listeners and the database thread; see server.hpp.
#include "dbproxy/server.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "dbproxy/database_link.hpp"

namespace sidelight::dbproxy {
namespace {

void log_exception(std::exception_ptr e) {
    if (!e) return;  // ended normally
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("dbproxy: connection ended by exception: {}", ex.what());
    }
}

}  // namespace

server::server(std::vector<config::database_config> databases, config::database_io io,
               observer& obs, std::chrono::milliseconds startup_timeout)
    : shared_{{}, {}, obs, nullptr, startup_timeout}, relay_(make_relay(io)) {
    shared_.pumps = relay_.get();
    for (std::size_t i = 0; i < databases.size(); ++i) {
        auto tls = make_db_tls_context(
            databases[i], "databases[" + std::to_string(i) + "] (" + databases[i].name + ")");
        shared_.databases.push_back(
            std::make_unique<database>(i, std::move(databases[i]), std::move(tls)));
    }
}

server::~server() {
    stop();
}

void server::start() {
    for (const auto& db : shared_.databases) {
        const auto& listen = db->cfg.listen;
        auto acceptor = std::make_unique<tcp_acceptor>(ioc_);
        error_code ec;
        const tcp::endpoint at(net::ip::make_address(listen.host, ec), listen.port);
        if (!ec) acceptor->open(at.protocol(), ec);
        if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor->bind(at, ec);
        if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::runtime_error("database " + db->cfg.name + ": cannot listen on " +
                                     listen.to_string() + ": " + ec.message());
        ports_.push_back(acceptor->local_endpoint().port());
        acceptors_.push_back(std::move(acceptor));
    }
    for (std::size_t i = 0; i < acceptors_.size(); ++i)
        net::co_spawn(ioc_, accept_loop(i), log_exception);
    relay_->start();
    thread_ = std::thread([this] { ioc_.run(); });
}

void server::drain() {
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
        // The listeners stay open for CancelRequests (a statement holding the drain can still
        // be cancelled); a StartupMessage is refused (57P03).
        shared_.draining = true;
        for (auto* s : open_) s->drain_if_idle();
    });
    relay_->drain();
}

void server::stop() {
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
        for (auto& a : acceptors_) {
            error_code ignored;
            a->close(ignored);
        }
        for (auto* s : open_) s->close();
    });
    thread_.join();  // run() returns once every coroutine has ended: no more adoptions
    relay_->stop();
}

task<void> server::accept_loop(std::size_t index) {
    auto& acceptor = *acceptors_[index];
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {  // e.g. EMFILE: back off instead of spinning
            spdlog::warn("dbproxy: accept failed: {}", ec.message());
            io_timer t(ioc_, std::chrono::milliseconds(50));
            co_await t.async_wait(use_tuple);
            continue;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto s = std::make_shared<session>(std::move(socket), *shared_.databases[index], shared_);
        net::co_spawn(ioc_, serve(std::move(s)), log_exception);
    }
}

task<void> server::serve(std::shared_ptr<session> s) {
    open_.insert(s.get());
    struct forget {
        std::set<session*>& open;
        session* s;
        ~forget() { open.erase(s); }
    } guard{open_, s.get()};
    co_await s->run();
}

}  // namespace sidelight::dbproxy
