// The database reachability probe; see probe.hpp.
#include "dbproxy/probe.hpp"

#include "dbproxy/database_link.hpp"

namespace sidelight::dbproxy {

database_probe::database_probe(config::database_config db) : db_(std::move(db)), probe_(db_) {
    if (probe_.upstream.tls == config::db_tls::disable) {
        // The app's connections stay plain; the probe still asks, and finishes what it asked.
        probe_.upstream.tls = config::db_tls::prefer;
        probe_.upstream.ca_file.clear();
    }
    tls_ = make_db_tls_context(probe_, "databases " + db_.name);
}

task<std::string> database_probe::check() const {
    std::string reason;
    auto link = co_await database_link::open(probe_, tls_.get(), reason);
    if (!link) co_return reason.empty() ? std::string("no answer") : reason;
    link->close();
    co_return "";
}

}  // namespace sidelight::dbproxy
