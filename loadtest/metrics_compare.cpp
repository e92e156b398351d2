// Scraping sidelight's /metrics and comparing its route figures with the client's
// (metrics_compare.hpp).
#include "loadtest/metrics_compare.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

#include "loadtest/response_parser.hpp"
#include "loadtest/target_addresses.hpp"

namespace sidelight::loadtest {
namespace {

// The method label sidelight gives a request (routes/method.cpp): the nine standard methods as
// written, anything else (PURGE, a lower-case get) "_OTHER". The plan's methods are compared in
// the same spelling.
std::string_view server_method_label(std::string_view method) {
    for (std::string_view m :
         {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
        if (method == m) return m;
    return "_OTHER";
}

struct url_parts {
    std::string host, port = "80", path = "/";
};

std::optional<url_parts> split_url(const std::string& url) {
    if (!url.starts_with("http://")) return std::nullopt;
    std::string rest = url.substr(7);
    url_parts u;
    const auto slash = rest.find('/');
    if (slash != std::string::npos) u.path = rest.substr(slash), rest.resize(slash);
    const auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']', colon) == std::string::npos)
        u.port = rest.substr(colon + 1), rest.resize(colon);
    if (rest.starts_with('[') && rest.ends_with(']')) rest = rest.substr(1, rest.size() - 2);
    u.host = rest;
    if (u.host.empty()) return std::nullopt;
    return u;
}

int connect_to(const url_parts& u, std::string& error) {
    address_walk walk(resolve_addresses(u.host, u.port));
    if (walk.empty()) {
        error = "cannot resolve " + u.host;
        return -1;
    }
    const int fd = connect_walking(walk, std::chrono::seconds(5));
    if (fd < 0) error = "cannot connect: " + std::string(std::strerror(errno));
    return fd;
}

// The label's value in `{a="x",route="/p",...}`; label values here need no unescaping beyond \".
std::string label(const std::string& labels, const std::string& name) {
    const std::string key = name + "=\"";
    std::size_t at = labels.find(key);
    while (at != std::string::npos && at > 0 && labels[at - 1] != '{' && labels[at - 1] != ',')
        at = labels.find(key, at + 1);
    if (at == std::string::npos) return {};
    std::string value;
    for (std::size_t i = at + key.size(); i < labels.size() && labels[i] != '"'; ++i)
        value += labels[i] == '\\' && i + 1 < labels.size() ? labels[++i] : labels[i];
    return value;
}

double to_double(const std::string& text) {
    if (text == "+Inf") return std::numeric_limits<double>::infinity();
    return std::strtod(text.c_str(), nullptr);
}

// The bucket index of a value against the upper bounds.
std::size_t bucket_of(double value, const std::map<double, double>& buckets) {
    std::size_t i = 0;
    for (const auto& [le, count] : buckets) {
        if (value <= le) return i;
        ++i;
    }
    return i;
}

}  // namespace

std::optional<std::string> scrape(const std::string& url, std::string& error) {
    const auto u = split_url(url);
    if (!u) return error = "expected http://HOST:PORT/PATH", std::nullopt;
    const int fd = connect_to(*u, error);
    if (fd < 0) return std::nullopt;
    const std::string request = "GET " + u->path + " HTTP/1.1\r\nHost: " + u->host + ":" + u->port +
                                "\r\nConnection: close\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string body_and_head;
    char buf[16384];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        body_and_head.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    response_parser parser;
    const std::size_t head_len = body_and_head.find("\r\n\r\n");
    parser.feed(body_and_head.data(), body_and_head.size());
    parser.on_eof();
    if (!parser.done() || head_len == std::string::npos)
        return error = "no complete HTTP response from " + url, std::nullopt;
    if (parser.status() != 200)
        return error = url + " answered " + std::to_string(parser.status()), std::nullopt;
    if (body_and_head.find("Transfer-Encoding: chunked") != std::string::npos)
        return error = "chunked /metrics is not supported", std::nullopt;
    return body_and_head.substr(head_len + 4);
}

route_figures parse_route_figures(const std::string& text) {
    route_figures out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto brace = line.find('{'), close = line.rfind('}');
        if (brace == std::string::npos || close == std::string::npos) continue;
        const std::string name = line.substr(0, brace);
        const std::string labels = line.substr(brace, close - brace + 1);
        const double value = to_double(line.substr(close + 2));
        route_key key{label(labels, "method"), label(labels, "route")};
        if (key.route.empty()) continue;
        if (name.ends_with("api_requests_total"))
            out[key].requests += value;
        else if (name.ends_with("api_latency_ms_bucket") &&
                 !name.ends_with("upstream_latency_ms_bucket"))
            out[key].buckets[to_double(label(labels, "le"))] += value;
    }
    return out;
}

double bucket_quantile(double q, const std::map<double, double>& buckets) {
    if (buckets.empty()) return std::nan("");
    const double total = buckets.rbegin()->second;
    if (total <= 0) return std::nan("");
    const double rank = q * total;
    double lower = 0, below = 0, last_finite = 0;
    for (const auto& [le, count] : buckets) {
        if (std::isinf(le)) return last_finite;  // the rank is in +Inf: the last finite bound
        if (count >= rank) {
            const double in_bucket = count - below;
            return in_bucket > 0 ? lower + (le - lower) * (rank - below) / in_bucket : le;
        }
        lower = le, below = count, last_finite = le;
    }
    return last_finite;
}

bool path_matches_template(const std::string& path, const std::string& route) {
    std::string p = path.substr(0, path.find('?'));
    std::istringstream ps(p), rs(route);
    std::string a, b;
    for (;;) {
        const bool more_p = static_cast<bool>(std::getline(ps, a, '/'));
        const bool more_r = static_cast<bool>(std::getline(rs, b, '/'));
        if (!more_p || !more_r) return more_p == more_r;
        if (b == "*" || b == "**") return true;
        if (b.starts_with('{') || b.starts_with(':')) continue;
        if (a != b) return false;
    }
}

std::vector<route_comparison> compare(const route_figures& before, const route_figures& after,
                                      const std::vector<client_endpoint>& client) {
    std::vector<route_comparison> rows;
    for (const auto& [key, now] : after) {
        const auto was = before.find(key);
        route_comparison row{key.method, key.route};
        row.server_count = now.requests - (was == before.end() ? 0 : was->second.requests);
        if (row.server_count <= 0) continue;
        std::map<double, double> delta = now.buckets;
        if (was != before.end())
            for (const auto& [le, count] : was->second.buckets) delta[le] -= count;
        row.server_p95_ms = bucket_quantile(0.95, delta);
        histogram merged;
        // GET and POST on one template are two series on the server: the client's figures are
        // matched the same way, or the two would be summed against one of them.
        for (const auto& e : client)
            if (server_method_label(e.method) == key.method &&
                path_matches_template(e.path, key.route)) {
                row.client_count += e.responses;
                merged.add(e.latency);
            }
        row.client_p95_ms = static_cast<double>(merged.percentile(95)) / 1000.0;
        row.counts_agree = static_cast<double>(row.client_count) == row.server_count;
        const auto a = bucket_of(row.server_p95_ms, delta), b = bucket_of(row.client_p95_ms, delta);
        row.p95_agrees = (a > b ? a - b : b - a) <= 1;
        rows.push_back(row);
    }
    return rows;
}

std::string format_comparison(const std::vector<route_comparison>& rows) {
    std::string out = "server metrics vs client (count exact; p95 within one bucket)\n";
    // The route column is built as a string: a long template pushes its row out, not cut.
    const auto route_column = [](std::string text) {
        if (text.size() < 28) text.resize(28, ' ');
        return "  " + text;
    };
    char figures[160];
    std::snprintf(figures, sizeof figures, " %10s %10s %12s %12s  %s\n", "server n", "client n",
                  "server p95", "client p95", "agree");
    out += route_column("route") + figures;
    for (const auto& r : rows) {
        std::snprintf(figures, sizeof figures, " %10.0f %10llu %10.2fms %10.2fms  %s\n",
                      r.server_count, static_cast<unsigned long long>(r.client_count),
                      r.server_p95_ms, r.client_p95_ms,
                      r.counts_agree && r.p95_agrees ? "yes"
                      : !r.counts_agree              ? "NO (count)"
                                                     : "NO (p95)");
        out += route_column(r.method + " " + r.route) + figures;
    }
    if (rows.empty()) out += "  (no route counted a request between the two scrapes)\n";
    return out;
}

}  // namespace sidelight::loadtest
