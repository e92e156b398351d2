#include "agent/otlp.hpp"

#include <algorithm>

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

// One span's worth of what both encodings write.
struct attribute {
    const char* key;
    std::string text;  // a string value, or
    std::int64_t number = 0;
    bool is_number = false;
};

struct span_view {
    const util::span_id* id;
    const util::span_id* parent;  // nullptr: none
    std::string name;
    int kind;
    std::uint64_t start_ns, end_ns;
    std::vector<attribute> attributes;
    int status;
};

std::vector<span_view> views(const span_pair& p) {
    std::vector<span_view> out;
    const std::string name = p.method + " " + p.route;
    span_view server{&p.server_span,
                     all_zero(p.parent) ? nullptr : &p.parent,
                     name,
                     span_kind_server,
                     p.start_ns,
                     p.end_ns,
                     {},
                     status_unset};
    server.attributes.push_back({"http.request.method", p.method});
    server.attributes.push_back({"http.route", p.route});
    server.attributes.push_back({"url.path", p.path});
    server.attributes.push_back({"url.scheme", "http"});
    server.attributes.push_back({"network.peer.address", p.peer});
    if (p.status) server.attributes.push_back({"http.response.status_code", {}, p.status, true});
    if (!p.error_type.empty()) server.attributes.push_back({"error.type", p.error_type});
    // Server spans: a 5xx is an error, a 4xx is the client's (OpenTelemetry HTTP conventions).
    if (p.status >= 500) server.status = status_error;
    out.push_back(std::move(server));
    if (p.upstream_start_ns) {
        span_view client{&p.client_span,
                         &p.server_span,
                         name,
                         span_kind_client,
                         p.upstream_start_ns,
                         std::max(p.upstream_end_ns, p.upstream_start_ns),
                         {},
                         status_unset};
        client.attributes.push_back({"http.request.method", p.method});
        client.attributes.push_back({"server.address", p.upstream_host});
        client.attributes.push_back({"server.port", {}, p.upstream_port, true});
        if (p.status && p.error_type.empty())
            client.attributes.push_back({"http.response.status_code", {}, p.status, true});
        if (!p.error_type.empty()) client.attributes.push_back({"error.type", p.error_type});
        if (p.status >= 400 || !p.error_type.empty()) client.status = status_error;
        out.push_back(std::move(client));
    }
    return out;
}

// --- protobuf: varints, length-delimited fields, fixed64 -------------------------------

void varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}
void tag(std::string& out, int field, int wire) {
    varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<unsigned>(wire));
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
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
template <std::size_t N>
std::string_view id_bytes(const std::array<std::uint8_t, N>& id) {
    return {reinterpret_cast<const char*>(id.data()), N};
}

// KeyValue{key = 1, value = 2: AnyValue{string_value = 1 | int_value = 3}}
std::string key_value(const attribute& a) {
    std::string value;
    if (a.is_number)
        varint_field(value, 3, static_cast<std::uint64_t>(a.number));
    else
        bytes_field(value, 1, a.text);
    std::string kv;
    bytes_field(kv, 1, a.key);
    bytes_field(kv, 2, value);
    return kv;
}

std::string resource_pb(const otlp_resource& r) {
    std::string out;
    bytes_field(out, 1, key_value({"service.name", r.service_name}));
    bytes_field(out, 1, key_value({"service.version", r.service_version}));
    bytes_field(out, 1, key_value({"telemetry.sdk.name", "sidelight"}));
    bytes_field(out, 1, key_value({"telemetry.sdk.language", "cpp"}));
    return out;
}

std::string span_pb(const span_pair& p, const span_view& s) {
    std::string out;
    bytes_field(out, 1, id_bytes(p.trace));
    bytes_field(out, 2, id_bytes(*s.id));
    if (s.parent) bytes_field(out, 4, id_bytes(*s.parent));
    bytes_field(out, 5, s.name);
    varint_field(out, 6, static_cast<std::uint64_t>(s.kind));
    fixed64_field(out, 7, s.start_ns);
    fixed64_field(out, 8, s.end_ns);
    for (const auto& a : s.attributes) bytes_field(out, 9, key_value(a));
    if (s.status != status_unset) {
        std::string status;
        varint_field(status, 3, static_cast<std::uint64_t>(s.status));
        bytes_field(out, 15, status);
    }
    return out;
}

// --- JSON --------------------------------------------------------------------------------

void json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    util::append_json_escaped(out, text);
    out.push_back('"');
}

void json_attributes(std::string& out, const std::vector<attribute>& attributes) {
    out += "\"attributes\":[";
    for (std::size_t i = 0; i < attributes.size(); ++i) {
        const auto& a = attributes[i];
        if (i) out.push_back(',');
        out += "{\"key\":";
        json_string(out, a.key);
        if (a.is_number) {
            out += ",\"value\":{\"intValue\":\"" + std::to_string(a.number) + "\"}}";
        } else {
            out += ",\"value\":{\"stringValue\":";
            json_string(out, a.text);
            out += "}}";
        }
    }
    out.push_back(']');
}

template <std::size_t N>
void json_id(std::string& out, const char* key, const std::array<std::uint8_t, N>& id) {
    out += '"';
    out += key;
    out += "\":\"";
    util::append_hex(out, id.data(), N);
    out += '"';
}

}  // namespace

std::string encode_protobuf(const otlp_resource& resource, const std::vector<span_pair>& spans) {
    std::string scope;
    {
        std::string is;  // InstrumentationScope{name = 1, version = 2}
        bytes_field(is, 1, "sidelight");
        bytes_field(is, 2, resource.service_version);
        bytes_field(scope, 1, is);
    }
    for (const auto& p : spans)
        for (const auto& s : views(p)) bytes_field(scope, 2, span_pb(p, s));
    std::string rs;  // ResourceSpans{resource = 1, scope_spans = 2}
    bytes_field(rs, 1, resource_pb(resource));
    bytes_field(rs, 2, scope);
    std::string out;  // ExportTraceServiceRequest{resource_spans = 1}
    bytes_field(out, 1, rs);
    return out;
}

std::string encode_json(const otlp_resource& resource, const std::vector<span_pair>& spans) {
    std::string out = "{\"resourceSpans\":[{\"resource\":{";
    json_attributes(out, {{"service.name", resource.service_name},
                          {"service.version", resource.service_version},
                          {"telemetry.sdk.name", "sidelight"},
                          {"telemetry.sdk.language", "cpp"}});
    out += "},\"scopeSpans\":[{\"scope\":{\"name\":\"sidelight\",\"version\":";
    json_string(out, resource.service_version);
    out += "},\"spans\":[";
    bool first = true;
    for (const auto& p : spans) {
        for (const auto& s : views(p)) {
            if (!first) out.push_back(',');
            first = false;
            out.push_back('{');
            json_id(out, "traceId", p.trace);
            out.push_back(',');
            json_id(out, "spanId", *s.id);
            if (s.parent) {
                out.push_back(',');
                json_id(out, "parentSpanId", *s.parent);
            }
            out += ",\"name\":";
            json_string(out, s.name);
            out += ",\"kind\":" + std::to_string(s.kind);
            out += ",\"startTimeUnixNano\":\"" + std::to_string(s.start_ns) + "\"";
            out += ",\"endTimeUnixNano\":\"" + std::to_string(s.end_ns) + "\",";
            json_attributes(out, s.attributes);
            out += ",\"status\":{\"code\":" + std::to_string(s.status) + "}}";
        }
    }
    out += "]}]}]}";
    return out;
}

}  // namespace sidelight::agent
