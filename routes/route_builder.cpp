// Compiles route specs into a route_table: parse and validate every template (folding the case
// of literals unless routes.case_sensitive), resolve
// duplicates and explicit-over-imported overrides, build the trie, then number the routes in
// precedence order.

#include "routes/route_table.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "config/load.hpp"

namespace sidelight::routes {

namespace {

constexpr std::size_t slot_count = standard_method_count + 1;

struct pending {
    const config::route_spec* spec = nullptr;
    parsed_template tpl;
    std::array<bool, slot_count> slots{};  // methods, then "any"
    std::size_t index = 0;                 // in routes.entries (explicit entries only)
    bool imported = false;
    bool dropped = false;
};

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
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

// Built only for an error message: a key path kept per route cost an allocation per route.
std::string key_path_of(const config::route_spec& spec, std::size_t index, bool imported) {
    if (!imported) return "routes.entries[" + std::to_string(index) + "]";
    return "paths." + spec.path_template + "." +
           lower(spec.methods.empty() ? "" : spec.methods.front());
}

std::string key_path_of(const pending& p) {
    return key_path_of(*p.spec, p.index, p.imported);
}

// Case-insensitive tables store literals lower case; the shape follows, so that templates
// differing only in case are found to be one route. The label keeps the configured case.
void fold_case(parsed_template& tpl) {
    for (auto& seg : tpl.segments)
        if (seg.type == template_segment::kind::literal) seg.text = lower(seg.text);
    tpl.shape = lower(tpl.shape);
}

pending parse_spec(const config::route_spec& spec, std::size_t index, bool imported,
                   bool case_sensitive) {
    const std::string key_path = key_path_of(spec, index, imported);
    pending p{&spec, parse_template(spec.path_template, spec.mark, key_path), {}, index, imported};
    if (!case_sensitive) fold_case(p.tpl);
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
    throw config::config_error(second.spec->mark, key_path_of(second), message);
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

    // Frees what only resolve() and insert() needed: every route's pending entry is alive until
    // finish(), so what it holds counts at the peak.
    void insert(pending& p, route_id temp) {
        std::uint32_t at = 0;
        bool catch_all = false;
        for (const auto& seg : p.tpl.segments) {
            catch_all = seg.type == template_segment::kind::catch_all;
            if (catch_all) break;
            at = seg.type == template_segment::kind::param ? param_child(at)
                                                           : literal_child(at, seg.text);
        }
        fill(catch_all ? t_.nodes_[at].catch_all : t_.nodes_[at].here, p, temp);
        p.tpl.segments = {};
        p.tpl.shape = {};
    }

    // Renumbers the temporary ids in precedence order and fills entries_.
    // Labels and parameter names move from `all` into the entries.
    void finish(std::vector<pending>& all, const std::vector<std::size_t>& temp_to_pending) {
        sort_literals();
        std::vector<route_id> order;
        visit(order, temp_to_pending.size());
        std::vector<route_id> final_id(temp_to_pending.size() + 1, unmatched_route);
        t_.entries_.reserve(order.size());
        for (const route_id temp : order) {
            auto& p = all[temp_to_pending[temp - 1]];
            const auto id = static_cast<route_id>(t_.entries_.size() + 1);
            final_id[temp] = id;
            route_entry e{id,           std::move(p.tpl.label),       {},
                          p.spec->name, std::move(p.tpl.param_names), p.spec->mark,
                          p.imported};
            for (std::size_t s = 0; s + 1 < slot_count; ++s) {
                if (p.slots[s]) e.methods.push_back(static_cast<http_method>(s));
            }
            t_.entries_.push_back(std::move(e));
        }
        for (auto& slots : t_.slots_) {
            for (auto& id : slots) id = final_id[id];
        }
        t_.nodes_.shrink_to_fit();
    }

  private:
    void fill(std::uint32_t& slots_index, const pending& p, route_id temp) {
        if (slots_index == node::none) {
            slots_index = static_cast<std::uint32_t>(t_.slots_.size());
            t_.slots_.emplace_back();
        }
        auto& slots = t_.slots_[slots_index];
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

    // Children are appended unsorted and found through `children_`: inserting each literal in
    // sorted place made a node with k literals cost O(k^2) (100k sibling routes took seconds).
    // sort_literals() puts every node in the order match() searches, once, at the end.
    std::uint32_t literal_child(std::uint32_t at, const std::string& text) {
        std::string key(reinterpret_cast<const char*>(&at), sizeof at);
        key += text;
        const auto [it, fresh] =
            children_.try_emplace(std::move(key), static_cast<std::uint32_t>(t_.nodes_.size()));
        if (!fresh) return it->second;
        t_.nodes_[at].literals.emplace_back(text, it->second);
        t_.nodes_.emplace_back();
        return it->second;
    }

    void sort_literals() {
        children_ = {};
        for (auto& n : t_.nodes_) {
            std::sort(n.literals.begin(), n.literals.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
        }
    }

    // `seen` is indexed by temporary id: a route listed under several slots (GET,PUT) is
    // numbered once, in constant time (a search of `order` made the numbering quadratic).
    void collect(std::uint32_t slots_index, std::vector<route_id>& order,
                 std::vector<bool>& seen) const {
        if (slots_index == node::none) return;
        for (const route_id id : t_.slots_[slots_index]) {
            if (id != unmatched_route && !seen[id]) {
                seen[id] = true;
                order.push_back(id);
            }
        }
    }

    // Precedence order: depth first, literals (sorted) before the parameter before catch-alls.
    // An explicit stack: a 256-segment template must not recurse 256 frames deep per level.
    void visit(std::vector<route_id>& order, std::size_t route_count) {
        std::vector<bool> seen(route_count + 1, false);
        struct frame {
            std::uint32_t at;
            std::size_t next;  // next literal to descend into; literals.size(): the param
            bool param_done;
        };
        std::vector<frame> stack{{0, 0, false}};
        collect(t_.nodes_[0].here, order, seen);
        while (!stack.empty()) {
            frame& f = stack.back();
            const node& n = t_.nodes_[f.at];
            std::uint32_t child = node::none;
            if (f.next < n.literals.size()) {
                child = n.literals[f.next++].second;
            } else if (!f.param_done) {
                f.param_done = true;
                child = n.param;
            }
            if (child != node::none) {
                collect(t_.nodes_[child].here, order, seen);
                stack.push_back({child, 0, false});
            } else if (f.next >= n.literals.size() && f.param_done) {
                collect(n.catch_all, order, seen);
                stack.pop_back();
            }
        }
    }

    route_table& t_;
    std::unordered_map<std::string, std::uint32_t> children_;  // parent index + segment -> child
};

std::shared_ptr<const route_table> route_table::build(
    const std::vector<config::route_spec>& imported,
    const std::vector<config::route_spec>& explicit_entries, bool case_sensitive) {
    std::vector<pending> all;
    all.reserve(imported.size() + explicit_entries.size());
    for (std::size_t i = 0; i < imported.size(); ++i)
        all.push_back(parse_spec(imported[i], i, true, case_sensitive));
    for (std::size_t i = 0; i < explicit_entries.size(); ++i)
        all.push_back(parse_spec(explicit_entries[i], i, false, case_sensitive));
    resolve(all);

    std::shared_ptr<route_table> table(new route_table);
    table->case_sensitive_ = case_sensitive;
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

}  // namespace sidelight::routes
