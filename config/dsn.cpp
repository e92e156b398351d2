// Connection strings of the Postgres audit store: parsed with libpq's own parser, so what `check`
// accepts is what the forwarder will connect with, and printed only without their password.
#include <libpq-fe.h>

#include <memory>

#include "config/config.hpp"

namespace sidelight::config {
namespace {

// keyword=value with the value quoted when libpq would need it.
void append_pair(std::string& out, const char* keyword, const std::string& value) {
    if (!out.empty()) out += ' ';
    out += keyword;
    out += '=';
    bool plain = !value.empty();
    for (char c : value)
        if (c == ' ' || c == '\'' || c == '\\' || c == '\t' || c == '\n') plain = false;
    if (plain) {
        out += value;
        return;
    }
    out += '\'';
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    out += '\'';
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> parse_dsn(const std::string& dsn) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
        PQconninfoParse(dsn.c_str(), &error), PQconninfoFree);
    // libpq's message may quote a piece of the string, which may be the password: dropped.
    if (error) PQfreemem(error);
    if (!options) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> out;
    for (auto* o = options.get(); o->keyword; ++o) {
        if (o->val) out.emplace_back(o->keyword, o->val);
    }
    return out;
}

bool is_secret_dsn_keyword(std::string_view keyword) {
    return keyword == "password" || keyword == "sslpassword";  // the client key's passphrase
}

std::string redact_dsn(const std::string& dsn) {
    auto pairs = parse_dsn(dsn);
    if (!pairs) return "(not a valid connection string)";
    std::string out;
    for (const auto& [keyword, value] : *pairs) {
        append_pair(out, keyword.c_str(),
                    is_secret_dsn_keyword(keyword) ? std::string("***") : value);
    }
    return out;
}

}  // namespace sidelight::config
