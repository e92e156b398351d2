// `tracing`: W3C trace context and OTLP/HTTP span export (docs/TRACING.md).
#include <algorithm>
#include <charconv>
#include <cmath>

#include "config/yaml_walk.hpp"

namespace sidelight::config {

std::string_view to_string(trace_sampler s) {
    switch (s) {
        case trace_sampler::parent_based:
            return "parent-based";
        case trace_sampler::always:
            return "always";
        case trace_sampler::never:
            return "never";
        case trace_sampler::ratio:
            return "ratio";
    }
    return "parent-based";
}

std::string redact_endpoint(std::string_view url) {
    std::string out(url);
    // userinfo: between the scheme's "//" and the last '@' before the path.
    const auto start = out.find("//");
    if (start != std::string::npos) {
        const auto end = std::min(out.find_first_of("/?#", start + 2), out.size());
        const auto at = out.rfind('@', end == 0 ? 0 : end - 1);
        if (at != std::string::npos && at > start + 1)
            out.replace(start + 2, at - start - 2, "***");
    }
    // Every query value, up to the fragment.
    const auto query = out.find('?');
    if (query == std::string::npos) return out;
    std::string redacted = out.substr(0, query + 1);
    const auto fragment = std::min(out.find('#', query), out.size());
    std::string_view q(out.data() + query + 1, fragment - query - 1);
    bool first = true;
    while (true) {
        const auto amp = q.find('&');
        const auto pair = q.substr(0, amp);
        if (!first) redacted += '&';
        first = false;
        const auto eq = pair.find('=');
        redacted += eq == std::string_view::npos ? pair : pair.substr(0, eq + 1);
        if (eq != std::string_view::npos) redacted += "***";
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return redacted + out.substr(fragment);
}

namespace detail {
namespace {

// 0.25 or 25%.
double parse_ratio(const node_ref& n) {
    std::string text = n.scalar();
    const bool percent = !text.empty() && text.back() == '%';
    const char* last = text.data() + text.size() - (percent ? 1 : 0);
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), last, value);
    if (ec != std::errc{} || end != last || text.size() == (percent ? 1u : 0u) ||
        !std::isfinite(value))
        n.fail("expected a ratio like 0.1 or 10%, got \"" + text + "\"");
    if (percent) value /= 100;
    if (value < 0 || value > 1) n.fail("must be between 0 and 1 (0% and 100%)");
    return value;
}

// http://HOST:PORT[/PATH]. No TLS: the exporter speaks plain HTTP, to a collector beside it.
// The refusals quote the endpoint redacted (redact_endpoint): never a password or a query value.
void parse_endpoint(const node_ref& n, otlp_config& out) {
    out.endpoint = to_string(n);
    if (out.endpoint.empty()) return;
    constexpr std::string_view scheme = "http://";
    const auto shown = "\"" + redact_endpoint(out.endpoint) + "\"";
    if (out.endpoint.starts_with("https://"))
        n.fail("https is not supported: export to a collector on the pod or node over http://");
    if (!out.endpoint.starts_with(scheme)) n.fail("expected http://HOST:PORT[/PATH], got " + shown);
    const std::string rest = out.endpoint.substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    if (authority.find('@') != std::string::npos)
        n.fail(
            "credentials in the URL are not supported (the exporter sends no Authorization "
            "header): export to a collector on the pod or node, got " +
            shown);
    const auto target = parse_address(authority);
    if (!target || target->port == 0 || target->host.empty())
        n.fail("expected http://HOST:PORT[/PATH] with a port, got " + shown);
    out.target = *target;
    out.path =
        slash == std::string::npos || rest.size() == slash + 1 ? "/v1/traces" : rest.substr(slash);
    for (char c : out.path)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
            n.fail("the endpoint's path must not contain spaces or control characters");
}

otlp_config parse_otlp(const node_ref& n) {
    map_reader m(n,
                 {"endpoint", "encoding", "timeout", "queue_size", "batch_max", "batch_interval"});
    otlp_config out;
    if (auto v = m.get("endpoint")) parse_endpoint(*v, out);
    if (auto v = m.get("encoding"))
        out.encoding = to_choice(*v, {"protobuf", "json"}) == "json" ? otlp_encoding::json
                                                                     : otlp_encoding::protobuf;
    if (auto v = m.get("timeout")) out.timeout = to_duration(*v, false);
    if (auto v = m.get("queue_size")) out.queue_size = to_uint(*v, 1, 1'000'000);
    if (auto v = m.get("batch_max")) out.batch_max = to_uint(*v, 1, 100'000);
    if (auto v = m.get("batch_interval")) out.batch_interval = to_duration(*v, false);
    return out;
}

}  // namespace

tracing_config parse_tracing(const node_ref& n) {
    map_reader m(n, {"enabled", "service_name", "sampler", "ratio", "otlp"});
    tracing_config out;
    if (auto v = m.get("enabled")) out.enabled = to_bool(*v);
    if (auto v = m.get("service_name")) out.service_name = to_nonempty_string(*v);
    if (auto v = m.get("sampler")) {
        const auto s = to_choice(*v, {"parent-based", "always", "never", "ratio"});
        out.sampler = s == "always"  ? trace_sampler::always
                      : s == "never" ? trace_sampler::never
                      : s == "ratio" ? trace_sampler::ratio
                                     : trace_sampler::parent_based;
    }
    if (auto v = m.get("ratio")) out.ratio = parse_ratio(*v);
    if (auto v = m.get("otlp")) out.otlp = parse_otlp(*v);
    return out;
}

}  // namespace detail
}  // namespace sidelight::config
