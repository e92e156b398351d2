// `egress`: listeners for the app's own calls to outside APIs.
#include <set>

#include "config/yaml_walk.hpp"

namespace sidelight::config::detail {
namespace {

bool is_listener_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    return true;
}

egress_config parse_one(const node_ref& n) {
    map_reader m(n, {"name", "listen", "upstream", "routes", "workers"});
    egress_config out;
    out.mark = n.mark;
    const node_ref name = m.require("name");
    out.name = to_nonempty_string(name);
    if (!is_listener_name(out.name))
        name.fail("expected a name of letters, digits, _ and - (at most 32), got \"" + out.name +
                  "\"");
    if (out.name == "ingress") name.fail("\"ingress\" is the name of the proxy listener itself");
    out.listen = to_listen_address(m.require("listen"), false);
    out.upstream = parse_upstream(m.require("upstream"));
    if (auto v = m.get("routes")) out.routes = parse_route_entries(*v);
    if (auto v = m.get("workers")) out.workers = static_cast<unsigned>(to_uint(*v, 1, 64));
    return out;
}

}  // namespace

std::vector<egress_config> parse_egress(const node_ref& n) {
    std::vector<egress_config> out;
    std::set<std::string> names;
    const auto items = list_items(n);
    if (items.size() > 16) n.fail("at most 16 egress listeners");
    for (const auto& item : items) {
        out.push_back(parse_one(item));
        if (!names.insert(out.back().name).second)
            item.fail("duplicate egress name \"" + out.back().name + "\"");
    }
    return out;
}

}  // namespace sidelight::config::detail
