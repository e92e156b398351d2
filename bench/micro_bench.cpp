// Micro benchmarks of the per-request hot path (Google Benchmark):
//   build-bench/bench/bench_micro --benchmark_min_time=1
// - the byte-level head check, the Beast parse and the header rewrite of a browser request;
// - request-id validation and generation;
// - route matching on a 30-route table (static, param, catch-all, miss);
// - recording one request into a cached metrics series (series_cache::record);
// - metric rules on one order (business_metrics::on_request): the shop's two rules that read
//   the captured response body plus one on the status (metric_rules/0: matching, the JSON
//   pointers, the label sets, the series updates), and the status rule alone (metric_rules/1);
// - loading a config of N routes and building its route table (route_build/N), the control-
//   plane cost a large OpenAPI import or generated route list pays at start and on reload:
//   build-bench/bench/bench_micro --benchmark_filter=route_build
// - the labels of one SQL text on a database listener: lexed (a text the database's parse cache
//   does not hold: split_statements + classify + the insertion that evicts the least recently
//   used) and found in the cache: build-bench/bench/bench_micro --benchmark_filter=statement_

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "agent/business_metrics.hpp"
#include "agent/traffic_metrics.hpp"
#include "config/config.hpp"
#include "config/load.hpp"
#include "dbproxy/statement_cache.hpp"
#include "proxy/header_check.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/http_head.hpp"
#include "routes/route_table.hpp"
#include "routes/routing.hpp"
#include "util/request_id.hpp"

namespace {

namespace http = boost::beast::http;
using namespace sidelight;

const std::string browser_request =
    "GET /api/products/42?ref=home HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/\r\n"
    "Cookie: session=abc123; theme=dark\r\n"
    "Connection: keep-alive\r\n\r\n";

void head_check(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(proxy::check_request_head(browser_request, {}));
    }
}
BENCHMARK(head_check);

void parse_and_rewrite(benchmark::State& state) {
    std::string extra, id, head;
    proxy::request_origin origin;
    for (auto _ : state) {
        http::request_parser<http::buffer_body, proxy::field_allocator<char>> p;
        boost::beast::error_code ec;
        p.put(boost::asio::buffer(browser_request), ec);
        auto& req = p.get();
        benchmark::DoNotOptimize(proxy::strip_request(req, origin));
        proxy::choose_request_id(origin, id);
        extra.clear();
        proxy::append_forwarded(extra, origin, "10.1.2.3", id, "app:3000");
        head.clear();
        proxy::append_head(head, req.base(), extra);
        benchmark::DoNotOptimize(head);
    }
}
BENCHMARK(parse_and_rewrite);

void request_id(benchmark::State& state) {
    std::string id;
    for (auto _ : state) {
        util::generate_request_id(id);
        benchmark::DoNotOptimize(util::is_sane_request_id(id));
    }
}
BENCHMARK(request_id);

std::shared_ptr<const routes::route_table> thirty_routes() {
    config::routes_config cfg;
    const char* names[] = {"products", "orders", "users", "carts", "reviews", "coupons"};
    for (const char* n : names) {
        const std::string base = std::string("/api/") + n;
        cfg.entries.push_back({base, {"GET"}, "", {}});
        cfg.entries.push_back({base, {"POST"}, "", {}});
        cfg.entries.push_back({base + "/{id}", {"GET"}, "", {}});
        cfg.entries.push_back({base + "/{id}", {"PUT"}, "", {}});
        cfg.entries.push_back({base + "/{id}/history/{*rest}", {}, "", {}});
    }
    return routes::route_table::build(cfg);
}

void route_match(benchmark::State& state) {
    const auto table = thirty_routes();
    const char* targets[] = {"/api/orders", "/api/reviews/981?x=1",
                             "/api/coupons/7/history/2024/01", "/static/app.js"};
    const char* target = targets[state.range(0)];
    for (auto _ : state) {
        benchmark::DoNotOptimize(table->match(routes::http_method::get, target));
    }
}
BENCHMARK(route_match)->DenseRange(0, 3)->ArgName("static_param_catchall_miss");

// N sibling templates under one prefix ("GET,PUT /api/v1/res<i>/items/{id}"): the shape that
// made the builder quadratic (one trie node with N literal children).
std::string many_routes_yaml(std::int64_t n) {
    std::string yaml = "upstream: {address: 127.0.0.1:3000}\nroutes:\n  entries:\n";
    for (std::int64_t i = 0; i < n; ++i)
        yaml.append("    - GET,PUT /api/v1/res").append(std::to_string(i)).append("/items/{id}\n");
    return yaml;
}

void route_build(benchmark::State& state) {
    using clock = std::chrono::steady_clock;
    const std::string yaml = many_routes_yaml(state.range(0));
    double load_ms = 0, table_ms = 0;
    for (auto _ : state) {
        const auto t0 = clock::now();
        const auto cfg = config::load_string(yaml, "routes.yaml");
        const auto t1 = clock::now();
        const routes::routing routes(*cfg);
        load_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
        table_ms += std::chrono::duration<double, std::milli>(clock::now() - t1).count();
        benchmark::DoNotOptimize(routes.table().size());
    }
    // The two phases apart: YAML parsing and config structs, then the route table.
    state.counters["load_ms"] = benchmark::Counter(load_ms, benchmark::Counter::kAvgIterations);
    state.counters["table_ms"] = benchmark::Counter(table_ms, benchmark::Counter::kAvgIterations);
}
BENCHMARK(route_build)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->Iterations(1);

void record_cached_series(benchmark::State& state) {
    const agent::traffic_metrics metrics(config::metrics_config{});
    agent::series_cache cache;
    routes::request_record r;
    r.method_id = routes::http_method::get;
    r.route = 3;
    r.route_label = "/api/products/{id}";
    r.routing_generation = 1;
    r.status = 200;
    r.start = routes::request_record::clock::now();
    r.upstream_start = r.start + std::chrono::microseconds(40);
    r.upstream_header = r.start + std::chrono::microseconds(900);
    r.end = r.start + std::chrono::microseconds(1000);
    cache.record(metrics, r);  // resolve once, as the first request on a worker does
    for (auto _ : state) cache.record(metrics, r);
}
BENCHMARK(record_cached_series);

// The example config's shop rules against one POST /api/orders answered 201 with its order.
void metric_rules(benchmark::State& state) {
    const bool body = state.range(0) == 0;
    const std::string status_rule = R"(
    - name: orders_by_status_total
      type: counter
      match: {routes: [/api/orders]}
      labels:
        status: {from: status, map: {"201": created, "200": ok}, other: other}
)";
    const std::string body_rules = R"(
    - name: orders_created_total
      type: counter
      match: {routes: [/api/orders], methods: [POST]}
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
        status: {from: status_class, map: {2xx: success, 4xx: rejected, 5xx: failed}}
    - name: order_value_usd
      type: histogram
      buckets: [10, 50, 100, 500, 1000, 5000, 10000]
      match: {routes: [/api/orders], methods: [POST], status: [2xx]}
      value: "response:/total"
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
)";
    std::shared_ptr<const config::config> cfg = config::load_string(
        "upstream: {address: 127.0.0.1:3000}\nroutes: [POST /api/orders]\nmetrics:\n  rules:" +
            (body ? body_rules + status_rule : status_rule),
        "bench.yaml");
    const auto table = routes::routing::build_table(*cfg);
    const routes::routing routing(*cfg, table);
    auto rules = std::make_shared<const rules::metric_rules>(cfg, std::vector{table});
    agent::business_metrics business;
    business.install(rules);
    routes::request_record r;
    r.method_id = routes::http_method::post;
    r.route = routing.resolve(r.method_id, "/api/orders");
    r.route_label = routing.label(r.route);
    r.route_configured = true;
    r.status = 201;
    if (body)
        r.response_body =
            R"({"id":"ord_7f3a","total":123.45,"currency":"USD","platform":"web",)"
            R"("items":[{"sku":"lamp","qty":1,"price":123.45}],"created_at":"2026-12-06T05:00:00Z"})";
    for (auto _ : state) business.on_request(r);
}
BENCHMARK(metric_rules)->Arg(0)->Arg(1)->ArgName("orders_0_status_only_1");

// An ORM's query: quoted, schema-qualified names, a parameter; `id` makes it a distinct shape
// (a column alias of its own), `limit` a distinct text of the same shape.
std::string orm_query(int id, int limit = 20) {
    return "SELECT \"orders\".\"id\", \"orders\".\"customer_id\", \"orders\".\"total\", "
           "\"orders\".\"created_at\" AS c" +
           std::to_string(id) +
           " FROM \"public\".\"orders\" WHERE \"orders\".\"customer_id\" = $1 ORDER BY "
           "\"orders\".\"created_at\" DESC LIMIT " +
           std::to_string(limit);
}

// Looks `texts` up in turn, round and round, through `cache`.
void look_up(benchmark::State& state, dbproxy::statement_cache& cache,
             const std::vector<std::string>& texts) {
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(cache.statements(texts[i]).data());
        i = (i + 1) % texts.size();
    }
    state.counters["misses"] = static_cast<double>(cache.misses());
}

// 4,096 distinct shapes through a cache of 1,024: every lookup lexes and evicts.
void statement_miss(benchmark::State& state) {
    std::vector<std::string> texts;
    for (int i = 0; i < 4096; ++i) texts.push_back(orm_query(i));
    dbproxy::statement_cache cache;
    look_up(state, cache, texts);
}
BENCHMARK(statement_miss);

// 1,024 hot texts in a full cache of 1,024: every lookup is a hit (the text's shape, its hash,
// a comparison, a list splice). With one entry, libstdc++ would compare instead of hashing.
void statement_hit(benchmark::State& state) {
    std::vector<std::string> texts;
    for (int i = 0; i < 1024; ++i) texts.push_back(orm_query(i));
    dbproxy::statement_cache cache;
    for (const auto& t : texts) cache.statements(t);
    look_up(state, cache, texts);
}
BENCHMARK(statement_hit);

// 4,096 texts of one shape, a value inlined (LIMIT n): each is new, and found by its shape.
void statement_inlined(benchmark::State& state) {
    std::vector<std::string> texts;
    for (int i = 0; i < 4096; ++i) texts.push_back(orm_query(0, i));
    dbproxy::statement_cache cache;
    look_up(state, cache, texts);
}
BENCHMARK(statement_inlined);

}  // namespace

BENCHMARK_MAIN();
