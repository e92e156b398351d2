// Compiles route specs into a route_table: parse and validate every template, resolve
// duplicates and explicit-over-imported overrides, build the trie, then number the routes in
// precedence order.

#include "proxy/route_table.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "config/load.hpp"

namespace sidelight::proxy {

namespace {

constexpr std::size_t slot_count = standard_method_count + 1;

struct pending {
    const config::route_spec* spec = nullptr;
    parsed_template tpl;
    std::array<bool, slot_count> slots{};  // methods, then "any"
    std::string key_path;
    bool imported = false;
    bool dropped = false;
};

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string slot_text(std::size_t slot) {
    return slot == slot_count - 1 ? std::string("any method")
                                  : std::string(method_label(static_cast<http_method>(slot)));
}

std::string where(const config::source_mark& first, const config::source_mark& second) {
    if (first.file == second.file) return "line " + std::to_string(first.line);
    return first.file + ":" + std::to_string(first.line);
}

pending parse_spec(const config::route_spec& spec, std::string key_path, bool imported) {
    pending p{
        &spec, parse_template(spec.path_template, spec.mark, key_path), {}, key_path, imported};
    if (spec.methods.empty()) p.slots[slot_count - 1] = true;
    for (const auto& m : spec.methods) {
        const auto method = parse_method(m);
        if (method == http_method::other) {
            throw config::config_error(spec.mark, key_path,
                                       "unknown method '" + m +
                                           "' (use GET, HEAD, POST, PUT, DELETE, CONNECT, "
                                           "OPTIONS, TRACE or PATCH, upper case)");
        }
        p.slots[static_cast<std::size_t>(method)] = true;
    }
    return p;
}

[[noreturn]] void conflict(const pending& first, const pending& second, std::size_t slot) {
    const bool same = first.tpl.label == second.tpl.label;
    std::string message = (same ? "duplicate route '" : "ambiguous route '") + slot_text(slot) +
                          " " + second.tpl.label + "': ";
    message += same ? "already defined at " + where(first.spec->mark, second.spec->mark)
                    : "matches the same paths as '" + first.tpl.label + "' defined at " +
                          where(first.spec->mark, second.spec->mark);
    throw config::config_error(second.spec->mark, second.key_path, message);
}

// Explicit entries first (conflicts among them are errors), then imported ones, which yield
// to explicit entries and conflict only among themselves.
void resolve(std::vector<pending>& all) {
    std::unordered_map<std::string, std::array<int, slot_count>> owners;
    for (const bool imported : {false, true}) {
        for (std::size_t i = 0; i < all.size(); ++i) {
            auto& p = all[i];
            if (p.imported != imported) continue;
            auto [it, fresh] = owners.try_emplace(p.tpl.shape);
            if (fresh) it->second.fill(-1);
            for (std::size_t s = 0; s < slot_count; ++s) {
                if (!p.slots[s]) continue;
                const int owner = it->second[s];
                if (owner < 0) {
                    it->second[s] = static_cast<int>(i);
                } else if (imported && !all[owner].imported) {
                    p.slots[s] = false;
                } else {
                    conflict(all[owner], p, s);
                }
            }
            p.dropped = std::none_of(p.slots.begin(), p.slots.end(), [](bool b) { return b; });
        }
    }
}

}  // namespace

class route_table_builder {
  public:
    using node = route_table::node;

    explicit route_table_builder(route_table& table) : t_(table) { t_.nodes_.emplace_back(); }

    void insert(const pending& p, route_id temp) {
        std::uint32_t at = 0;
        for (const auto& seg : p.tpl.segments) {
            if (seg.type == template_segment::kind::catch_all) {
                return fill(t_.nodes_[at].catch_all, p, temp);
            }
            at = seg.type == template_segment::kind::param ? param_child(at)
                                                           : literal_child(at, seg.text);
        }
        fill(t_.nodes_[at].here, p, temp);
    }

    // Renumbers the temporary ids in precedence order and fills entries_.
    void finish(const std::vector<pending>& all, const std::vector<std::size_t>& temp_to_pending) {
        std::vector<route_id> order;
        visit(0, order);
        std::vector<route_id> final_id(temp_to_pending.size() + 1, unmatched_route);
        for (const route_id temp : order) {
            const auto& p = all[temp_to_pending[temp - 1]];
            const auto id = static_cast<route_id>(t_.entries_.size() + 1);
            final_id[temp] = id;
            route_entry e{id,           p.tpl.label, {}, p.spec->name, p.tpl.param_names,
                          p.spec->mark, p.imported};
            for (std::size_t s = 0; s + 1 < slot_count; ++s) {
                if (p.slots[s]) e.methods.push_back(static_cast<http_method>(s));
            }
            t_.entries_.push_back(std::move(e));
        }
        for (auto& n : t_.nodes_) {
            for (auto& id : n.here) id = final_id[id];
            for (auto& id : n.catch_all) id = final_id[id];
        }
    }

  private:
    static void fill(node::slots& slots, const pending& p, route_id temp) {
        for (std::size_t s = 0; s < slot_count; ++s) {
            if (p.slots[s]) slots[s] = temp;
        }
    }

    std::uint32_t param_child(std::uint32_t at) {
        if (t_.nodes_[at].param == node::none) {
            t_.nodes_[at].param = static_cast<std::uint32_t>(t_.nodes_.size());
            t_.nodes_.emplace_back();
        }
        return t_.nodes_[at].param;
    }

    std::uint32_t literal_child(std::uint32_t at, const std::string& text) {
        auto& lits = t_.nodes_[at].literals;
        auto it = std::lower_bound(lits.begin(), lits.end(), text,
                                   [](const auto& e, const std::string& s) { return e.first < s; });
        if (it != lits.end() && it->first == text) return it->second;
        const auto child = static_cast<std::uint32_t>(t_.nodes_.size());
        lits.insert(it, {text, child});
        t_.nodes_.emplace_back();  // invalidates `lits`, no longer used
        return child;
    }

    static void collect(const node::slots& slots, std::vector<route_id>& order) {
        for (const route_id id : slots) {
            if (id != unmatched_route && std::find(order.begin(), order.end(), id) == order.end()) {
                order.push_back(id);
            }
        }
    }

    void visit(std::uint32_t at, std::vector<route_id>& order) {
        collect(t_.nodes_[at].here, order);
        for (std::size_t i = 0; i < t_.nodes_[at].literals.size(); ++i) {
            visit(t_.nodes_[at].literals[i].second, order);
        }
        if (t_.nodes_[at].param != node::none) visit(t_.nodes_[at].param, order);
        collect(t_.nodes_[at].catch_all, order);
    }

    route_table& t_;
};

std::shared_ptr<const route_table> route_table::build(
    const std::vector<config::route_spec>& imported,
    const std::vector<config::route_spec>& explicit_entries) {
    std::vector<pending> all;
    all.reserve(imported.size() + explicit_entries.size());
    for (const auto& spec : imported) {
        const std::string key = "paths." + spec.path_template + "." +
                                lower(spec.methods.empty() ? "" : spec.methods.front());
        all.push_back(parse_spec(spec, key, true));
    }
    for (std::size_t i = 0; i < explicit_entries.size(); ++i) {
        all.push_back(
            parse_spec(explicit_entries[i], "routes.entries[" + std::to_string(i) + "]", false));
    }
    resolve(all);

    std::shared_ptr<route_table> table(new route_table);
    route_table_builder builder(*table);
    std::vector<std::size_t> temp_to_pending;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].dropped) continue;
        temp_to_pending.push_back(i);
        builder.insert(all[i], static_cast<route_id>(temp_to_pending.size()));
    }
    builder.finish(all, temp_to_pending);
    return table;
}

}  // namespace sidelight::proxy
