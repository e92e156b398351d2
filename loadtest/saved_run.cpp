// Reading a load test's JSON back with Boost.JSON (saved_run.hpp). Lenient on fields (the schema
// only grows), strict on the schema name: a file of another kind is refused, not reported empty.
#include "loadtest/saved_run.hpp"

#include <cstdlib>
#include <stdexcept>

#include <boost/json.hpp>

namespace sidelight::loadtest {
namespace {

namespace json = boost::json;

double number(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v) return 0;
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    if (v->is_double()) return v->as_double();
    return 0;
}

std::uint64_t count(const json::object& o, std::string_view key) {
    const double n = number(o, key);
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

std::string text(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool flag(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v && v->is_bool() && v->as_bool();
}

const json::object& object(const json::object& o, std::string_view key) {
    static const json::object empty;
    const json::value* v = o.if_contains(key);
    return v && v->is_object() ? v->as_object() : empty;
}

const json::array& array(const json::object& o, std::string_view key) {
    static const json::array empty;
    const json::value* v = o.if_contains(key);
    return v && v->is_array() ? v->as_array() : empty;
}

saved_latency latency(const json::object& o) {
    return {count(o, "count"), count(o, "p50"),  count(o, "p90"), count(o, "p95"),
            count(o, "p99"),   count(o, "p999"), count(o, "min"), count(o, "max")};
}

error_counts errors(const json::object& o) {
    error_counts e;
    e.connect = count(o, "connect");
    e.timeout = count(o, "timeout");
    e.reset = count(o, "reset");
    e.closed = count(o, "closed");
    e.parse = count(o, "parse");
    for (const auto& [code, n] : object(o, "status"))
        e.status[std::atoi(std::string(code).c_str())] += count(object(o, "status"), code);
    return e;
}

saved_assertion assertion_of(const json::object& o) {
    return {text(o, "metric"),   text(o, "expected"), text(o, "reference"), number(o, "bound"),
            number(o, "actual"), flag(o, "passed"),   text(o, "note")};
}

saved_scenario scenario_of(const json::object& o) {
    saved_scenario s;
    s.name = text(o, "name");
    s.kind = text(o, "kind");
    s.method = text(o, "method");
    s.path = text(o, "path");
    s.target = text(o, "target");
    for (const auto& m : array(o, "members"))
        if (m.is_string()) s.members.emplace_back(m.as_string());
    s.connections = count(o, "connections");
    s.responses = count(o, "responses");
    s.rate = number(o, "rate");
    s.elapsed_s = number(o, "elapsed_s");
    s.rps = number(o, "rps");
    s.latency = latency(object(o, "latency_us"));
    s.errors = errors(object(o, "errors"));
    if (o.contains("cold_warm")) {
        const auto& cw = object(o, "cold_warm");
        s.cold_warm = saved_cold_warm{latency(object(cw, "cold_latency_us")),
                                      latency(object(cw, "warm_latency_us"))};
    }
    for (const auto& a : array(o, "assertions"))
        if (a.is_object()) s.assertions.push_back(assertion_of(a.as_object()));
    s.passed = flag(o, "passed");
    return s;
}

}  // namespace

saved_run parse_saved_run(std::string_view json_text) {
    json::error_code ec;
    const json::value doc = json::parse(json_text, ec);
    if (ec) throw std::runtime_error("invalid JSON: " + ec.message());
    const std::string schema = doc.is_object() ? text(doc.as_object(), "schema") : "";
    if (schema != "sidelight.loadtest/1")
        throw std::runtime_error("not a sidelight.loadtest/1 report (schema: \"" + schema +
                                 "\"); write one with `sidelight loadtest --json FILE`");
    const auto& top = doc.as_object();
    saved_run run;
    run.target = text(top, "target");
    run.complete = flag(top, "complete");
    run.passed = flag(top, "passed");
    for (const auto& s : array(top, "scenarios"))
        if (s.is_object()) run.scenarios.push_back(scenario_of(s.as_object()));
    return run;
}

}  // namespace sidelight::loadtest
