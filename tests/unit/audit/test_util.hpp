#pragma once
// Helpers shared by the audit unit tests: a temp directory per test and event builders.

#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <string>

#include "audit/event.hpp"
#include "config/config.hpp"

namespace sidelight::audit::testing {

class temp_dir {
  public:
    temp_dir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("sidelight-audit-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

inline config::store_config store_at(const std::string& path) {
    config::store_config cfg;
    cfg.path = path;
    return cfg;
}

inline audit_event make_audit(const std::string& user, const std::string& entity_id = "42") {
    audit_event e;
    e.user_id = user;
    e.action = "UPDATE_PRODUCT";
    e.entity_type = "product";
    e.entity_id = entity_id;
    e.changes = R"({"price":10})";
    e.ip_address = "10.0.0.1";
    e.user_agent = "curl/8";
    e.request_id = "req-1";
    e.method = "PUT";
    e.route = "/api/products/{id}";
    e.status = 200;
    return e;
}

inline security_event make_security(const std::string& type, const std::string& user = "bob") {
    security_event e;
    e.event_type = type;
    e.user_id = user;
    e.ip_address = "10.0.0.2";
    e.success = false;
    e.details = R"({"reason":"bad password"})";
    e.request_id = "req-2";
    e.method = "POST";
    e.route = "/login";
    e.status = 401;
    e.source = event_source::detector;
    return e;
}

// A plain sqlite3 connection, as an attacker or an unrelated tool would open the file.
class raw_db {
  public:
    explicit raw_db(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
    ~raw_db() { sqlite3_close(db_); }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;

    // SQLITE_OK or the error code; the message is kept in last_error().
    int exec(const std::string& sql) {
        char* err = nullptr;
        const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
        last_error_ = err ? err : "";
        sqlite3_free(err);
        return rc;
    }
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        std::string out;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            const auto* p = sqlite3_column_text(st, 0);
            out = p ? reinterpret_cast<const char*>(p) : "";
        }
        sqlite3_finalize(st);
        return out;
    }
    // Every row of `sql`, one line each, every column as its type and value ("i:1|t:abc|n:"):
    // two results are equal only when every value and its storage class are.
    std::string rows(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        std::string out;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return "error";
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                static constexpr const char* types = "?iftbn";  // SQLITE_INTEGER=1 .. NULL=5
                const auto* p = sqlite3_column_text(st, c);
                out += std::string(c ? "|" : "") + types[sqlite3_column_type(st, c)] + ":" +
                       (p ? reinterpret_cast<const char*>(p) : "");
            }
            out += "\n";
        }
        sqlite3_finalize(st);
        return out;
    }
    const std::string& last_error() const { return last_error_; }

  private:
    sqlite3* db_ = nullptr;
    std::string last_error_;
};

}  // namespace sidelight::audit::testing
