// Reading loadtest.yaml into a `plan` (plan.hpp) with the config's YAML walker, so that every
// error quotes file:line:col and the key path as sidelight.yaml's errors do.
#include "loadtest/plan.hpp"

#include <cctype>
#include <charconv>
#include <map>

#include "config/load.hpp"
#include "config/yaml_walk.hpp"
#include "util/file.hpp"

namespace sidelight::loadtest {
namespace {

using config::config_error;
using config::detail::list_items;
using config::detail::map_entries;
using config::detail::map_reader;
using config::detail::node_ref;

// http://HOST[:PORT][/]; the host may be [v6].
target_address parse_target(const node_ref& n) {
    std::string url = config::detail::to_nonempty_string(n);
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) n.fail("expected http://HOST:PORT (https is not supported)");
    std::string rest = url.substr(scheme.size());
    if (rest.ends_with('/')) rest.pop_back();
    if (rest.find('/') != std::string::npos) n.fail("expected http://HOST:PORT without a path");
    target_address t;
    t.host_header = rest;
    const bool bracketed = rest.starts_with('[');
    const auto colon = rest.rfind(':');
    const bool has_port = colon != std::string::npos && (!bracketed || rest[colon - 1] == ']');
    t.host = has_port ? rest.substr(0, colon) : rest;
    if (bracketed) t.host = t.host.substr(1, t.host.size() - 2);
    if (has_port) {
        const std::string port = rest.substr(colon + 1);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
            n.fail("expected a port 1..65535 in http://HOST:PORT");
        t.port = static_cast<std::uint16_t>(value);
    }
    if (t.host.empty()) n.fail("expected http://HOST:PORT");
    return t;
}

request_spec parse_request(const node_ref& n) {
    map_reader r(n, {"method", "path", "headers", "body"});
    request_spec spec;
    if (auto m = r.get("method")) {
        spec.method = config::detail::to_nonempty_string(*m);
        if (!config::detail::is_http_token(spec.method)) m->fail("expected an HTTP method");
    }
    const node_ref path = r.require("path");
    spec.path = config::detail::to_nonempty_string(path);
    if (!spec.path.starts_with('/')) path.fail("expected a path starting with /");
    if (spec.path.find_first_of(" \r\n") != std::string::npos)
        path.fail("a path holds no spaces or line breaks");
    if (auto h = r.get("headers")) {
        for (const auto& e : map_entries(*h)) {
            if (!config::detail::is_http_token(e.key)) e.value.fail("expected a header name");
            std::string lower;
            for (char c : e.key) lower += static_cast<char>(std::tolower(c));
            if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection")
                e.value.fail("set by the load generator");
            std::string value = config::detail::to_string(e.value);
            if (value.find_first_of("\r\n") != std::string::npos)
                e.value.fail("a header value holds no line breaks");
            spec.headers.emplace_back(e.key, std::move(value));
        }
    }
    if (auto b = r.get("body")) spec.body = config::detail::to_string(*b);
    return spec;
}

// "2000/s", "120/m" or a plain number of requests per second.
double parse_rate(const node_ref& n) {
    std::string text = config::detail::to_nonempty_string(n);
    double per = 1;
    if (text.ends_with("/s"))
        text.resize(text.size() - 2);
    else if (text.ends_with("/m"))
        text.resize(text.size() - 2), per = 60;
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value > 0) || value > 1e7)
        n.fail("expected a rate like 2000/s or 120/m");
    return value / per;
}

// A `parallel:` list holds names, and so does a ratio assertion ("<=2x direct"); they are
// resolved once every scenario is read.
struct pending_name {
    std::size_t scenario;
    node_ref name;     // where it is written
    std::string text;  // a reference's name (the node holds the whole assertion)
};

std::vector<assertion> parse_assertions(const node_ref& n, std::vector<pending_name>& references,
                                        std::size_t index) {
    std::vector<assertion> out;
    for (const auto& e : map_entries(n)) {
        std::string error;
        auto a = parse_assertion(e.key, config::detail::to_nonempty_string(e.value), error);
        if (!a) e.value.fail(error);
        if (!a->reference.empty()) references.push_back({index, e.value, a->reference});
        out.push_back(std::move(*a));
    }
    return out;
}

void parse_cold_warm(const node_ref& n, scenario& s) {
    map_reader r(n, {"cold", "warm"});
    if (auto c = r.get("cold")) s.cold = config::detail::to_uint(*c, 1, 1'000'000);
    if (auto w = r.get("warm")) s.warm = config::detail::to_uint(*w, 1, 10'000'000);
}

// duration, connections, threads, timeout.
void parse_loop(const map_reader& r, scenario& s) {
    if (auto d = r.get("duration")) s.duration = config::detail::to_duration(*d, false);
    if (auto c = r.get("connections")) {
        s.connections = static_cast<std::uint32_t>(config::detail::to_uint(*c, 1, 10'000));
        s.connections_mark = c->mark;
        s.connections_path = c->path;
    }
    if (auto t = r.get("threads")) {
        s.threads = static_cast<std::uint32_t>(config::detail::to_uint(*t, 1, 64));
        if (r.get("parallel") || r.get("cold_warm") || s.threads > s.connections)
            t->fail("threads splits a loop's connections: at most `connections`, not here");
    }
    if (auto t = r.get("timeout")) s.timeout = config::detail::to_duration(*t, false);
}

struct pending_names {
    std::vector<pending_name> members, references;
};

// One entry of `scenarios:`; which keys go together is checked here.
scenario parse_scenario(const node_ref& n, pending_names& pending, std::size_t index) {
    map_reader r(n, {"name", "request", "duration", "connections", "rate", "timeout", "assert",
                     "parallel", "cold_warm", "threads", "target"});
    scenario s;
    s.name = config::detail::to_nonempty_string(r.require("name"));
    s.connections_mark = n.mark;
    s.connections_path = n.path;
    const auto request = r.get("request");
    const auto parallel = r.get("parallel");
    if (request.has_value() == parallel.has_value())
        n.fail("a scenario has either `request` or `parallel`");
    if (request) s.request = parse_request(*request);
    if (auto t = r.get("target")) {
        if (parallel) t->fail("a parallel scenario runs its members' own targets");
        s.target_url = config::detail::to_nonempty_string(*t);
        s.target = parse_target(*t);
    }
    parse_loop(r, s);
    if (auto a = r.get("assert")) s.assertions = parse_assertions(*a, pending.references, index);
    if (auto rate = r.get("rate")) {
        if (parallel) rate->fail("a parallel scenario runs its members' own rates");
        s.rate = parse_rate(*rate);
        s.kind = scenario_kind::open;
    }
    if (auto cw = r.get("cold_warm")) {
        if (parallel || s.rate > 0 || r.get("connections"))
            cw->fail("cold_warm goes with `request` alone (no rate or connections)");
        if (!r.get("duration")) s.duration = std::chrono::seconds(60);  // a cap, not a length
        parse_cold_warm(*cw, s);
        s.kind = scenario_kind::cold_warm;
        s.connections = 1;
    }
    if (parallel) {
        // A parallel scenario runs its members' loops as they are; a timeout here would be
        // read and then ignored, so it is refused like connections.
        for (const char* key : {"connections", "timeout"})
            if (auto v = r.get(key)) v->fail("set on the members, not here");
        s.kind = scenario_kind::parallel;
        for (const auto& item : list_items(*parallel)) pending.members.push_back({index, item, {}});
        if (list_items(*parallel).empty()) parallel->fail("expected a list of scenario names");
    }
    return s;
}

void resolve_names(plan& p, const pending_names& pending) {
    std::map<std::string, std::size_t> by_name;
    for (std::size_t i = 0; i < p.scenarios.size(); ++i) by_name.emplace(p.scenarios[i].name, i);
    for (const auto& ref : pending.references) {
        auto it = by_name.find(ref.text);
        if (it == by_name.end()) ref.name.fail("unknown scenario \"" + ref.text + "\"");
        if (it->second == ref.scenario) ref.name.fail("a ratio compares with another scenario");
    }
    for (const auto& m : pending.members) {
        const std::string name = config::detail::to_nonempty_string(m.name);
        auto it = by_name.find(name);
        if (it == by_name.end()) m.name.fail("unknown scenario \"" + name + "\"");
        const auto kind = p.scenarios[it->second].kind;
        if (kind == scenario_kind::parallel || kind == scenario_kind::cold_warm)
            m.name.fail("\"" + name + "\" is not a closed or open loop scenario");
        p.scenarios[m.scenario].members.push_back(it->second);
    }
}

void parse_scenarios(const node_ref& n, plan& p) {
    pending_names pending;
    std::map<std::string, bool> seen;
    const auto items = list_items(n);
    if (items.empty()) n.fail("expected a list of scenarios");
    for (std::size_t i = 0; i < items.size(); ++i) {
        p.scenarios.push_back(parse_scenario(items[i], pending, i));
        if (!seen.emplace(p.scenarios.back().name, true).second)
            items[i].fail("duplicate scenario name \"" + p.scenarios.back().name + "\"");
    }
    resolve_names(p, pending);
}

}  // namespace

plan load_plan_string(const std::string& yaml, const std::string& file_name) {
    YAML::Node root;
    try {
        // Every document is parsed: YAML::Load would read the first and silently drop the rest
        // (a second plan pasted after --- would never run). As config/load.cpp does.
        std::vector<YAML::Node> documents = YAML::LoadAll(yaml);
        for (std::size_t i = 1; i < documents.size(); ++i)
            if (!documents[i].IsNull())
                throw config_error(config::detail::to_mark(file_name, documents[i].Mark()), "",
                                   "a second YAML document (after ---): the plan is one document");
        if (!documents.empty()) root = std::move(documents.front());
    } catch (const YAML::ParserException& e) {
        throw config_error(config::detail::to_mark(file_name, e.mark), "",
                           "invalid YAML: " + e.msg);
    }
    node_ref top{root, "", config::detail::to_mark(file_name, root.Mark())};
    if (!root.IsMap()) top.fail("the document must be a map with `target` and `scenarios`");
    map_reader r(top, {"target", "scenarios"});
    plan p;
    p.file = file_name;
    const node_ref target = r.require("target");
    p.target_url = config::detail::to_nonempty_string(target);
    p.target = parse_target(target);
    parse_scenarios(r.require("scenarios"), p);
    return p;
}

plan load_plan(const std::string& path) {
    auto read = util::read_small_file(path, 1u << 20);
    if (!read.ok())
        throw config_error(config::source_mark{path, 0, 0}, "",
                           "cannot read: " + read.reason(1u << 20));
    return load_plan_string(read.text, path);
}

}  // namespace sidelight::loadtest
