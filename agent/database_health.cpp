#include "agent/database_health.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

namespace sidelight::agent {

struct database_checker::watched {
    watched(const config::database_config& db, const config::health_config& h,
            boost::asio::io_context& ioc)
        : probe(db),
          verdict(h.unhealthy_threshold, h.healthy_threshold),
          timer(ioc.get_executor()) {
        state.name = db.name;
        state.address = db.upstream.address.to_string();
    }

    dbproxy::database_probe probe;
    probe_verdict verdict;
    database_health state;
    std::chrono::steady_clock::time_point last_check;
    dbproxy::io_timer timer;
};

database_checker::database_checker(boost::asio::io_context& ioc, const config::config& cfg)
    : ioc_(ioc), settings_(cfg.health) {
    for (const auto& db : cfg.databases)
        watched_.push_back(std::make_unique<watched>(db, settings_, ioc));
}

database_checker::~database_checker() = default;

void database_checker::start() {
    for (std::size_t i = 0; i < watched_.size(); ++i) {
        boost::asio::co_spawn(
            ioc_, loop(i), [name = watched_[i]->state.name](std::exception_ptr e) {
                if (e) spdlog::error("health: database {} checker stopped by exception", name);
            });
    }
}

void database_checker::stop() {
    stopped_ = true;
    boost::asio::post(ioc_, [this] {
        for (auto& w : watched_) w->timer.cancel();
    });
}

std::vector<database_health> database_checker::snapshot() const {
    std::vector<database_health> out;
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& w : watched_) {
        out.push_back(w->state);
        if (w->state.checked)
            out.back().last_check_age_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(now - w->last_check).count();
    }
    return out;
}

void database_checker::record(std::size_t i, std::string error) {
    auto& w = *watched_[i];
    std::lock_guard lock(mutex_);
    const bool changed = w.verdict.record(error.empty());
    w.state.checked = true;
    w.state.state = w.verdict.state();
    w.state.reachable = w.state.state == upstream_state::reachable;
    if (changed && w.state.reachable) {
        spdlog::info("health: database {} reachable", w.state.name);
    } else if (changed) {
        spdlog::warn("health: database {} unreachable error=\"{}\"", w.state.name, error);
    }
    w.state.last_error = std::move(error);
    w.last_check = std::chrono::steady_clock::now();
}

dbproxy::task<void> database_checker::loop(std::size_t i) {
    auto& w = *watched_[i];
    while (!stopped_) {
        std::string error = co_await w.probe.check();  // awaited into a variable (GCC 12)
        record(i, std::move(error));
        w.timer.expires_after(settings_.interval);
        co_await w.timer.async_wait(dbproxy::use_tuple);
    }
}

}  // namespace sidelight::agent
