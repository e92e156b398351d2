// The `routes` section: a list of entries, or {openapi, unmatched, max_routes, case_sensitive,
// entries}.
#include <cctype>

#include "config/yaml_walk.hpp"

namespace sidelight::config::detail {
namespace {

std::string trim(std::string_view text) {
    auto begin = text.find_first_not_of(" \t");
    if (begin == std::string_view::npos) return {};
    auto end = text.find_last_not_of(" \t");
    return std::string(text.substr(begin, end - begin + 1));
}

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

// "GET,PUT" or "GET, PUT" -> {"GET", "PUT"}; fails on an empty item or a non-token.
std::vector<std::string> split_methods(const node_ref& n, std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string method = upper(trim(text.substr(start, comma - start)));
        if (!is_http_token(method))
            n.fail("expected HTTP methods like GET or GET,PUT, got \"" + std::string(text) + "\"");
        out.push_back(method);
        start = comma + 1;
    }
    return out;
}

void check_template(const node_ref& n, const std::string& path_template) {
    if (path_template.empty() || path_template.front() != '/')
        n.fail("expected a path template starting with /, got \"" + path_template + "\"");
    if (path_template.find_first_of(" \t") != std::string::npos)
        n.fail("a path template must not contain spaces, got \"" + path_template + "\"");
}

// "GET /a/{id}", "GET,PUT /a" or "/a".
route_spec parse_route_string(const node_ref& n) {
    std::string text = trim(n.scalar());
    route_spec out;
    auto slash = text.find('/');
    if (slash == std::string::npos)
        n.fail("expected a route like \"GET /api/products/{id}\", got \"" + text + "\"");
    if (slash > 0) {
        if (text[slash - 1] != ' ' && text[slash - 1] != '\t')
            n.fail("expected a space between the methods and the path in \"" + text + "\"");
        out.methods = split_methods(n, trim(text.substr(0, slash)));
    }
    out.path_template = text.substr(slash);
    check_template(n, out.path_template);
    return out;
}

route_spec parse_route_map(const node_ref& n) {
    map_reader m(n, {"template", "methods", "name"});
    route_spec out;
    node_ref path = m.require("template");
    out.path_template = to_string(path);
    check_template(path, out.path_template);
    if (auto v = m.get("methods")) out.methods = parse_methods(*v);
    if (auto v = m.get("name")) out.name = to_string(*v);
    return out;
}

std::vector<route_spec> entries_of(const node_ref& n) {
    std::vector<route_spec> out(list_size(n));
    for (std::size_t i = 0; i < out.size(); ++i) {
        const node_ref item = n.item(i);
        out[i] = item.node.IsMap() ? parse_route_map(item) : parse_route_string(item);
        out[i].mark = item.mark;
    }
    return out;
}

}  // namespace

std::vector<std::string> parse_methods(const node_ref& n) {
    if (n.node.IsScalar()) return split_methods(n, n.scalar());
    std::vector<std::string> out;
    for (const auto& item : list_items(n)) {
        std::string method = upper(trim(item.scalar()));
        if (!is_http_token(method))
            item.fail("expected an HTTP method like GET, got \"" + item.scalar() + "\"");
        out.push_back(method);
    }
    return out;
}

std::vector<route_spec> parse_route_entries(const node_ref& n) {
    return entries_of(n);
}

routes_config parse_routes(const node_ref& n) {
    routes_config out;
    if (n.node.IsSequence()) {
        out.entries = entries_of(n);
        return out;
    }
    if (n.node.IsScalar())
        n.fail(
            "expected a list of routes or a map {openapi, unmatched, max_routes, case_sensitive, "
            "entries}");
    map_reader m(n, {"openapi", "unmatched", "max_routes", "case_sensitive", "entries"});
    if (auto v = m.get("openapi")) {
        out.openapi_file = to_string(*v);
        out.openapi_mark = v->mark;
    }
    if (auto v = m.get("unmatched")) {
        out.unmatched = to_choice(*v, {"label", "normalize"}) == "label"
                            ? unmatched_mode::label
                            : unmatched_mode::normalize;
    }
    if (auto v = m.get("max_routes")) out.max_routes = to_uint(*v, 1, 100'000);
    if (auto v = m.get("case_sensitive")) out.case_sensitive = to_bool(*v);
    if (auto v = m.get("entries")) out.entries = entries_of(*v);
    return out;
}

}  // namespace sidelight::config::detail
