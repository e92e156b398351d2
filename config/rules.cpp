// The `audit` and `security` sections: stores, checkpoints and the event rules.
#include <cctype>
#include <charconv>
#include <set>

#include "config/yaml_walk.hpp"

namespace sidelight::config::detail {
namespace {

std::optional<int> status_code(std::string_view text) {
    int code = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
    if (ec != std::errc{} || end != text.data() + text.size() || code < 100 || code > 599)
        return std::nullopt;
    return code;
}

// 404, "2xx" or "200-299".
status_range parse_status(const node_ref& n) {
    std::string text = n.scalar();
    if (text.size() == 3 && text[0] >= '1' && text[0] <= '5' &&
        (text[1] == 'x' || text[1] == 'X') && (text[2] == 'x' || text[2] == 'X')) {
        int base = (text[0] - '0') * 100;
        return status_range{base, base + 99};
    }
    auto dash = text.find('-');
    auto low = status_code(std::string_view(text).substr(0, dash));
    auto high =
        dash == std::string::npos ? low : status_code(std::string_view(text).substr(dash + 1));
    if (!low || !high)
        n.fail(
            "expected a status code (404), a class (\"2xx\") or a range (\"200-299\") between "
            "100 and 599, got \"" +
            text + "\"");
    if (*low > *high) n.fail("the range \"" + text + "\" is empty (low > high)");
    return status_range{*low, *high};
}

delivery_mode parse_mode(const node_ref& n) {
    return to_choice(n, {"batch", "strict"}) == "batch" ? delivery_mode::batch
                                                        : delivery_mode::strict;
}

audit_rule parse_audit_rule(const node_ref& n) {
    map_reader m(n, {"name", "listener", "match", "action", "entity_type", "entity_id", "user",
                     "changes", "mode"});
    audit_rule out;
    out.mark = n.mark;
    if (auto v = m.get("name")) out.name = to_string(*v);
    if (auto v = m.get("match")) out.match = parse_match(*v);
    if (auto v = m.get("listener")) parse_listener(*v, out.match);
    out.action = to_nonempty_string(m.require("action"));
    if (auto v = m.get("entity_type")) out.entity_type = to_string(*v);
    if (auto v = m.get("entity_id")) out.entity_id = parse_source(*v);
    if (auto v = m.get("user")) out.user = parse_source(*v);
    if (auto v = m.get("changes")) out.changes = to_bool(*v);
    if (auto v = m.get("mode")) out.mode = parse_mode(*v);
    return out;
}

security_rule parse_security_rule(const node_ref& n) {
    map_reader m(n, {"name", "listener", "match", "event_type", "owasp", "success", "user", "login",
                     "mode"});
    security_rule out;
    out.mark = n.mark;
    if (auto v = m.get("name")) out.name = to_string(*v);
    if (auto v = m.get("match")) out.match = parse_match(*v);
    if (auto v = m.get("listener")) parse_listener(*v, out.match);
    out.event_type = to_nonempty_string(m.require("event_type"));
    if (auto v = m.get("owasp")) out.owasp = to_string(*v);
    if (auto v = m.get("success")) {
        map_reader success(*v, {"status"});
        out.success_status = parse_status_list(success.require("status"));
    }
    if (auto v = m.get("user")) out.user = parse_source(*v);
    if (auto v = m.get("login")) out.login = to_bool(*v);
    if (auto v = m.get("mode")) out.mode = parse_mode(*v);
    return out;
}

// Rule names show up in logs and `sidelight check`; two rules with one name are a mistake.
template <typename Rule>
std::vector<Rule> parse_rules(const node_ref& n, Rule (*parse)(const node_ref&)) {
    std::vector<Rule> out;
    std::set<std::string> names;
    for (const auto& item : list_items(n)) {
        out.push_back(parse(item));
        const std::string& name = out.back().name;
        if (!name.empty() && !names.insert(name).second)
            item.fail("duplicate rule name \"" + name + "\"");
    }
    return out;
}

// A password may reach the DSN from the environment (`dsn: ${AUDIT_PG_DSN}`), never from the
// file itself: refused when the expanded password is spelled out in the text as written.
std::string parse_dsn_value(const node_ref& n) {
    std::string dsn = to_nonempty_string(n);
    const auto pairs = parse_dsn(dsn);
    if (!pairs)
        n.fail(
            "expected a libpq connection string (host=db user=sidelight dbname=audit) or URI "
            "(postgresql://sidelight@db/audit)");
    // As written, before ${VAR} expansion: each ${NAME} stands for some text from the
    // environment, ${NAME:-default} for its default (which is written here), $$ for a `$`. A
    // password (or the client key's passphrase) that is not itself a stand-in was written in
    // the file, a percent-encoded one in a URI included. Standing in, a reference elsewhere
    // (`@${PGHOST}`) does not make the text unparsable.
    const std::string& written_text = n.node.Scalar();
    constexpr std::string_view stand_in = "sidelight-env-value";
    std::string raw;
    for (std::size_t i = 0; i < written_text.size(); ++i) {
        if (written_text.compare(i, 2, "$$") == 0) {
            raw += "$$";
            ++i;
            continue;
        }
        const auto end =
            written_text.compare(i, 2, "${") == 0 ? written_text.find('}', i) : std::string::npos;
        if (end == std::string::npos) {
            raw += written_text[i];
            continue;
        }
        const std::string_view inner(written_text.data() + i + 2, end - i - 2);
        const auto dash = inner.find(":-");
        if (dash == std::string_view::npos)
            raw += stand_in;
        else
            raw += inner.substr(dash + 2);
        i = end;
    }
    // A secret is from the environment only when it is nothing but stand-ins (`abc${X}` has
    // `abc` written here).
    const auto written_here = [&](std::string value) {
        for (auto at = value.find(stand_in); at != std::string::npos; at = value.find(stand_in))
            value.erase(at, stand_in.size());
        return !value.empty();
    };
    bool literal = false;
    if (const auto written = parse_dsn(raw)) {
        for (const auto& [keyword, value] : *written)
            if (is_secret_dsn_keyword(keyword) && written_here(value)) literal = true;
    }
    if (literal)
        n.fail(
            "holds a password written in the file: take the DSN from the environment "
            "(dsn: ${AUDIT_PG_DSN}), or the password from PGPASSWORD or a passfile");
    return dsn;
}

// A chain id names one writer (its pod): letters, digits and . _ : - up to 128 characters.
std::string parse_chain(const node_ref& n) {
    std::string chain = to_nonempty_string(n);
    bool ok = chain.size() <= 128;
    for (char c : chain)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' &&
            c != '-')
            ok = false;
    if (!ok)
        n.fail("expected a chain id of letters, digits and . _ : - (at most 128), got \"" + chain +
               "\"");
    return chain;
}

spool_config parse_spool(const node_ref& n) {
    map_reader m(n, {"path", "max_bytes"});
    spool_config out;
    if (auto v = m.get("path")) {
        out.path = to_nonempty_string(*v);
        if (out.path == ":memory:")
            v->fail("a spool in memory would lose what Postgres has not taken yet: give a file");
    }
    if (auto v = m.get("max_bytes")) out.max_bytes = to_size(*v, 1024 * 1024);
    return out;
}

store_config parse_store(const node_ref& n) {
    map_reader m(n, {"type", "path", "synchronous", "wal_max_bytes", "dsn", "chain", "spool",
                     "forward_batch"});
    store_config out;
    out.type_mark = source_mark{n.mark.file, 0, 0};
    if (auto v = m.get("type")) {
        out.type = to_choice(*v, {"sqlite", "postgres", "memory"});
        out.type_mark = v->mark;
    }
    if (auto v = m.get("path")) {
        out.path = to_nonempty_string(*v);
        // SQLite's in-memory name: every connection would be a database of its own (the event
        // API and verify read through their own), and the trail would end with the process.
        if (out.path == ":memory:")
            v->fail(
                "an audit trail in memory is not kept: give a file (/tmp/sidelight-audit.db "
                "for a throwaway one)");
    }
    if (auto v = m.get("synchronous"))
        out.synchronous = to_choice(*v, {"off", "normal", "full", "extra"});
    if (auto v = m.get("wal_max_bytes")) out.wal_max_bytes = to_size(*v, 64 * 1024);
    if (auto v = m.get("dsn")) {
        out.dsn = parse_dsn_value(*v);
        out.dsn_mark = v->mark;
    }
    if (auto v = m.get("chain")) out.chain = parse_chain(*v);
    if (auto v = m.get("spool")) out.spool = parse_spool(*v);
    if (auto v = m.get("forward_batch")) out.forward_batch = to_uint(*v, 1, 10'000);
    const bool postgres = out.type == "postgres";
    if (postgres && out.dsn.empty())
        n.fail("type postgres needs dsn (a libpq connection string or URI, e.g. ${AUDIT_PG_DSN})");
    for (auto key : {"dsn", "chain", "spool", "forward_batch"}) {
        if (!postgres && m.get(key)) m.get(key)->fail("applies to type postgres only");
    }
    if (postgres && m.get("path"))
        m.get("path")->fail(
            "applies to type sqlite only (type postgres keeps its spool at spool.path)");
    return out;
}

checkpoint_config parse_checkpoint(const node_ref& n) {
    map_reader m(n, {"every_events", "every", "key_file"});
    checkpoint_config out;
    if (auto v = m.get("every_events")) out.every_events = to_uint(*v, 0, 1'000'000'000);
    if (auto v = m.get("every")) out.every = to_duration(*v, true);
    if (auto v = m.get("key_file")) {
        out.key_file = to_string(*v);
        out.key_file_mark = v->mark;
    }
    return out;
}

bool is_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

// The JWS algorithms sidelight can verify (RFC 7518). Which of them a configured key allows is
// decided when the key is read (rules/jwt_verifier.cpp).
std::vector<std::string> parse_jwt_algorithms(const node_ref& n) {
    static const std::set<std::string, std::less<>> known = {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"};
    std::vector<std::string> out;
    for (const auto& item : list_items(n)) {
        std::string alg = item.scalar();
        if (alg == "none" || alg == "None" || alg == "NONE")
            item.fail("\"none\" (an unsigned token) is never accepted");
        if (!known.count(alg))
            item.fail("unknown JWS algorithm \"" + alg +
                      "\" (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, "
                      "ES512, EdDSA, HS256, HS384 or HS512)");
        out.push_back(alg);
    }
    if (out.empty()) n.fail("must list at least one algorithm (or be left out)");
    return out;
}

jwt_config parse_jwt(const node_ref& n) {
    map_reader m(n, {"key_file", "hmac_secret_env", "algorithms", "leeway", "issuer", "audience"});
    jwt_config out;
    if (auto v = m.get("key_file")) {
        out.key_file = to_nonempty_string(*v);
        out.key_file_mark = v->mark;
    }
    if (auto v = m.get("hmac_secret_env")) {
        out.hmac_secret_env = to_nonempty_string(*v);
        // Never quote the value: `${JWT_SECRET}` written here expands to the secret itself.
        if (!is_env_name(out.hmac_secret_env))
            v->fail(
                "expected the NAME of an environment variable (letters, digits and _), not its "
                "value; the secret itself never goes into the file");
        out.hmac_secret_env_mark = v->mark;
    }
    if (auto v = m.get("algorithms")) {
        out.algorithms = parse_jwt_algorithms(*v);
        out.algorithms_mark = v->mark;
    }
    if (auto v = m.get("leeway")) out.leeway = to_duration(*v, true);
    if (auto v = m.get("issuer")) out.issuer = to_nonempty_string(*v);
    if (auto v = m.get("audience")) out.audience = to_nonempty_string(*v);
    if (!out.verifies() && !n.is_null())
        n.fail(
            "needs key_file or hmac_secret_env: without a key, tokens are only decoded and "
            "nothing else here would be checked");
    return out;
}

}  // namespace

value_source parse_source(const node_ref& n, bool exchange) {
    static const std::pair<std::string_view, value_source::kind> kinds[] = {
        {"path", value_source::kind::path_param},
        {"header", value_source::kind::header},
        {"query", value_source::kind::query_param},
        {"jwt", value_source::kind::jwt_claim},
        {"request", value_source::kind::request_body},
        {"response", value_source::kind::response_body}};
    static const std::pair<std::string_view, value_source::kind> fields[] = {
        {"status", value_source::kind::status},
        {"status_class", value_source::kind::status_class},
        {"method", value_source::kind::method},
        {"route", value_source::kind::route}};
    std::string text = n.scalar();
    if (exchange) {
        for (const auto& [name, kind] : fields)
            if (text == name) return value_source{kind, "", n.mark};
    }
    auto colon = text.find(':');
    std::string prefix = text.substr(0, colon);
    std::string key = colon == std::string::npos ? "" : text.substr(colon + 1);
    for (const auto& [name, kind] : kinds) {
        if (prefix != name) continue;
        if (key.empty()) n.fail("\"" + prefix + ":\" needs a name after the colon");
        bool body =
            kind == value_source::kind::request_body || kind == value_source::kind::response_body;
        if (body && key.front() != '/')
            n.fail("expected a JSON pointer like " + prefix + ":/user/id, got \"" + text + "\"");
        if (kind == value_source::kind::header && !is_http_token(key))
            n.fail("\"" + key + "\" is not a valid header name");
        return value_source{kind, key, n.mark};
    }
    n.fail(std::string("expected path:<param>, header:<name>, query:<name>, jwt:<claim>, ") +
           "request:/<pointer>" +
           (exchange ? ", response:/<pointer>, status, status_class, "
                       "method or route"
                     : " or response:/<pointer>") +
           ", got \"" + text + "\"");
}

rule_match parse_match(const node_ref& n) {
    map_reader m(n, {"routes", "methods", "status"});
    rule_match out;
    if (auto v = m.get("routes")) {
        for (const auto& item : list_items(*v)) {
            std::string route = item.scalar();
            if (route.empty() || route.front() != '/' || route.find(' ') != std::string::npos)
                item.fail(
                    "expected a route template like /api/products/{id} (methods go in "
                    "match.methods), got \"" +
                    route + "\"");
            out.routes.push_back(route);
        }
    }
    if (auto v = m.get("methods")) out.methods = parse_methods(*v);
    if (auto v = m.get("status")) out.status = parse_status_list(*v);
    return out;
}

void parse_listener(const node_ref& n, rule_match& match) {
    match.listener = to_nonempty_string(n);
    match.listener_mark = n.mark;
}

std::vector<status_range> parse_status_list(const node_ref& n) {
    std::vector<status_range> out;
    if (n.node.IsScalar()) return {parse_status(n)};
    for (const auto& item : list_items(n)) out.push_back(parse_status(item));
    // An empty list would mean "any" under match and "never" under success: neither is what
    // an empty `status:` is likely to mean.
    if (out.empty()) n.fail("must list at least one status or class (e.g. 200 or 2xx)");
    return out;
}

audit_config parse_audit(const node_ref& n) {
    map_reader m(n, {"store", "queue_size", "batch_max", "batch_interval", "strict_timeout",
                     "max_body_bytes", "redact_keys", "checkpoint", "jwt", "rules"});
    audit_config out;
    if (auto v = m.get("store")) out.store = parse_store(*v);
    if (auto v = m.get("queue_size")) out.queue_size = to_uint(*v, 1, 10'000'000);
    if (auto v = m.get("batch_max")) out.batch_max = to_uint(*v, 1, 100'000);
    if (auto v = m.get("batch_interval")) out.batch_interval = to_duration(*v, true);
    if (auto v = m.get("strict_timeout")) out.strict_timeout = to_duration(*v, false);
    if (auto v = m.get("max_body_bytes")) out.max_body_bytes = to_size(*v, 0);
    if (auto v = m.get("redact_keys")) out.redact_keys = to_string_list(*v);
    if (auto v = m.get("checkpoint")) out.checkpoint = parse_checkpoint(*v);
    if (auto v = m.get("jwt")) out.jwt = parse_jwt(*v);
    if (auto v = m.get("rules")) out.rules = parse_rules<audit_rule>(*v, &parse_audit_rule);
    return out;
}

security_config parse_security(const node_ref& n) {
    map_reader m(n, {"builtin", "brute_force", "rules"});
    security_config out;
    if (auto v = m.get("builtin")) {
        map_reader b(*v, {"authn_fail", "authz_fail", "rate_limit"});
        if (auto f = b.get("authn_fail")) out.builtin.authn_fail = to_bool(*f);
        if (auto f = b.get("authz_fail")) out.builtin.authz_fail = to_bool(*f);
        if (auto f = b.get("rate_limit")) out.builtin.rate_limit = to_bool(*f);
    }
    if (auto v = m.get("brute_force")) {
        map_reader b(*v, {"enabled", "threshold", "window"});
        if (auto f = b.get("enabled")) out.brute_force.enabled = to_bool(*f);
        if (auto f = b.get("threshold")) out.brute_force.threshold = to_uint(*f, 1, 1'000'000);
        if (auto f = b.get("window")) out.brute_force.window = to_duration(*f, false);
    }
    if (auto v = m.get("rules")) out.rules = parse_rules<security_rule>(*v, &parse_security_rule);
    return out;
}

}  // namespace sidelight::config::detail
