// `sidelight routes` output: the compiled table and single-match explanations.

#include "routes/route_table.hpp"

#include "routes/routing.hpp"

#include <algorithm>

namespace sidelight::routes {

namespace {

std::string methods_text(method_set methods) {
    if (methods.empty()) return "*";
    std::string out;
    for (std::size_t i = 0; i < standard_method_count; ++i) {
        const auto m = static_cast<http_method>(i);
        if (!methods.contains(m)) continue;
        if (!out.empty()) out += ',';
        out += method_label(m);
    }
    return out;
}

std::string source_text(const config::source_mark& mark) {
    if (mark.file.empty() && mark.line == 0) return "-";
    return mark.file.str() + ":" + std::to_string(mark.line);
}

void pad(std::string& line, std::size_t width) {
    line.append(width > line.size() ? width - line.size() : 0, ' ');
}

}  // namespace

std::string describe(const route_table& table) {
    std::size_t method_w = 0;
    std::size_t label_w = 0;
    std::size_t name_w = 0;
    for (const auto& e : table.entries()) {
        method_w = std::max(method_w, methods_text(e.methods).size());
        label_w = std::max(label_w, e.label.size());
        name_w = std::max(name_w, std::max<std::size_t>(e.name.size(), 1));
    }
    std::string out;
    for (const auto& e : table.entries()) {
        std::string line = methods_text(e.methods);
        pad(line, method_w + 2);
        line += e.label;
        pad(line, method_w + 2 + label_w + 2);
        line += e.name.empty() ? "-" : e.name;
        pad(line, method_w + 2 + label_w + 2 + name_w + 2);
        line += source_text(table.mark(e));
        out += line + '\n';
    }
    return out;
}

std::string describe_match(const route_table& table, http_method method, std::string_view target) {
    param_list params;
    const route_id id = table.match(method, target, &params);
    std::string out = std::string(method_label(method)) + " " + std::string(target) + " -> ";
    if (id == unmatched_route) return out + std::string(unmatched_label);
    const auto& e = table.entries()[id - 1];
    out += methods_text(e.methods) + " " + e.label;
    for (std::size_t i = 0; i < params.size(); ++i) {
        // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on chained operator+.
        out += ' ';
        out += params.name(i);
        out += '=';
        out += params.value(i);
    }
    if (params.truncated()) out += " (parameters truncated)";
    return out + " (" + (e.name.empty() ? "-" : e.name) + ", " + source_text(table.mark(e)) + ")";
}

std::string describe(const routing& routes) {
    std::string out = describe(routes.table());
    if (routes.normalizes())
        out += "(other paths: normalized, id-like segments as {id}; routes.unmatched: normalize)\n";
    return out;
}

std::string describe_match(const routing& routes, http_method method, std::string_view target) {
    if (!routes.normalizes() || routes.table().match(method, target) != unmatched_route)
        return describe_match(routes.table(), method, target);
    const auto normalized = unmatched_normalizer::to_template(target);
    return std::string(method_label(method)) + " " + std::string(target) + " -> " +
           (normalized ? *normalized + " (normalized)" : std::string(unmatched_label));
}

}  // namespace sidelight::routes
