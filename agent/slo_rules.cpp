// The SLO rule generator: PromQL text built from the config, emitted as YAML with yaml-cpp.
#include "agent/slo_rules.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

#include "routes/route_template.hpp"

namespace sidelight::agent {
namespace {

// The look-backs the alerts read; the SLO's own window is recorded too.
constexpr std::array<std::string_view, 7> sli_windows{"5m", "30m", "1h", "2h", "6h", "1d", "3d"};

std::string number(double value, int digits = 12) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    return buffer;
}

// A PromQL double-quoted string's body.
std::string quoted(std::string_view value) {
    std::string out = "\"";
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        out += c == '\n' ? 'n' : c;
    }
    return out + "\"";
}

// `le` as prometheus-cpp writes it ("500", "2.5"), and as Prometheus 3 rewrites integer bounds
// on ingestion ("500.0"): the regex takes both.
std::string le_matcher(double bound) {
    std::string text = number(bound, 17);
    std::string regex;
    for (char c : text) regex += c == '.' ? std::string("\\\\.") : std::string(1, c);
    if (std::floor(bound) == bound) regex += "(\\\\.0)?";
    return "le=~\"" + regex + "\"";
}

std::string route_label(const config::slo_spec& slo) {
    return routes::parse_template(slo.path_template, slo.route_mark, "route").label;
}

// The series of this SLO's route and method, of this sidelight (its const labels, and its
// ingress listener when egress listeners share the families).
std::string selector(const config::config& cfg, const config::slo_spec& slo,
                     std::string_view extra = {}) {
    std::string out = "{";
    for (const auto& [name, value] : cfg.metrics.const_labels)
        out += name + "=" + quoted(value) + ",";
    if (!cfg.egress.empty()) out += "listener=\"ingress\",";
    out += "method=" + quoted(slo.method) + ",route=" + quoted(route_label(slo));
    if (!extra.empty()) out.append(",").append(extra);
    return out + "}";
}

std::string error_ratio(const config::config& cfg, const config::slo_spec& slo,
                        std::string_view range) {
    const auto rate = [&](const std::string& metric, std::string_view extra = {}) {
        return "sum(rate(" + cfg.metrics.prefix + metric + selector(cfg, slo, extra) + "[" +
               std::string(range) + "]))";
    };
    if (slo.is_latency()) {
        const auto bound = le_matcher(static_cast<double>(slo.latency->count()));
        return "1 - (\n  " + rate("api_latency_ms_bucket", bound) + "\n  /\n  " +
               rate("api_latency_ms_count") + "\n)";
    }
    return "(\n  " + rate("api_requests_total", "status_code=~\"5..\"") +
           "\n  or vector(0)\n)\n/\n" + rate("api_requests_total");
}

std::string budget(const config::slo_spec& slo) {
    return number((100 - slo.objective) / 100);
}

std::string window(const config::slo_spec& slo) {
    return std::to_string(slo.window_days) + "d";
}

// The labels every rule of the SLO puts on its series: the selector of the alerts.
std::vector<std::pair<std::string, std::string>> slo_labels(const config::config& cfg,
                                                            const config::slo_spec& slo) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : cfg.metrics.const_labels)
        if (name != "slo" && name != "severity") out.emplace_back(name, value);
    out.emplace_back("slo", slo.name);
    out.emplace_back("route", route_label(slo));
    out.emplace_back("method", slo.method);
    return out;
}

std::string slo_selector(const config::config& cfg, const config::slo_spec& slo) {
    std::string out = "{";
    for (const auto& [name, value] : cfg.metrics.const_labels)
        if (name != "slo" && name != "severity") out += name + "=" + quoted(value) + ",";
    return out + "slo=" + quoted(slo.name) + "}";
}

void emit_labels(YAML::Emitter& out, const std::vector<std::pair<std::string, std::string>>& l) {
    out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, value] : l) out << YAML::Key << name << YAML::Value << value;
    out << YAML::EndMap;
}

void emit_record(YAML::Emitter& out, const config::config& cfg, const config::slo_spec& slo,
                 const std::string& record, const std::string& expr) {
    out << YAML::BeginMap;
    out << YAML::Key << "record" << YAML::Value << record;
    out << YAML::Key << "expr" << YAML::Value << YAML::Literal << expr;
    emit_labels(out, slo_labels(cfg, slo));
    out << YAML::EndMap;
}

std::string bad_requests(const config::slo_spec& slo) {
    if (slo.is_latency()) return "slower than " + std::to_string(slo.latency->count()) + "ms";
    return "answered with a 5xx";
}

void emit_alert(YAML::Emitter& out, const config::config& cfg, const config::slo_spec& slo,
                const burn_alert& a, const slo_rules_options& options) {
    const auto threshold = "(" + number(a.burn_rate) + " * " + budget(slo) + ")";
    const auto ratio = [&](std::string_view w) {
        return "slo:sli_error:ratio_rate" + std::string(w) + slo_selector(cfg, slo) + " > " +
               threshold;
    };
    const auto route = slo.method + " " + route_label(slo);
    std::string anchor(a.name);
    for (auto& c : anchor) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out << YAML::BeginMap;
    out << YAML::Key << "alert" << YAML::Value << std::string(a.name);
    out << YAML::Key << "expr" << YAML::Value << YAML::Literal
        << ratio(a.long_window) + "\nand\n" + ratio(a.short_window);
    auto labels = slo_labels(cfg, slo);
    labels.emplace_back("severity", std::string(a.severity));
    emit_labels(out, labels);
    out << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "summary" << YAML::Value
        << slo.name + ": " + route + " is burning its error budget " + number(a.burn_rate) +
               "x too fast";
    out << YAML::Key << "description" << YAML::Value
        << "Over the last " + std::string(a.long_window) + " and " + std::string(a.short_window) +
               " more than " + number(a.burn_rate * (100 - slo.objective), 6) + "% of " + route +
               " requests were " + bad_requests(slo) + " (objective " + number(slo.objective) +
               "% over " + window(slo) + "); at this rate the " + window(slo) +
               " error budget lasts " +
               number(static_cast<double>(slo.window_days) / a.burn_rate, 3) + " days.";
    out << YAML::Key << "runbook_url" << YAML::Value << options.runbook_base + "#" + anchor;
    out << YAML::EndMap << YAML::EndMap;
}

// The alert compares an error ratio, at most 1, with burn_rate x (1 - objective): from 1 up it
// could never fire, and a rule that can never fire reads as protection that is not there.
bool can_fire(const config::slo_spec& slo, const burn_alert& a) {
    return a.burn_rate * (100 - slo.objective) / 100 < 1;
}

std::string left_out(const config::slo_spec& slo, const burn_alert& a) {
    return std::string(a.name) + " left out: it would fire above " + number(a.burn_rate) + " x " +
           number(100 - slo.objective) + "% = " + number(a.burn_rate * (100 - slo.objective), 6) +
           "% bad requests, which cannot happen (objective " + number(slo.objective) + "%)";
}

void emit_group(YAML::Emitter& out, const config::config& cfg, const config::slo_spec& slo,
                const slo_rules_options& options) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << "sidelight-slo-" + slo.name;
    out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (auto w : sli_windows)
        emit_record(out, cfg, slo, "slo:sli_error:ratio_rate" + std::string(w),
                    error_ratio(cfg, slo, w));
    const auto full = "slo:sli_error:ratio_rate" + window(slo);
    emit_record(out, cfg, slo, full, error_ratio(cfg, slo, window(slo)));
    emit_record(out, cfg, slo, "slo:error_budget:remaining",
                "1 - " + full + slo_selector(cfg, slo) + " / " + budget(slo));
    for (const auto& a : burn_alerts())
        if (can_fire(slo, a)) emit_alert(out, cfg, slo, a, options);  // the header says why not
    out << YAML::EndSeq << YAML::EndMap;
}

void emit_groups(YAML::Emitter& out, const config::config& cfg, const slo_rules_options& options) {
    out << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
    for (const auto& slo : cfg.slos) emit_group(out, cfg, slo, options);
    out << YAML::EndSeq;
}

// A Kubernetes object name (DNS-1123): the `service` const label when it makes one.
std::string object_name(const config::config& cfg) {
    std::string base = "sidelight";
    if (auto it = cfg.metrics.const_labels.find("service"); it != cfg.metrics.const_labels.end()) {
        std::string name;
        for (char c : it->second) {
            const auto u = static_cast<unsigned char>(c);
            name += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
        }
        const auto first = name.find_first_not_of('-');
        if (first != std::string::npos && name.size() <= 200)
            base = name.substr(first, name.find_last_not_of('-') - first + 1);
    }
    return base + "-slos";
}

void emit_crd(YAML::Emitter& out, const config::config& cfg, const slo_rules_options& options) {
    out << YAML::Key << "apiVersion" << YAML::Value << "monitoring.coreos.com/v1";
    out << YAML::Key << "kind" << YAML::Value << "PrometheusRule";
    out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << object_name(cfg);
    out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "app.kubernetes.io/managed-by" << YAML::Value << "sidelight";
    out << YAML::EndMap << YAML::EndMap;
    out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    emit_groups(out, cfg, options);
    out << YAML::EndMap;
}

}  // namespace

const std::array<burn_alert, 4>& burn_alerts() {
    static constexpr std::array<burn_alert, 4> alerts{{
        {"SLOErrorBudgetBurn1h", 14.4, "1h", "5m", "page"},
        {"SLOErrorBudgetBurn6h", 6, "6h", "30m", "page"},
        {"SLOErrorBudgetBurn1d", 3, "1d", "2h", "ticket"},
        {"SLOErrorBudgetBurn3d", 1, "3d", "6h", "ticket"},
    }};
    return alerts;
}

std::vector<std::string> slo_rules_warnings(const config::config& cfg) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < cfg.slos.size(); ++i)
        for (const auto& a : burn_alerts())
            if (!can_fire(cfg.slos[i], a))
                out.push_back("slos[" + std::to_string(i) + "] (" + cfg.slos[i].name +
                              "): " + left_out(cfg.slos[i], a));
    return out;
}

std::string slo_rules(const config::config& cfg, const slo_rules_options& options) {
    std::ostringstream text;
    text << "# Generated by `sidelight slo rules` from " << (cfg.file.empty() ? "-" : cfg.file)
         << ": edit the slos there, not this file (docs/SLO.md).\n";
    for (const auto& w : slo_rules_warnings(cfg)) text << "# " << w << "\n";
    YAML::Emitter out(text);
    out << YAML::BeginMap;
    if (options.crd)
        emit_crd(out, cfg, options);
    else
        emit_groups(out, cfg, options);
    out << YAML::EndMap;
    text << "\n";
    return text.str();
}

}  // namespace sidelight::agent
