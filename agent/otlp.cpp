#include "agent/otlp.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <boost/json/parse.hpp>

#include "util/json_escape.hpp"

namespace sidelight::agent {
namespace {

constexpr int span_kind_server = 2;
constexpr int span_kind_client = 3;
constexpr int status_unset = 0;
constexpr int status_error = 2;

bool all_zero(const util::span_id& id) {
    return std::all_of(id.begin(), id.end(), [](std::uint8_t b) { return b == 0; });
}

// error.type of a span whose response had `status` (0: none): the failure's label, else the
// status code as text for a 5xx, or a 4xx when `four_xx` (client spans: the OpenTelemetry HTTP
// conventions count a 4xx as the client's error, not the server's); empty: no error.
std::string_view error_of(const span_pair& p, int status, bool four_xx, char (&buf)[8]) {
    if (!p.error_type.empty()) return p.error_type;
    if (status >= 500 || (four_xx && status >= 400)) {
        const auto r = std::to_chars(buf, buf + sizeof buf, status);
        return {buf, static_cast<std::size_t>(r.ptr - buf)};
    }
    return {};
}

// What both encodings write, told to a sink span by span, without building anything in
// between: a sampled request costs its encoding, not a tree of temporary strings.
//   sink.begin(trace, id, parent (nullptr: none), method, route ("": none), kind, start, end)
//   sink.attr(key, string_view) / sink.attr(key, std::int64_t)
//   sink.end(status)
template <class Sink>
void describe(const span_pair& p, Sink& sink) {
    char buf[8];
    sink.begin(p.trace, p.server_span, all_zero(p.parent) ? nullptr : &p.parent, p.method, p.route,
               span_kind_server, p.start_ns, p.end_ns);
    sink.attr("http.request.method", p.method);
    if (!p.route.empty()) sink.attr("http.route", p.route);
    sink.attr("url.path", p.path);
    sink.attr("url.scheme", "http");
    sink.attr("network.peer.address", p.peer);
    if (p.status) sink.attr("http.response.status_code", std::int64_t{p.status});
    // Server spans: a 5xx or a failure is an error, a 4xx is the client's.
    auto error = error_of(p, p.status, false, buf);
    if (!error.empty()) sink.attr("error.type", error);
    sink.end(error.empty() ? status_unset : status_error);
    if (!p.upstream_start_ns) return;  // the app was never reached
    sink.begin(p.trace, p.client_span, &p.server_span, p.method, p.route, span_kind_client,
               p.upstream_start_ns, std::max(p.upstream_end_ns, p.upstream_start_ns));
    sink.attr("http.request.method", p.method);
    sink.attr("server.address", p.upstream_host);
    sink.attr("server.port", std::int64_t{p.upstream_port});
    if (p.upstream_status) sink.attr("http.response.status_code", std::int64_t{p.upstream_status});
    // Client spans: a 4xx, a 5xx or a failure is an error.
    error = error_of(p, p.upstream_status, true, buf);
    if (!error.empty()) sink.attr("error.type", error);
    sink.end(error.empty() ? status_unset : status_error);
}

// --- protobuf: varints, length-delimited fields, fixed64 -------------------------------

std::size_t varint_size(std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}
void varint(std::string& out, std::uint64_t v) {
    if (v < 0x80) {  // most lengths and every enum here: one byte
        out.push_back(static_cast<char>(v));
        return;
    }
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
        buf[n++] = static_cast<char>(v | 0x80);
        v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out.append(buf, n);
}
// The fields written here are all below 16: a tag is one byte.
void tag(std::string& out, int field, int wire) {
    out.push_back(static_cast<char>(field << 3 | wire));
}
// A length-delimited field's size on the wire, tag included (fields below 16: one byte).
std::size_t delimited_size(std::size_t n) {
    return 1 + varint_size(n) + n;
}
void bytes_field(std::string& out, int field, std::string_view bytes) {
    tag(out, field, 2);
    varint(out, bytes.size());
    out.append(bytes);
}
void varint_field(std::string& out, int field, std::uint64_t v) {
    tag(out, field, 0);
    varint(out, v);
}
void fixed64_field(std::string& out, int field, std::uint64_t v) {
    tag(out, field, 1);
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out.append(buf, 8);
}
template <std::size_t N>
std::string_view id_bytes(const std::array<std::uint8_t, N>& id) {
    return {reinterpret_cast<const char*>(id.data()), N};
}

// KeyValue{key = 1, value = 2: AnyValue{string_value = 1 | int_value = 3}}, as field `field`
// of the enclosing message, with its sizes computed rather than built apart.
void key_value(std::string& out, int field, std::string_view key, std::string_view text) {
    const std::size_t any = delimited_size(text.size());
    tag(out, field, 2);
    varint(out, delimited_size(key.size()) + delimited_size(any));
    bytes_field(out, 1, key);
    tag(out, 2, 2);
    varint(out, any);
    bytes_field(out, 1, text);
}
void key_value(std::string& out, int field, std::string_view key, std::int64_t number) {
    const auto v = static_cast<std::uint64_t>(number);
    const std::size_t any = 1 + varint_size(v);
    tag(out, field, 2);
    varint(out, delimited_size(key.size()) + delimited_size(any));
    bytes_field(out, 1, key);
    tag(out, 2, 2);
    varint(out, any);
    varint_field(out, 3, v);
}

// Spans into a ScopeSpans body (field 2 each); one span at a time in a reused buffer, since
// its length precedes it.
struct protobuf_sink {
    std::string& scope;
    std::string span;

    void begin(const util::trace_id& trace, const util::span_id& id, const util::span_id* parent,
               std::string_view method, std::string_view route, int kind, std::uint64_t start,
               std::uint64_t end) {
        span.clear();
        bytes_field(span, 1, id_bytes(trace));
        bytes_field(span, 2, id_bytes(id));
        if (parent) bytes_field(span, 4, id_bytes(*parent));
        tag(span, 5, 2);  // name: "<METHOD> <route>", or "<METHOD>" without a route
        varint(span, method.size() + (route.empty() ? 0 : 1 + route.size()));
        span.append(method);
        if (!route.empty()) span.append(1, ' ').append(route);
        varint_field(span, 6, static_cast<std::uint64_t>(kind));
        fixed64_field(span, 7, start);
        fixed64_field(span, 8, end);
    }
    void attr(std::string_view key, std::string_view text) { key_value(span, 9, key, text); }
    void attr(std::string_view key, std::int64_t number) { key_value(span, 9, key, number); }
    void end(int status) {
        if (status != status_unset) {  // Status{code = 3}
            tag(span, 15, 2);
            varint(span, 1 + varint_size(static_cast<std::uint64_t>(status)));
            varint_field(span, 3, static_cast<std::uint64_t>(status));
        }
        bytes_field(scope, 2, span);
    }
};

void resource_attributes_pb(std::string& out, const otlp_resource& r) {
    key_value(out, 1, "service.name", r.service_name);
    key_value(out, 1, "service.version", r.service_version);
    key_value(out, 1, "telemetry.sdk.name", "sidelight");
    key_value(out, 1, "telemetry.sdk.language", "cpp");
}

// --- JSON --------------------------------------------------------------------------------

void json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    util::append_json_escaped(out, text);
    out.push_back('"');
}

template <std::size_t N>
void json_id(std::string& out, const char* key, const std::array<std::uint8_t, N>& id) {
    out += '"';
    out += key;
    out += "\":\"";
    util::append_hex(out, id.data(), N);
    out += '"';
}

struct json_sink {
    std::string& out;
    bool first_span = true;
    bool first_attr = true;

    void begin(const util::trace_id& trace, const util::span_id& id, const util::span_id* parent,
               std::string_view method, std::string_view route, int kind, std::uint64_t start,
               std::uint64_t end) {
        if (!first_span) out.push_back(',');
        first_span = false;
        out.push_back('{');
        json_id(out, "traceId", trace);
        out.push_back(',');
        json_id(out, "spanId", id);
        if (parent) {
            out.push_back(',');
            json_id(out, "parentSpanId", *parent);
        }
        out += ",\"name\":\"";
        util::append_json_escaped(out, method);
        if (!route.empty()) {
            out.push_back(' ');
            util::append_json_escaped(out, route);
        }
        out += "\",\"kind\":" + std::to_string(kind);
        out += ",\"startTimeUnixNano\":\"" + std::to_string(start) + "\"";
        out += ",\"endTimeUnixNano\":\"" + std::to_string(end) + "\",\"attributes\":[";
        first_attr = true;
    }
    void key(std::string_view k) {
        if (!first_attr) out.push_back(',');
        first_attr = false;
        out += "{\"key\":";
        json_string(out, k);
    }
    void attr(std::string_view k, std::string_view text) {
        key(k);
        out += ",\"value\":{\"stringValue\":";
        json_string(out, text);
        out += "}}";
    }
    void attr(std::string_view k, std::int64_t number) {
        key(k);
        out += ",\"value\":{\"intValue\":\"" + std::to_string(number) + "\"}}";
    }
    void end(int status) { out += "],\"status\":{\"code\":" + std::to_string(status) + "}}"; }
};

}  // namespace

std::string encode_protobuf(const otlp_resource& resource, const std::vector<span_pair>& spans) {
    std::string
        scope;  // ScopeSpans{scope = 1: InstrumentationScope{name = 1, version = 2}, spans = 2}
    scope.reserve(spans.size() * 600);
    tag(scope, 1, 2);
    varint(scope, delimited_size(9) + delimited_size(resource.service_version.size()));
    bytes_field(scope, 1, "sidelight");
    bytes_field(scope, 2, resource.service_version);
    protobuf_sink sink{scope, {}};
    sink.span.reserve(512);
    for (const auto& p : spans) describe(p, sink);
    std::string res;  // Resource{attributes = 1}
    resource_attributes_pb(res, resource);
    std::string rs;  // ResourceSpans{resource = 1, scope_spans = 2}
    rs.reserve(scope.size() + res.size() + 16);
    bytes_field(rs, 1, res);
    bytes_field(rs, 2, scope);
    std::string out;  // ExportTraceServiceRequest{resource_spans = 1}
    out.reserve(rs.size() + 8);
    bytes_field(out, 1, rs);
    return out;
}

std::string encode_json(const otlp_resource& resource, const std::vector<span_pair>& spans) {
    std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
    json_sink sink{out};
    sink.attr("service.name", resource.service_name);
    sink.attr("service.version", resource.service_version);
    sink.attr("telemetry.sdk.name", "sidelight");
    sink.attr("telemetry.sdk.language", "cpp");
    out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"sidelight\",\"version\":";
    json_string(out, resource.service_version);
    out += "},\"spans\":[";
    for (const auto& p : spans) describe(p, sink);
    out += "]}]}]}";
    return out;
}

namespace {

// A protobuf varint at `at`, or nullopt past the end or beyond 10 bytes.
std::optional<std::uint64_t> read_varint(std::string_view b, std::size_t& at) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 70 && at < b.size(); shift += 7) {
        const auto byte = static_cast<std::uint8_t>(b[at++]);
        v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) return v;
    }
    return std::nullopt;
}

// Calls f(field, wire_type, varint value, bytes) for each field of the message `b`; false when
// it is not a well-formed message.
template <class F>
bool each_field(std::string_view b, F&& f) {
    for (std::size_t at = 0; at < b.size();) {
        const auto key = read_varint(b, at);
        if (!key) return false;
        const auto field = *key >> 3;
        const auto wire = *key & 7;
        std::uint64_t value = 0;
        std::string_view bytes;
        if (wire == 0) {
            const auto v = read_varint(b, at);
            if (!v) return false;
            value = *v;
        } else if (wire == 1 || wire == 5) {
            const std::size_t n = wire == 1 ? 8 : 4;
            if (b.size() - at < n) return false;
            at += n;
        } else if (wire == 2) {
            const auto n = read_varint(b, at);
            if (!n || *n > b.size() - at) return false;
            bytes = b.substr(at, *n);
            at += *n;
        } else {
            return false;
        }
        f(field, wire, value, bytes);
    }
    return true;
}

}  // namespace

otlp_partial_success decode_partial_success(std::string_view body, bool json) {
    otlp_partial_success out;
    if (json) {
        boost::system::error_code ec;
        const auto doc = boost::json::parse(body, ec);
        const auto* root = ec ? nullptr : doc.if_object();
        const auto* ps = root ? root->if_contains("partialSuccess") : nullptr;
        const auto* o = ps ? ps->if_object() : nullptr;
        if (!o) return out;
        if (const auto* r = o->if_contains("rejectedSpans")) {  // int64: a string in OTLP/JSON
            if (r->is_int64()) out.rejected_spans = r->as_int64();
            if (r->is_uint64()) out.rejected_spans = static_cast<std::int64_t>(r->as_uint64());
            if (r->is_string()) {
                const auto& t = r->as_string();
                std::from_chars(t.data(), t.data() + t.size(), out.rejected_spans);
            }
        }
        if (const auto* m = o->if_contains("errorMessage"); m && m->is_string())
            out.error_message = m->as_string();
    } else {
        otlp_partial_success found;
        const bool ok = each_field(body, [&](std::uint64_t field, std::uint64_t wire, std::uint64_t,
                                             std::string_view bytes) {
            if (field != 1 || wire != 2) return;  // partial_success
            each_field(bytes,
                       [&](std::uint64_t f, std::uint64_t w, std::uint64_t v, std::string_view b) {
                           if (f == 1 && w == 0)
                               found.rejected_spans = static_cast<std::int64_t>(v);
                           if (f == 2 && w == 2) found.error_message = b;
                       });
        });
        if (ok) out = std::move(found);
    }
    if (out.rejected_spans < 0) out.rejected_spans = 0;
    return out;
}

}  // namespace sidelight::agent
