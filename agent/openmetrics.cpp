#include "agent/openmetrics.hpp"

#include <charconv>
#include <cmath>

namespace sidelight::agent {
namespace {

void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        char buf[64];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, end);
    }
}

// Label values: backslash, double quote and newline escaped.
void append_escaped(std::string& out, const std::string& text) {
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

void append_labels(std::string& out, const std::vector<prometheus::ClientMetric::Label>& labels,
                   const char* extra_name = nullptr, double extra_value = 0) {
    if (labels.empty() && !extra_name) return;
    out += '{';
    bool first = true;
    for (const auto& l : labels) {
        if (!first) out += ',';
        first = false;
        out += l.name;
        out += "=\"";
        append_escaped(out, l.value);
        out += '"';
    }
    if (extra_name) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        append_number(out, extra_value);
        out += '"';
    }
    out += '}';
}

void sample(std::string& out, const std::string& name, const char* suffix,
            const prometheus::ClientMetric& m, double value, const char* extra_name = nullptr,
            double extra_value = 0) {
    out += name;
    out += suffix;
    append_labels(out, m.label, extra_name, extra_value);
    out += ' ';
    append_number(out, value);
}

}  // namespace

std::string serialize_openmetrics(const std::vector<prometheus::MetricFamily>& families,
                                  const exemplar_lookup& exemplars) {
    std::string out;
    out.reserve(64 * 1024);
    for (const auto& f : families) {
        std::string family = f.name;
        const char* type = "unknown";
        switch (f.type) {
            case prometheus::MetricType::Counter:
                if (f.name.size() > 6 && f.name.ends_with("_total")) {
                    family = f.name.substr(0, f.name.size() - 6);
                    type = "counter";
                }
                break;
            case prometheus::MetricType::Gauge:
                type = "gauge";
                break;
            case prometheus::MetricType::Histogram:
                type = "histogram";
                break;
            case prometheus::MetricType::Summary:
                type = "summary";
                break;
            case prometheus::MetricType::Untyped:
                break;
        }
        out += "# TYPE " + family + " " + type + "\n";
        if (!f.help.empty()) {
            out += "# HELP " + family + " ";
            append_escaped(out, f.help);
            out += '\n';
        }
        for (const auto& m : f.metric) {
            switch (f.type) {
                case prometheus::MetricType::Counter:
                    sample(out, f.name, "", m, m.counter.value);
                    out += '\n';
                    break;
                case prometheus::MetricType::Gauge:
                    sample(out, f.name, "", m, m.gauge.value);
                    out += '\n';
                    break;
                case prometheus::MetricType::Untyped:
                    sample(out, f.name, "", m, m.untyped.value);
                    out += '\n';
                    break;
                case prometheus::MetricType::Summary:
                    for (const auto& q : m.summary.quantile) {
                        sample(out, f.name, "", m, q.value, "quantile", q.quantile);
                        out += '\n';
                    }
                    sample(out, f.name, "_sum", m, m.summary.sample_sum);
                    out += '\n';
                    sample(out, f.name, "_count", m, static_cast<double>(m.summary.sample_count));
                    out += '\n';
                    break;
                case prometheus::MetricType::Histogram: {
                    const auto ex =
                        exemplars ? exemplars(f, m) : std::vector<std::optional<exemplar>>{};
                    for (std::size_t i = 0; i < m.histogram.bucket.size(); ++i) {
                        const auto& b = m.histogram.bucket[i];
                        sample(out, f.name, "_bucket", m, static_cast<double>(b.cumulative_count),
                               "le", b.upper_bound);
                        if (i < ex.size() && ex[i]) {
                            out += " # {trace_id=\"";
                            util::append_hex(out, ex[i]->trace.data(), ex[i]->trace.size());
                            out += "\"} ";
                            append_number(out, ex[i]->value);
                            out += ' ';
                            append_number(out, ex[i]->timestamp);
                        }
                        out += '\n';
                    }
                    sample(out, f.name, "_count", m, static_cast<double>(m.histogram.sample_count));
                    out += '\n';
                    sample(out, f.name, "_sum", m, m.histogram.sample_sum);
                    out += '\n';
                    break;
                }
            }
        }
    }
    out += "# EOF\n";
    return out;
}

}  // namespace sidelight::agent
