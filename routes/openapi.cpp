#include "routes/openapi.hpp"

#include <array>
#include <cctype>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "config/load.hpp"
#include "routes/route_template.hpp"

namespace sidelight::routes {

namespace {

const std::string key_path = "routes.openapi";

constexpr std::array<std::string_view, 8> operations{"get",     "put",  "post",  "delete",
                                                     "options", "head", "patch", "trace"};

config::source_mark mark_of(const config::source_file& file, const YAML::Mark& m) {
    if (m.is_null()) return {file, 0, 0};
    return {file, m.line + 1, m.column + 1};
}

[[noreturn]] void fail(const std::string& file, const YAML::Mark& m, const std::string& why) {
    throw config::config_error(mark_of(file, m), key_path, why);
}

YAML::Node load(const std::string& file) {
    try {
        return YAML::LoadFile(file);
    } catch (const YAML::BadFile&) {
        throw config::config_error({file, 0, 0}, key_path, "cannot read the OpenAPI file");
    } catch (const YAML::ParserException& e) {
        fail(file, e.mark, "not valid YAML or JSON: " + e.msg);
    }
}

std::string scalar(const YAML::Node& node) {
    return node && node.IsScalar() ? node.Scalar() : std::string{};
}

// "{basePath}" and friends replaced by the variable's default (OpenAPI 3 server object).
std::string substitute(const std::string& file, const YAML::Node& server, std::string url) {
    const YAML::Node& vars = server["variables"];
    std::size_t open = 0;
    while ((open = url.find('{', open)) != std::string::npos) {
        const auto close = url.find('}', open);
        if (close == std::string::npos) fail(file, server.Mark(), "unbalanced '{' in server url");
        const std::string name = url.substr(open + 1, close - open - 1);
        const std::string value =
            vars && vars.IsMap() && vars[name] ? scalar(vars[name]["default"]) : std::string{};
        if (value.empty() && !(vars && vars[name])) {
            fail(file, server.Mark(), "server url variable '" + name + "' has no default");
        }
        url.replace(open, close - open + 1, value);
        open += value.size();
    }
    return url;
}

// The path part of a server url or basePath, without a trailing '/' ("" for the root).
std::string path_part(std::string url) {
    if (const auto scheme = url.find("://"); scheme != std::string::npos) {
        const auto slash = url.find('/', scheme + 3);
        url = slash == std::string::npos ? std::string{} : url.substr(slash);
    }
    if (const auto end = url.find_first_of("?#"); end != std::string::npos) url.resize(end);
    while (url.rfind("./", 0) == 0) url.erase(0, 2);
    if (url == ".") url.clear();
    if (!url.empty() && url.front() != '/') url.insert(url.begin(), '/');
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string base_path(const std::string& file, const YAML::Node& root, bool v3) {
    if (!v3) return path_part(scalar(root["basePath"]));
    const YAML::Node& servers = root["servers"];
    if (!servers || !servers.IsSequence() || servers.size() == 0) return {};
    const YAML::Node& first = servers[0];
    if (!first.IsMap()) fail(file, first.Mark(), "servers[0] must be a mapping");
    return path_part(substitute(file, first, scalar(first["url"])));
}

bool is_v3(const std::string& file, const YAML::Node& root) {
    if (!root.IsMap()) fail(file, root.Mark(), "not an OpenAPI document (expected a mapping)");
    const std::string openapi = scalar(root["openapi"]);
    if (openapi.rfind("3.", 0) == 0) return true;
    if (scalar(root["swagger"]) == "2.0") return false;
    fail(file, root.Mark(),
         "not an OpenAPI 3 or Swagger 2 document (no 'openapi: 3.x' or 'swagger: \"2.0\"')");
}

// `file` is shared by the marks of every operation.
void add_operations(const config::source_file& file, const std::string& path_template,
                    const YAML::Node& item, std::vector<config::route_spec>& out) {
    for (auto op = item.begin(); op != item.end(); ++op) {
        const std::string key = op->first.Scalar();
        std::string method;
        for (const auto candidate : operations) {
            if (key == candidate) method = std::string(candidate);
        }
        if (method.empty()) continue;  // parameters, summary, servers, $ref, x-...
        const YAML::Node operation = op->second;
        if (!operation.IsMap()) fail(file, op->first.Mark(), "operation must be a mapping");
        for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        config::route_spec spec{path_template,
                                {method},
                                scalar(operation["operationId"]),
                                mark_of(file, op->first.Mark())};
        parse_template(spec.path_template, spec.mark, key_path);  // validates, throws
        out.push_back(std::move(spec));
    }
}

}  // namespace

std::vector<config::route_spec> import_openapi(const std::string& file) {
    const YAML::Node root = load(file);
    const bool v3 = is_v3(file, root);
    const std::string base = base_path(file, root, v3);
    const YAML::Node& paths = root["paths"];
    if (!paths || !paths.IsMap()) fail(file, root.Mark(), "no 'paths' mapping");

    std::vector<config::route_spec> out;
    const config::source_file shared_file(file);
    for (auto it = paths.begin(); it != paths.end(); ++it) {
        const std::string path = it->first.Scalar();
        if (path.rfind("x-", 0) == 0) continue;
        if (path.empty() || path.front() != '/') {
            fail(file, it->first.Mark(), "path '" + path + "' must start with '/'");
        }
        if (!it->second.IsMap()) continue;  // null or a bare reference: nothing to route
        add_operations(shared_file, base + path, it->second, out);
    }
    return out;
}

}  // namespace sidelight::routes
