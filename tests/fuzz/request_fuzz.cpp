// libFuzzer target over sidelight's request path, without sockets: raw bytes -> the byte-level
// head check -> Beast's request parser (limits as the proxy sets them) with the body streamed
// through a fixed buffer -> the header rewrites -> the serialized header sent to the app, plus
// the route table on the target. Besides crashes, leaks and UB, it checks the invariants the
// smuggling defense promises, and aborts when one breaks:
//  - whatever the head check accepts, Beast parses to one framing (never chunked + length);
//  - the header sidelight would send to the app passes the same head check again and ends at
//    its one and only CRLFCRLF (nothing a client sent can split it into two requests);
//  - the differential oracle: what sidelight would send to the app for a complete request (head,
//    then the body as relay_message frames it) is read by a lenient, naive parser
//    (tests/support/lenient_http.hpp) as exactly one request, every byte consumed, with the
//    method, target and body that Beast parsed; with tracing on, also exactly one traceparent
//    (sidelight's), whatever trace context fields the client sent.
// Every input runs twice: tracing off, and on with every request sampled.
// Built only with clang and -DSIDELIGHT_FUZZ=ON; run it with scripts/fuzz.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "proxy/header_check.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/http_head.hpp"
#include "routes/method.hpp"
#include "routes/route_table.hpp"
#include "tests/support/lenient_http.hpp"
#include "util/trace_context.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using namespace sidelight;

constexpr std::size_t max_header_bytes = 8 * 1024;
constexpr std::uint64_t max_body_bytes = 64 * 1024;

[[noreturn]] void invariant_broken(const char* what, std::string_view detail) {
    std::fprintf(stderr, "invariant broken: %s\n%.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

const routes::route_table& route_table() {
    static const auto table = [] {
        std::vector<config::route_spec> specs = {
            {"/api/products/{id}", {"GET", "PUT"}, "product", {}},
            {"/api/orders/:order/items/{*rest}", {}, "items", {}},
            {"/api/users/{user}/orders/{order}", {"GET"}, "", {}},
            {"/", {"GET"}, "root", {}},
        };
        return routes::route_table::build({}, specs);
    }();
    return *table;
}

using request_parser = http::request_parser<http::buffer_body, proxy::field_allocator<char>>;

// The header serialized as the proxy writes it to the app.
std::string serialize_header(const http::request<http::buffer_body, proxy::fields>& req,
                             std::string_view extra) {
    std::string out;
    proxy::append_head(out, req.base(), extra);
    return out;
}

// Streams what follows the head through the parser the way relay_message does, keeping the
// body. True when the message completed.
bool parse_body(request_parser& rp, std::string_view rest, std::string& body) {
    char buf[512];
    beast::error_code ec;
    while (!rp.is_done() && !rest.empty()) {
        rp.get().body().data = buf;
        rp.get().body().size = sizeof buf;
        const auto used = rp.put(net::buffer(rest.data(), rest.size()), ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return false;
        body.append(buf, sizeof buf - rp.get().body().size);
        if (used == 0 && rp.get().body().size == sizeof buf) return false;  // needs more input
        rest.remove_prefix(used);
    }
    return rp.is_done();
}

// What the app reads after the head: the body, chunked anew with the trailers when it came
// chunked (relay_message), as it is otherwise.
std::string forwarded_body(const http::request<http::buffer_body, proxy::fields>& req,
                           std::size_t head_fields, const std::string& body) {
    if (!req.chunked()) return body;
    std::string out;
    if (!body.empty()) {
        proxy::append_chunk_size(out, body.size());
        out += body;
        out += "\r\n";
    }
    proxy::append_last_chunk(out, req, head_fields);
    return out;
}

void check_differential(const http::request<http::buffer_body, proxy::fields>& req,
                        const std::string& forwarded, const std::string& body, bool tracing_on) {
    std::string_view wire(forwarded);
    sidelight::test::lenient_request seen;
    if (sidelight::test::parse_lenient(wire, seen) != sidelight::test::lenient_status::complete)
        invariant_broken("a lenient app does not read one whole request", forwarded);
    if (!wire.empty()) invariant_broken("a lenient app reads a second request", forwarded);
    if (seen.method != req.method_string() || seen.target != req.target())
        invariant_broken("a lenient app reads another method or target", forwarded);
    if (seen.body != body) invariant_broken("a lenient app reads another body", forwarded);
    if (tracing_on) {
        const auto tp = seen.values("traceparent");
        if (tp.size() != 1 || tp.front().size() != 55)
            invariant_broken("tracing on, the app does not get exactly one traceparent", forwarded);
    }
}

const config::tracing_config& tracing_config() {
    static const auto cfg = [] {
        config::tracing_config t;
        t.enabled = true;
        t.sampler = config::trace_sampler::always;
        return t;
    }();
    return cfg;
}

// One request as the proxy handles it, with tracing off or on (every input goes both ways).
void run(std::string_view in, bool tracing) {
    const auto end = in.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > max_header_bytes) return;
    const auto head = in.substr(0, end + 4);
    const proxy::head_limits limits{1024, 50};
    if (proxy::check_request_head(head, limits).verdict != proxy::head_verdict::ok) return;

    request_parser rp;
    rp.header_limit(static_cast<std::uint32_t>(head.size() + 1));
    rp.body_limit(max_body_bytes);
    beast::error_code ec;
    const auto used = rp.put(net::buffer(head.data(), head.size()), ec);
    if (ec || !rp.is_header_done()) return;
    if (rp.chunked() && rp.content_length())
        invariant_broken("accepted head parses as chunked and with a length", head);

    auto& req = rp.get();
    routes::param_list params;
    (void)route_table().match(routes::parse_method(req.method_string()), req.target(), &params);

    const bool chunked = rp.chunked();
    proxy::request_origin origin;
    if (!proxy::strip_request(req, origin, proxy::rewrite_mode::forwarding, tracing))
        invariant_broken("accepted head has a Connection option naming a protected field", head);
    std::string extra, request_id;
    proxy::choose_request_id(origin, request_id);
    proxy::append_forwarded(extra, origin, "127.0.0.1", request_id, "app:3000");
    if (tracing) {
        util::trace_context trace;
        proxy::begin_trace(origin, tracing_config(), trace);
        proxy::append_trace(extra, trace, origin);
    }
    req.version(11);
    if (chunked) req.chunked(true);
    const std::size_t head_fields = static_cast<std::size_t>(std::distance(req.begin(), req.end()));
    const auto out = serialize_header(req, extra);
    if (out.find("\r\n\r\n") != out.size() - 4)
        invariant_broken("forwarded header does not end at its only CRLFCRLF", out);
    const proxy::head_limits relaxed{1024, 1000};
    if (const auto r = proxy::check_request_head(out, relaxed);
        r.verdict != proxy::head_verdict::ok)
        invariant_broken("forwarded header fails the head check", out);

    std::string body;
    if (parse_body(rp, in.substr(used), body))
        check_differential(req, out + forwarded_body(req, head_fields, body), body, tracing);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (in.starts_with("\r\n")) in.remove_prefix(2);  // leading empty lines, as read_head
    run(in, false);
    run(in, true);
    return 0;
}
